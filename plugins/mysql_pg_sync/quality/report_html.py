"""Render a data-quality run as one self-contained HTML file (see :mod:`.html_page`)."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from mysql_pg_sync.quality.html_page import badge, page
from mysql_pg_sync.quality.results import CheckResult, QualityRun, describe

# GE's templates load Bootstrap, jQuery and fonts from CDNs and it ships no local copies: the
# pages are an online extra, this report is the offline artefact.
DATA_DOCS_CAVEAT = "needs internet access: its styles and scripts come from CDNs"
_ORDER = {"failed": 0, "error": 1, "passed": 3, "skipped": 4}
_RECONCILE_CLASS = {"succeeded": "ok", "drift": "warn", "failed": "fail"}


def _row(r: CheckResult) -> str:
    return (
        f'<tr class="check" data-outcome="{r.outcome}"><td><code>{escape(r.check_id)}</code></td>'
        f"<td>{escape(r.severity)}</td><td>{badge(r.outcome)}</td>"
        f"<td><code>{escape(r.expectation)}</code></td><td>{escape(describe(r))}</td></tr>"
    )


def _table_section(run: QualityRun, table: str) -> str:
    rows = sorted(
        (r for r in run.results if r.table == table),
        key=lambda r: (_ORDER[r.outcome], r.severity != "fail", r.check_id),
    )
    outcome = run.table_outcome(table)
    body = "".join(_row(r) for r in rows)
    return (
        f'<section class="table" id="{escape(table)}"><h2>{escape(table)} {badge(outcome)}</h2>'
        "<table><thead><tr><th>check</th><th>severity</th><th>outcome</th><th>expectation</th>"
        f"<th>details</th></tr></thead><tbody>{body}</tbody></table></section>"
    )


def render_report(run: QualityRun, data_docs_href: str | None = None, note: str = "") -> str:
    """The run's page; ``note``: HTML shown under its heading (what a partial page covers)."""
    counts = run.counts()
    overall = "passed" if run.success else "failed"
    if run.success and run.breaches("warn"):
        overall = "warn"
    cards = "".join(
        f'<div class="card"><b>{n}</b>{escape(k)}</div>'
        for k, n in [
            ("tables", len(run.tables())),
            ("checks", len(run.results)),
            *counts.items(),
            ("fail-severity breaches", len(run.breaches("fail"))),
            ("warnings", len(run.breaches("warn"))),
        ]
    )
    docs = (
        f' · <a href="{escape(data_docs_href)}">Great Expectations Data Docs</a> '
        f"({DATA_DOCS_CAVEAT})"
        if data_docs_href
        else ""
    )
    trigger = ""
    if run.reconcile is not None:
        status = run.reconcile.status or "unknown"
        css = _RECONCILE_CLASS.get(status, "nodata")
        trigger = f" · after reconcile run {escape(str(run.reconcile.run_id))} {badge(status, css)}"
    body = (
        f"<h1>Data quality {badge(overall)}</h1>"
        f'<div class="meta">run <code>{escape(run.run_id)}</code> · '
        f"{run.started_at:%Y-%m-%d %H:%M:%S} – {run.finished_at:%H:%M:%S} UTC{trigger}{docs}</div>"
        + (f'<div class="meta"><b>{note}</b></div>' if note else "")
        + f'<div class="cards">{cards}</div>'
        + "".join(_table_section(run, t) for t in run.tables())
    )
    return page(f"Data quality {run.run_id}", body)


def write_report(run: QualityRun, path: Path, note: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    href = None
    if run.data_docs_index:
        href = os.path.relpath(run.data_docs_index, path.parent)
    path.write_text(render_report(run, href, note), encoding="utf-8")
    return path
