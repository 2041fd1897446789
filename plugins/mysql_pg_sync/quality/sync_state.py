"""A table's sync state in the words its data-quality checks use (pure).

A table whose backfill has not finished (``mps_sync.table_state`` ``new`` or ``backfilling``)
lacks every row its copy has not reached: its row count, freshness and drift are not checked,
as reconcile does not compare it (:mod:`mysql_pg_sync.reconcile.backfilling`); its key and
schema checks still run. A table the stream holds back (``mps_sync.stream_holds``) keeps all
its checks, and their hints name the hold its changes wait behind.
"""

from __future__ import annotations

from collections.abc import Sequence

from mysql_pg_sync.status.model import Row, backfill_idle_text, backfill_progressing, held_text

UNFINISHED_STATES = ("new", "backfilling")
"""``table_state`` values of a table whose backfill has not finished."""


def _chunks(progress: Row | None) -> str:
    total = int(progress.get("chunks_total") or 0) if progress is not None else 0
    if not total:
        return "no chunk planned yet"
    assert progress is not None
    return f"{int(progress.get('chunks_done') or 0)}/{total} chunks done"


def backfill_reason(table: str, state: str, progress: Row | None) -> str:
    """Why the table's row count, freshness and drift are not checked: ``backfilling (12/40
    chunks done): not checked ...``; a backfill that stopped moving says how to resume it.

    ``progress``: the table's row of :data:`~mysql_pg_sync.status.backfill_progress.
    BACKFILL_PROGRESS_SQL` (None: no backfill plan)."""
    head = (
        f"backfilling ({_chunks(progress)})"
        if state == "backfilling"
        else (f"not backfilled yet (state {state}, {_chunks(progress)})")
    )
    reason = (
        f"{head}: not checked (rows its copy has not reached would count as missing); the "
        "first run after its backfill finishes checks it"
    )
    if backfill_stalled(state, progress):
        # reconcile reports such a table as an error (reconcile/backfilling.py stalled_reason)
        planned = progress is not None and int(progress.get("chunks_total") or 0)
        idle = (
            backfill_idle_text(progress)
            if progress is not None and planned
            else ("no chunk of it is planned")
        )
        reason += (
            f"; but {idle}: if no backfill run is active (the Sync status page or `make cli "
            f"ARGS=status` shows), resume it (the backfill DAG with mode resume, or `backfill "
            f"run --mode resume --tables {table}`)"
        )
    return reason


def backfill_stalled(state: str, progress: Row | None) -> bool:
    """The table is backfilling, but its backfill has stopped moving: its checks skipped for
    the backfill must not read as fine (a reload that emptied PostgreSQL and died)."""
    return state == "backfilling" and not backfill_progressing(progress)


def hold_text(holds: Sequence[Row]) -> str:
    """The stream's holds on one table, for a breach's hint; "" for none."""
    if not holds:
        return ""
    held = "; ".join(held_text(row) for row in holds)
    return (
        f"the stream holds this table ({held}): its changes wait in Kafka until then, so "
        "counts, freshness and drift lag behind; fix the hold first"
    )
