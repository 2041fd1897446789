"""Verify a loaded table with reconcile's differ: checksums, bisection, row diff; never a repair.

Runs after finalize (the table is ``streaming``). Live writes go on during a backfill and the
stream replays them after the handoff, so a row that changed during the run may still differ
when it is compared: like reconcile, the suspects are compared again once the stream has caught
up (:class:`~mysql_pg_sync.reconcile.recheck.OffsetsWaiter`) and only what still differs
counts as drift. An integer key's first-level segments are cut at the backfill's own chunk
boundaries (a difference then points at one chunk); other keys use reconcile's hash buckets, which
follow no key order. The comparison is an ordinary dry-run reconcile run (``trigger =
'backfill'``), so its drift rows and reports are where the reconcile pages look.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mysql_pg_sync.backfill import report, state
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.compare import CompareConfig
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.recheck import CatchUpWaiter
from mysql_pg_sync.reconcile.run import RunOptions, TableResult, reconcile_table
from mysql_pg_sync.reconcile.service import finish_run, record_refusal
from mysql_pg_sync.reconcile.stream_position import offsets_waiter
from mysql_pg_sync.settings import Endpoints

log = logging.getLogger(__name__)

VerifyMode = Literal["counts", "checksums"]
VERIFY_MODES: tuple[VerifyMode, ...] = ("counts", "checksums")
DEFAULT_VERIFY: VerifyMode = "checksums"  # one indexed scan a side; on the demo, about a second
DEFAULT_RECHECK_WAIT_S = 30.0  # longest wait for the stream before suspects are compared again


@dataclass(frozen=True)
class VerifyOptions:
    mode: VerifyMode = DEFAULT_VERIFY
    compare: CompareConfig = field(default_factory=CompareConfig)
    recheck_wait_s: float = DEFAULT_RECHECK_WAIT_S

    def __post_init__(self) -> None:
        if self.mode not in VERIFY_MODES:
            raise ValueError(f"verify {self.mode!r} is not one of {', '.join(VERIFY_MODES)}")


def chunk_cuts(conn: Any, table: str) -> list[int]:
    """The integer key values where the table's planned chunks meet (empty for keyset plans)."""
    plan = state.load_plan(conn, table)
    if plan is None or plan.strategy != "integer":
        return []
    total = sum(state.chunk_states(conn, table).values())
    cuts = []
    for seq in range(1, total):
        chunk, _ = state.load_chunk(conn, (table, seq))
        if chunk.lower is not None:
            cuts.append(int(chunk.lower[0]))
    return cuts


def summarize(result: TableResult, chunk_boundaries: int) -> dict[str, Any]:
    """What the backfill report shows for one verified table."""
    full = result.as_dict()
    return {
        "table": result.table,
        "status": result.status,
        "error": result.error,
        "rows_compared": max(full.get("rows_mysql", 0), full.get("rows_postgres", 0)),
        "rows_mysql": full.get("rows_mysql", 0),
        "rows_postgres": full.get("rows_postgres", 0),
        "segments": full.get("first_level_segments", 0),
        "segments_compared": full.get("segments_compared", 0),
        "chunk_boundaries": chunk_boundaries,
        "drift": full["drift"],
        "examples": {k: v for k, v in full["examples"].items() if v},
        "different_columns": full["different_columns"],
        "in_flight": full.get("in_flight", 0),
        # "timed_out": the stream had not applied the table's changes when the differences were
        # compared again, so they may be changes in flight (report.verify_unsettled)
        "recheck": full.get("recheck"),
        "recheck_wait_s": full.get("recheck_wait_s", 0.0),
        "duration_s": full["duration_s"],
    }


def verify_table(
    endpoints: Endpoints,
    mapping: TableMapping,
    run_id: int,
    options: VerifyOptions,
    waiter: CatchUpWaiter | None = None,
) -> dict[str, Any]:
    """Compare one loaded table in reconcile run ``run_id``; confirmed drift only."""
    with pg_connect(endpoints.postgres, autocommit=True) as conn:
        cuts = chunk_cuts(conn, mapping.name)
    with pg_connect(endpoints.postgres) as conn:
        try:
            table = table_from_mapping(mapping)
        except ReconcileError as exc:
            return summarize(record_refusal(conn, run_id, mapping, exc), 0)
        waiter = waiter or offsets_waiter(endpoints, mapping, options.recheck_wait_s)
        result = reconcile_table(
            table,
            endpoints.mysql,
            endpoints.postgres,
            conn,
            run_id,
            RunOptions(compare=options.compare, repair=False, dry_run=True),
            waiter,
            cuts=cuts,
        )
    summary = summarize(result, len(cuts))
    if result.status == "drift":
        log.warning("%s: verify found drift %s: %s", mapping.name, summary["drift"], summary)
    return summary


def verify_tables(
    endpoints: Endpoints,
    mappings: Sequence[TableMapping],
    options: VerifyOptions,
    backfill_run: str = "",
    waiter: CatchUpWaiter | None = None,
) -> dict[str, Any]:
    """Verify every table in one reconcile run (``trigger = 'backfill'``); nothing is repaired.

    ``counts`` mode compares nothing here (finalize already counted the rows); nor does a run
    with no table finalized (an empty reconcile run would look like a clean one)."""
    if options.mode == "counts" or not mappings:
        return {"mode": options.mode, "tables": []}
    params = {"backfill_run": backfill_run, "verify": options.mode, "dry_run": True}
    with pg_connect(endpoints.postgres) as conn:
        run_id = store.start_run(conn, params, "backfill")
    tables = [verify_table(endpoints, m, run_id, options, waiter) for m in mappings]
    run, json_path, _ = finish_run(endpoints, run_id)
    return {
        "mode": options.mode,
        "reconcile_run": run_id,
        "status": run["status"],
        "drift": sum(sum(t["drift"].values()) for t in tables),
        "tables": tables,
        "report": str(json_path),
    }


def add_to_report(summary: dict[str, Any], verified: dict[str, Any]) -> dict[str, Any]:
    """Add the verification to a backfill summary and write its JSON and HTML report again
    (the outcome at the top of the page depends on it)."""
    summary["verify"] = verified
    paths = summary.get("report") or {}
    if "json" in paths:
        path = Path(paths["json"])
        data = json.loads(path.read_text(encoding="utf-8"))
        data["verify"] = verified
        for kind in ("finished", "refused"):
            if kind in summary:
                data[kind] = summary[kind]
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), "utf-8")
    if "html" in paths:
        Path(paths["html"]).write_text(report.render_html(summary), "utf-8")
    return summary
