"""Reconcile one table end to end: schema check, compare, re-check, record, repair.

A table whose schema does not match its mapping ends with status ``error`` and the run goes on
with the other tables; a database that cannot be reached raises, so the task fails and retries.
Anything else that stops the table, BaseExceptions included (Airflow's task timeout, a ^C), is
stored as the table's error where PostgreSQL can still be reached, and raised again; a table
left ``running`` (a killed worker) fails the run when it finishes (``store.close_run``).
Repairs are recorded as ``planned`` before any is written, so none goes unrecorded; a retry
settles what an earlier attempt left ``planned`` against the data
(``store.settle_earlier_repairs``).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from mysql_pg_sync import dialects
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.compare import CompareConfig, PairSource, compare, recheck
from mysql_pg_sync.reconcile.diff import DRIFT_CLASSES, RowDiff
from mysql_pg_sync.reconcile.errors import ReconcileError, RepairLimitExceeded
from mysql_pg_sync.reconcile.model import ReconcileTable, Side
from mysql_pg_sync.reconcile.recheck import TIMED_OUT, CatchUpWaiter, DelayWaiter
from mysql_pg_sync.reconcile.repair import (
    DEFAULT_MAX_REPAIRS,
    Images,
    Repair,
    RepairApplier,
    RepairOutcome,
    plan_repairs,
)
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint

log = logging.getLogger(__name__)
EXAMPLE_KEYS = 10  # example keys per drift class in the report


@dataclass(frozen=True)
class RunOptions:
    compare: CompareConfig = field(default_factory=CompareConfig)
    repair: bool = False
    dry_run: bool = True
    max_repairs: int = DEFAULT_MAX_REPAIRS  # for the whole run, all tables together


@dataclass
class TableResult:
    table: str
    target: str
    status: str = "in_sync"
    error: str | None = None
    stats: dict[str, int] = field(default_factory=dict)
    diffs: list[RowDiff] = field(default_factory=list)
    # drift an earlier attempt of this run found and repaired, in sync when this one compared
    earlier_drift: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)
    repair_message: str | None = None
    duration_s: float = 0.0
    segmentation: str = ""
    # how the in-flight re-check's wait ended (recheck.CAUGHT_UP, ...); None: nothing to re-check
    recheck: str | None = None
    recheck_wait_s: float = 0.0
    key_columns: tuple[str, ...] = ()  # MySQL names, for the report's example keys
    # differences not repaired because the re-check timed out (the stream had not caught up)
    not_conclusive: int = 0
    # repairs not written: a side's row changed after the comparison (the stream carries it)
    changed_since_compared: int = 0

    def as_dict(self) -> dict[str, Any]:
        drift = Counter(d.drift for d in self.diffs) + self.earlier_drift
        columns = Counter(c for d in self.diffs for c in d.columns)
        return {
            "table": self.table,
            "target": self.target,
            "key_columns": list(self.key_columns),
            "status": self.status,
            "error": self.error,
            **self.stats,
            "segmentation": self.segmentation,
            "drift": {k: drift.get(k, 0) for k in DRIFT_CLASSES},
            "examples": {
                k: [list(d.key) for d in self.diffs if d.drift == k][:EXAMPLE_KEYS]
                for k in DRIFT_CLASSES
            },
            "different_columns": dict(columns.most_common()),
            "repairs": dict(self.repairs),
            "repair_message": self.repair_message,
            "duration_s": round(self.duration_s, 3),
            "recheck": self.recheck,
            "recheck_wait_s": round(self.recheck_wait_s, 1),
            "not_conclusive": self.not_conclusive,
            "changed_since_compared": self.changed_since_compared,
        }


def open_source(
    table: ReconcileTable,
    mysql: DatabaseEndpoint,
    postgres: DatabaseEndpoint,
    executor: ThreadPoolExecutor,
    workers: int,
) -> tuple[PairSource, Callable[[], None]]:
    """Both sides of ``table`` on pooled connections, and a function that closes them."""
    my_dialect, pg_dialect = dialects.for_side("mysql"), dialects.for_side("postgres")
    left = ConnectionPool(lambda: mysql_connect(mysql), workers, my_dialect.compare_session_sql())
    right = ConnectionPool(lambda: pg_connect(postgres), workers, pg_dialect.compare_session_sql())
    source = PairSource(
        TableSide("mysql", my_dialect, table, left),
        TableSide("postgres", pg_dialect, table, right),
        executor,
    )

    def close() -> None:
        left.close()
        right.close()

    return source, close


def compare_table(
    source: PairSource,
    options: RunOptions,
    waiter: CatchUpWaiter,
    result: TableResult,
    cuts: Sequence[int] = (),
) -> None:
    """Fill ``result`` with the confirmed differences (after the in-flight re-check)."""
    with ThreadPoolExecutor(max(1, options.compare.workers)) as segments:
        found = compare(source, options.compare, segments.map, cuts)
    confirmed = found.diffs
    if confirmed:
        waited_from = time.monotonic()
        result.recheck = waiter.wait(source.mysql.table.name)
        result.recheck_wait_s = time.monotonic() - waited_from
        confirmed = recheck(source, source.mysql.table.columns, confirmed)
        if confirmed and result.recheck == TIMED_OUT:
            log.warning(
                "%s: %d row(s) still differ after waiting %.0f s for the stream consumer to "
                "apply this table's changes in Kafka, which it had not: it is stopped or "
                "lagging, and some of them may be those changes (check the stream, then "
                "compare again)",
                result.table,
                len(confirmed),
                result.recheck_wait_s,
            )
    result.diffs = confirmed
    result.stats = {
        "rows_mysql": found.stats.rows_mysql,
        "rows_postgres": found.stats.rows_postgres,
        "first_level_segments": found.first_level_segments,
        "segments_compared": found.stats.segments_compared,
        "segments_mismatched": found.stats.segments_mismatched,
        "leaves_fetched": found.stats.leaves_fetched,
        "suspects": found.suspects,
        "hash_only": found.hash_only,
        "in_flight": len(found.diffs) - len(confirmed),
        "vanished": found.vanished,
        "unexplained_leaves": found.stats.unexplained_leaves,
    }
    result.segmentation = found.segmentation
    result.status = "drift" if confirmed else "in_sync"


def read_images(source: PairSource, diffs: Sequence[RowDiff]) -> Images:
    """Both sides' full rows of the differing keys: the winner's is the repair's image, and a
    row on both sides is decided by comparing the two under the conflict rule."""
    keys = {
        "mysql": [d.mysql.raw_key for d in diffs if d.mysql is not None],
        "postgres": [d.postgres.raw_key for d in diffs if d.postgres is not None],
    }
    mysql, postgres = source.both(lambda side: side.raw_rows(keys[side.side]))
    return Images(mysql, postgres)


def not_conclusive_message(count: int, waited_s: float) -> str:
    """Why a table whose re-check timed out was not repaired, and what to do."""
    return (
        f"not conclusive, nothing was repaired in this table: its {count:,} difference(s) were "
        f"re-checked after waiting {waited_s:.0f} s while the stream had not applied every "
        "change Kafka held for it (stream not caught up: check the stream DAG and the consumer "
        "lag, `make cli ARGS=status`), so some may be changes in flight that a repair would "
        "undo. Run reconcile again once the stream has caught up"
    )


def changed_message(count: int, rounds: int, lagging: bool = False) -> str:
    again = (
        f" (and again each time it was compared afresh after waiting for the stream, {rounds} "
        "time(s): it kept changing)"
        if rounds
        else ""
    )
    if lagging:
        again += (
            "; the stream had not applied this table's changes in Kafka when the run waited to "
            "compare them again (check the stream DAG and the consumer lag)"
        )
    return (
        f"{count:,} repair(s) not written: the row changed on a side after it was compared"
        f"{again}, so the repair's image was stale; their drift stays on record. Run reconcile "
        "again: it compares those keys afresh (a two-way table's stream may have settled them "
        "already)"
    )


# A key whose repair found its row changed since the comparison is compared again once the
# stream has caught up, this many times: a change in flight settles it (not drift), a row that
# still differs is repaired from its fresh images.
SETTLE_ROUNDS = 2


def repair_table(
    conn: store.Conn,
    run_id: int,
    source: PairSource,
    options: RunOptions,
    applier: RepairApplier | None,
    result: TableResult,
    waiter: CatchUpWaiter | None = None,
) -> None:
    """Repair ``result.diffs``. With a ``waiter``, keys whose rows changed after the
    comparison are settled in up to :data:`SETTLE_ROUNDS` more rounds (see there)."""
    if not result.diffs or not options.repair:
        return
    if result.recheck == TIMED_OUT:
        # the stream had changes of this table in Kafka it had not applied: a repair could
        # delete a PostgreSQL insert or overwrite an update still on its way, so none is made
        result.not_conclusive = len(result.diffs)
        result.repair_message = not_conclusive_message(len(result.diffs), result.recheck_wait_s)
        log.warning("%s: %s", result.table, result.repair_message)
        return
    diffs: list[RowDiff] = list(result.diffs)
    settled_rounds, lagging = 0, False
    for round_ in range(SETTLE_ROUNDS + 1):
        changed = _repair_once(conn, run_id, source, options, applier, result, diffs)
        if changed is None:
            return  # refused, dry run or no applier: the result says so
        if not changed or waiter is None or round_ == SETTLE_ROUNDS:
            break
        still = _settle(
            conn, run_id, source, waiter, result, [d for d in diffs if d.key in changed]
        )
        if still is None:  # the stream did not catch up: what changed stays drift on record
            lagging = True
            break
        settled_rounds += 1
        diffs, changed = still, {d.key for d in still}
        if not diffs:
            break
    if changed:
        result.changed_since_compared = len(changed)
        result.repair_message = changed_message(len(changed), settled_rounds, lagging)
        log.warning("%s: %s", result.table, result.repair_message)
    if result.repairs.get("failed") or changed:
        result.status = "drift"
    else:
        result.status = "repaired" if result.repairs.get("applied") else "in_sync"


def _repair_once(
    conn: store.Conn,
    run_id: int,
    source: PairSource,
    options: RunOptions,
    applier: RepairApplier | None,
    result: TableResult,
    diffs: Sequence[RowDiff],
) -> set[KeyText] | None:
    """Plan, record and write the repairs of ``diffs``; the keys not written because a row
    changed since the comparison, or None when no repair was written at all (the run's limit
    refused them, a dry run, no applier), with ``result`` saying why."""
    table = source.mysql.table
    repairs = plan_repairs(table, diffs)
    if len(repairs) <= options.max_repairs:  # a batch refused anyway needs no rows read
        repairs = plan_repairs(table, diffs, read_images(source, diffs))
    try:
        ids = store.reserve_repairs(
            conn,
            run_id,
            table.name,
            repairs,
            "dry_run" if options.dry_run else "planned",
            options.max_repairs,
        )
    except RepairLimitExceeded as exc:
        result.repairs["refused"] += len(repairs)
        written = result.repairs.get("applied", 0)
        if written:  # a settle round's repairs: an earlier round of this table wrote some
            result.repair_message = str(exc).replace(
                "nothing was repaired in this table",
                f"these {len(repairs):,} were not repaired ({written:,} repair(s) of this table "
                "were written before, in an earlier round)",
            )
            result.status = "drift"
        else:
            result.repair_message, result.status = str(exc), "repair_refused"
        log.error("%s", result.repair_message)
        return None
    if options.dry_run:
        result.repairs["dry_run"] += len(repairs)
        return None
    if applier is None:
        message = (
            "repairs need the stream applier (mysql_pg_sync.cdc), which is not available in "
            "this deployment; the repairs are recorded as failed. Re-run with dry_run=true"
        )
        for repair_id in ids:
            store.finish_repair(conn, repair_id, False, message)
        result.repairs["failed"] += len(ids)
        result.repair_message, result.status = message, "error"
        return None
    by_key = dict(zip((r.key for r in repairs), ids, strict=True))
    changed: set[KeyText] = set()
    for write_to in ("mysql", "postgres"):
        group = [r for r in repairs if r.write_to == write_to]
        if group:
            # compared=source: each write checks, under a lock on the target row, that both
            # rows still hold what this run compared (applier.StreamApplierRepairs)
            for outcome in _apply_retrying(applier, table, write_to, group, source):
                if outcome.changed:
                    # not written; its drift stays on record unless a settle round finds the
                    # rows equal (on a one-way table no stream brings the target's change back)
                    store.mark_changed(conn, by_key[outcome.key], outcome.error or "changed")
                    changed.add(outcome.key)
                    continue
                store.finish_repair(conn, by_key[outcome.key], outcome.applied, outcome.error)
                result.repairs["applied" if outcome.applied else "failed"] += 1
    return changed


def _settle(
    conn: store.Conn,
    run_id: int,
    source: PairSource,
    waiter: CatchUpWaiter,
    result: TableResult,
    changed: Sequence[RowDiff],
) -> list[RowDiff] | None:
    """Compare the rows of keys changed since the comparison again, once the stream has
    caught up: those now equal were changes in flight (their drift rows go, they count as in
    flight); the rest, with their fresh differences, are returned for another repair. None
    when the stream did not catch up (nothing can be told apart then)."""
    name = source.mysql.table.name
    if waiter.wait(name) == TIMED_OUT:
        return None
    still = recheck(source, source.mysql.table.columns, changed)
    fresh = {d.key: d for d in still}
    settled = [d for d in changed if d.key not in fresh]
    if settled:
        store.forget_drift(conn, run_id, name, [d.raw_key for d in settled])
        result.stats["in_flight"] = result.stats.get("in_flight", 0) + len(settled)
        log.info(
            "%s: %d key(s) whose rows changed while being repaired were in flight: equal once "
            "the stream caught up, not drift",
            result.table,
            len(settled),
        )
    if still:
        store.record_drift(conn, run_id, name, still)
    settled_keys = {d.key for d in settled}
    result.diffs = [fresh.get(d.key, d) for d in result.diffs if d.key not in settled_keys]
    return still


REPAIR_ATTEMPTS = 3


def _apply_retrying(
    applier: RepairApplier,
    table: ReconcileTable,
    write_to: Side,
    group: Sequence[Repair],
    source: PairSource,
) -> list[RepairOutcome]:
    """The group's repairs, run again when the server rolled them back to break a deadlock or
    a lock wait with the stream applier or the app (nothing of them was written then)."""
    from mysql_pg_sync.cdc.targets import is_transient  # the applier's package: there if it is

    for attempt in range(1, REPAIR_ATTEMPTS + 1):
        try:
            return applier.apply_repairs(table, write_to, group, compared=source)
        except Exception as exc:
            if not is_transient(exc) or attempt == REPAIR_ATTEMPTS:
                raise
            log.warning(
                "%s: repairs to %s rolled back by the server (%s); running them again, attempt "
                "%d of %d",
                table.name,
                write_to,
                str(exc).splitlines()[0],
                attempt + 1,
                REPAIR_ATTEMPTS,
            )
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _store_result(state: store.Conn, run_id: int, result: TableResult, started: float) -> None:
    result.duration_s = time.monotonic() - started
    # the stored repairs, not this attempt's: a retry keeps what earlier attempts wrote
    result.repairs = store.repair_counts(state, run_id).get(result.table, Counter())
    if result.status == "in_sync" and result.repairs.get("applied"):
        result.status = "repaired"  # an earlier attempt's repairs left nothing to find
    store.finish_table(state, run_id, result.table, result.as_dict())


def reconcile_table(
    table: ReconcileTable,
    mysql: DatabaseEndpoint,
    postgres: DatabaseEndpoint,
    state: store.Conn,
    run_id: int,
    options: RunOptions,
    waiter: CatchUpWaiter | None = None,
    applier: RepairApplier | None = None,
    cuts: Sequence[int] = (),
) -> TableResult:
    """Compare, re-check, record and (optionally) repair one table; the result is stored.

    ``cuts``: integer key values the first-level segments must respect (see ``compare``)."""
    started = time.monotonic()
    target = f"{table.pg_schema}.{table.pg_table}"
    result = TableResult(table.name, target, key_columns=table.key)
    store.start_table(state, run_id, table.name, target)
    try:
        with ThreadPoolExecutor(2 * max(1, options.compare.workers)) as executor:
            source, close = open_source(table, mysql, postgres, executor, options.compare.workers)
            try:
                source.both(lambda side: side.check_schema())
                waiter = waiter or DelayWaiter()
                compare_table(source, options, waiter, result, cuts)
                store.record_drift(state, run_id, table.name, result.diffs)
                result.earlier_drift = store.settle_earlier_repairs(
                    state, run_id, table.name, result.diffs
                )
                repair_table(state, run_id, source, options, applier, result, waiter)
            except ReconcileError as exc:
                result.status, result.error = "error", str(exc)
                log.error("%s", exc)
            finally:
                close()
    except BaseException as exc:
        # BaseException too: Airflow's task timeout and a ^C are not Exceptions, and a table
        # they stop must not stay 'running' (or look finished)
        result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
        try:
            _store_result(state, run_id, result, started)
        except Exception as store_exc:  # the state database may be what failed
            log.error(
                "%s: could not store the table's error (%s); the run's report marks the "
                "table as unfinished",
                table.name,
                store_exc,
            )
        raise
    _store_result(state, run_id, result, started)
    return result
