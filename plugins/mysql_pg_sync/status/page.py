"""Assemble the status page: read the state, build the model, render HTML (no web framework)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.quality.html_page import page
from mysql_pg_sync.settings import Endpoints, mappings_dir, reports_dir
from mysql_pg_sync.status.html import render_status
from mysql_pg_sync.status.model import StateSnapshot, TableStatus, build_status, not_synced
from mysql_pg_sync.status.read import read_snapshot

REPORTS_ROUTE = "reports"


def report_link(reports: Path) -> Any:
    """Map a stored report path to a link relative to the page, if it lies under ``reports``."""

    def href(path: Any) -> str | None:
        if not path:
            return None
        try:
            relative = Path(path).resolve().relative_to(reports.resolve())
        except ValueError:
            return None
        return f"{REPORTS_ROUTE}/{relative.as_posix()}"

    return href


def load_status(
    endpoints: Endpoints | Callable[[], Endpoints],
    mappings: MappingSet | None = None,
    reports: Path | None = None,
) -> tuple[list[TableStatus], str]:
    """The rows and the page's HTML.

    ``endpoints`` may be a resolver (the Airflow connections): one that fails renders the page
    with the reason instead of failing the request.
    """
    mappings = mappings if mappings is not None else load_mappings(mappings_dir())
    reports = reports or reports_dir()
    snapshot: StateSnapshot
    try:
        resolved = endpoints() if callable(endpoints) else endpoints
    except Exception as exc:  # a missing/invalid connection must not turn the page into a 500
        snapshot = StateSnapshot(error=f"state database unreachable: {exc}")
    else:
        snapshot = read_snapshot(resolved)
    rows = build_status(mappings.enabled(), snapshot, report_link(reports))
    rows += not_synced(mappings.tables, snapshot)
    top = [("all run reports", f"{REPORTS_ROUTE}/")]
    if (reports / "quality" / "latest.html").exists():
        top.append(("latest data-quality report", f"{REPORTS_ROUTE}/quality/latest.html"))
    if (reports / "quality" / "data_docs" / "index.html").exists():
        top.append(("Data Docs (online only)", f"{REPORTS_ROUTE}/quality/data_docs/index.html"))
    return rows, render_status(rows, snapshot, datetime.now(UTC), top)


REPORT_SUFFIXES = (".html", ".json")
MAX_LISTED_REPORTS = 200


def reports_index(reports: Path) -> str:
    """The newest run reports (backfill, reconcile, data quality) as a page of links."""
    files = (
        [
            p
            for p in reports.rglob("*")
            if p.is_file()
            and p.suffix in REPORT_SUFFIXES
            and not {"gx", "data_docs"} & set(p.relative_to(reports).parts)
        ]
        if reports.exists()
        else []
    )
    files.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    rows = "".join(
        f'<tr><td><a href="{escape(p.relative_to(reports).as_posix())}">'
        f"{escape(p.relative_to(reports).as_posix())}</a></td>"
        f"<td>{datetime.fromtimestamp(p.stat().st_mtime, UTC):%Y-%m-%d %H:%M:%S} UTC</td></tr>"
        for p in files[:MAX_LISTED_REPORTS]
    )
    body = (
        '<h1>Run reports</h1><div class="meta"><a href="../">back to Sync status</a></div>'
        f"<table><thead><tr><th>report</th><th>written</th></tr></thead><tbody>"
        f"{rows or '<tr><td colspan=2>No reports yet.</td></tr>'}</tbody></table>"
    )
    return page("Run reports", body)
