"""A table whose backfill has not finished is not compared: every row its copy has not reached
would count as drift, and a repair would write those rows ahead of the copy.

While its backfill moves (a chunk of any table changed within the status page's stall
threshold) the table is ``skipped``: not compared, not a failure, no alert; the first reconcile
after its backfill finishes compares it. A backfill that stopped moving is an ``error`` that
says how to check whether a run is still active and how to resume it: resuming while a run is
active would copy the same chunks twice.
"""

from __future__ import annotations

from typing import Any

import psycopg

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.run import TableResult
from mysql_pg_sync.status.backfill_progress import read_backfill_progress
from mysql_pg_sync.status.model import Row, backfill_idle_text, backfill_progressing

SKIPPED = "skipped"
"""A table's status when it was not compared because its backfill is moving."""


def backfill_result(state: psycopg.Connection[Any], mapping: TableMapping) -> TableResult | None:
    """The result of a table in state ``backfilling``, which is not compared: ``skipped`` while
    its backfill progresses, an ``error`` once it stalled; None for any other table."""
    table = mapping.name
    row = state.execute(
        "SELECT state FROM mps_sync.table_state WHERE source_table = %s", (table,)
    ).fetchone()
    backfilling = row is not None and row[0] == "backfilling"
    progress = read_backfill_progress(state, table) if backfilling else None
    state.commit()
    if not backfilling:
        return None
    if backfill_progressing(progress):
        assert progress is not None
        return TableResult(table, str(mapping.target), SKIPPED, skipped_reason(progress))
    return TableResult(table, str(mapping.target), "error", stalled_reason(table, progress))


def _chunks(progress: Row) -> str:
    done, total = int(progress.get("chunks_done") or 0), int(progress.get("chunks_total") or 0)
    return f"{done}/{total} chunks done"


def skipped_reason(progress: Row) -> str:
    """Why a table whose backfill moves was not compared, and when it will be."""
    return (
        f"backfilling ({_chunks(progress)}): not compared; it will be compared by the first "
        "reconcile after its backfill finishes"
    )


def stalled_reason(table: str, progress: Row | None) -> str:
    """Why a table whose backfill stopped moving was not compared, and what to do."""
    if progress is None or not int(progress.get("chunks_total") or 0):
        where = "no chunk of it is planned"
    else:
        where = f"{backfill_idle_text(progress)} ({_chunks(progress)})"
    return (
        f"{table} is backfilling, so it was not compared (rows its copy has not reached yet "
        f"would all count as drift), and {where}: if no backfill run is active (the Sync "
        "status page or `make cli ARGS=status` shows its progress), resume it (the backfill "
        f"DAG with mode resume, or `backfill run --mode resume --tables {table}`), then "
        "reconcile it"
    )
