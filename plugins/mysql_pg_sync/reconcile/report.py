"""The run report: JSON for machines, one self-contained HTML page (inline CSS, no CDN)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from mysql_pg_sync.reconcile.diff import DRIFT_CLASSES

_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.in_sync,.repaired{color:#176f2c}
.drift,.repair_refused{color:#a15c00}.error{color:#b00020}code{font-size:12px}
"""


def run_status(tables: list[dict[str, Any]]) -> str:
    """``failed`` if a table errored or never finished, ``drift`` if drift is left, else
    ``succeeded``."""
    statuses = {t.get("status") for t in tables}
    # 'running' at the end of a run: its task was killed or timed out before storing a result
    if statuses & {"error", "running"}:
        return "failed"
    if statuses & {"drift", "repair_refused"}:
        return "drift"
    return "succeeded"


def to_json(run: dict[str, Any]) -> str:
    return json.dumps(run, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _examples(table: dict[str, Any]) -> str:
    parts = []
    for kind in DRIFT_CLASSES:
        keys = table.get("examples", {}).get(kind) or []
        if keys:
            shown = ", ".join(_cell("/".join(map(str, k))) for k in keys)
            parts.append(f"<b>{kind}</b>: <code>{shown}</code>")
    return "<br>".join(parts)


def to_html(run: dict[str, Any]) -> str:
    head = (
        "<tr><th>table</th><th>status</th><th>rows MySQL / PostgreSQL</th><th>segments "
        "(mismatched)</th><th>missing</th><th>extra</th><th>different</th><th>columns</th>"
        "<th>in flight</th><th>examples</th><th>repairs</th><th>seconds</th></tr>"
    )
    rows = []
    for t in run.get("tables", []):
        drift = t.get("drift", {})
        columns = ", ".join(f"{c} ({n})" for c, n in (t.get("different_columns") or {}).items())
        repairs = ", ".join(f"{k}: {v}" for k, v in (t.get("repairs") or {}).items())
        note = t.get("error") or t.get("repair_message") or ""
        status = t.get("status", "")
        rows.append(
            f"<tr><td>{_cell(t.get('table'))}<br><small>{_cell(t.get('target'))}</small></td>"
            f"<td class='{_cell(status)}'>{_cell(status)}<br><small>{_cell(note)}</small></td>"
            f"<td>{_cell(t.get('rows_mysql'))} / {_cell(t.get('rows_postgres'))}</td>"
            f"<td>{_cell(t.get('segments_compared'))} ({_cell(t.get('segments_mismatched'))})"
            f"</td><td>{_cell(drift.get('missing', 0))}</td><td>{_cell(drift.get('extra', 0))}"
            f"</td><td>{_cell(drift.get('different', 0))}</td><td>{_cell(columns)}</td>"
            f"<td>{_cell(t.get('in_flight'))}</td><td>{_examples(t)}</td>"
            f"<td>{_cell(repairs)}</td><td>{_cell(t.get('duration_s'))}</td></tr>"
        )
    title = f"Reconcile run {run.get('run_id')}: {run.get('status')}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{_cell(title)}</title>"
        f"<style>{_CSS}</style></head><body><h1>{_cell(title)}</h1>"
        f"<p>started {_cell(run.get('started_at'))}, finished {_cell(run.get('finished_at'))}"
        f"; parameters <code>{_cell(json.dumps(run.get('params', {}), sort_keys=True))}</code>"
        f"</p><table>{head}{''.join(rows)}</table>"
        "<p><small>missing: in MySQL, not in PostgreSQL; extra: in PostgreSQL only; in flight: "
        "differed at first, equal once the stream caught up.</small></p></body></html>"
    )


def write_reports(run: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``reconcile-<run>.json`` and ``.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"reconcile-{run.get('run_id')}"
    json_path, html_path = stem.with_suffix(".json"), stem.with_suffix(".html")
    json_path.write_text(to_json(run), encoding="utf-8")
    html_path.write_text(to_html(run), encoding="utf-8")
    return json_path, html_path
