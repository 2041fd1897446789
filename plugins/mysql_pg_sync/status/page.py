"""Assemble the status page: read the state, build the model, render HTML (no web framework)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.quality.run import mappings_dir, reports_dir
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.status.html import render_status
from mysql_pg_sync.status.model import TableStatus, build_status
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
    endpoints: Endpoints, mappings: MappingSet | None = None, reports: Path | None = None
) -> tuple[list[TableStatus], str]:
    """The rows and the page's HTML."""
    mappings = mappings if mappings is not None else load_mappings(mappings_dir())
    reports = reports or reports_dir()
    snapshot = read_snapshot(endpoints)
    rows = build_status(mappings.enabled(), snapshot, report_link(reports))
    top = []
    if (reports / "quality" / "latest.html").exists():
        top.append(("latest data-quality report", f"{REPORTS_ROUTE}/quality/latest.html"))
    if (reports / "quality" / "data_docs" / "index.html").exists():
        top.append(("Data Docs", f"{REPORTS_ROUTE}/quality/data_docs/index.html"))
    return rows, render_status(rows, snapshot, datetime.now(UTC), top)
