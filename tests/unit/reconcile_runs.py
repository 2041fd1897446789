"""Reconcile run and table results as the report reads them, for the report's unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mysql_pg_sync.reconcile.report import finalize


def table_result(name: str, **over: Any) -> dict[str, Any]:
    """A table's stored result: one different row and no repairs unless ``over`` says else."""
    return {
        "table": name,
        "target": "public." + name.split(".")[1],
        "status": "drift",
        "rows_mysql": 10,
        "rows_postgres": 10,
        "drift": {"missing": 0, "extra": 0, "different": 1},
        "repairs": {},
        "duration_s": 1.0,
        **over,
    }


def finished_run(
    *tables: dict[str, Any], run_id: int = 7, params: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The run as finalize() leaves it, five minutes after it started."""
    run = {
        "run_id": run_id,
        "params": params if params is not None else {"repair": False},
        "started_at": "2026-03-04T02:00:00+00:00",
        "tables": list(tables),
    }
    return finalize(run, datetime(2026, 3, 4, 2, 5, tzinfo=UTC))
