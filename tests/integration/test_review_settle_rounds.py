"""Review of the reconcile settle rounds (run.repair_table / _repair_once / _settle): what the
run records and tells the operator when a later round goes another way than the first.

1. A settle round's repairs are reserved against the run's max_repairs again. Tables reconcile
   in parallel tasks, so another table may take the slots the round-1 'changed' keys freed; the
   round-2 refusal then says "nothing was repaired in this table" of a table whose round-1
   repairs were written, and the table reads as refused, not as repaired-with-drift.
2. A key an earlier attempt of the run repaired, found different again by the retry and then
   settled as in flight, loses its drift row (``store.forget_drift``), and with it the earlier
   attempt's applied repair disappears from the report (``_LATEST_REPAIRS`` joins the drift
   rows): the run reports no write although it overwrote the row, and the row it replaced (kept
   so a wrong repair can be undone) is no longer in the report.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_reconcile_repair_guard import _mapping, sides  # noqa: F401

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.recheck import CAUGHT_UP
from mysql_pg_sync.reconcile.repair import Repair
from mysql_pg_sync.reconcile.run import (
    RunOptions,
    TableResult,
    _store_result,
    compare_table,
    open_source,
    repair_table,
)
from mysql_pg_sync.reconcile.service import finish_run, stream_applier
from mysql_pg_sync.settings import Endpoints

pytestmark = pytest.mark.integration

Sql = Callable[..., None]


class CountingWaiter:
    """Caught up at once; ``on_settle(n)`` runs at the n-th settle round's wait (the first
    wait is the comparison's re-check)."""

    def __init__(self, on_settle: Callable[[int], None] = lambda n: None) -> None:
        self.calls = 0
        self.on_settle = on_settle

    def wait(self, table_name: str) -> str:
        self.calls += 1
        if self.calls > 1:
            self.on_settle(self.calls - 1)
        return CAUGHT_UP


def _attempt(
    ends: Endpoints,
    mapping: TableMapping,
    run_id: int,
    options: RunOptions,
    before_apply: Callable[[int], None],
    waiter: CountingWaiter,
    store_result: bool = True,
) -> TableResult:
    """One attempt of reconcile_table's steps for ``mapping`` in ``run_id`` (start_table,
    compare, record, settle earlier repairs, repair with settle rounds), with
    ``before_apply(round)`` run before each round's first write. ``store_result=False``: the
    attempt dies before it stores its result (a killed worker)."""
    table = table_from_mapping(mapping)
    applier = stream_applier(ends, mapping)
    rounds: list[int] = []

    class Before:
        def apply_repairs(self, *args: Any, **kw: Any) -> Any:
            rounds.append(1)
            before_apply(len(rounds))
            return applier.apply_repairs(*args, **kw)

    with pg_connect(ends.postgres) as state:
        store.start_table(state, run_id, table.name, str(mapping.target))
        result = TableResult(table.name, str(mapping.target), key_columns=table.key)
        with ThreadPoolExecutor(4) as executor:
            source, close = open_source(table, ends.mysql, ends.postgres, executor, 2)
            try:
                compare_table(source, options, waiter, result)
                store.record_drift(state, run_id, table.name, result.diffs)
                result.earlier_drift = store.settle_earlier_repairs(
                    state, run_id, table.name, result.diffs
                )
                repair_table(state, run_id, source, options, Before(), result, waiter)
            finally:
                close()
        if store_result:
            _store_result(state, run_id, result, 0.0)
    return result


def test_a_round_two_refusal_does_not_say_nothing_was_repaired_in_a_table_it_repaired(
    sides: tuple[Endpoints, Sql, Sql],  # noqa: F811
    tmp_path: Path,
) -> None:
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (2, 'b', 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5), (2, 'b', 5)")
    options = RunOptions(repair=True, dry_run=False, max_repairs=2)
    with pg_connect(ends.postgres) as state:
        run_id = store.start_run(state, {"repair": True, "dry_run": False}, "test")

    def before_apply(round_: int) -> None:
        if round_ == 1:  # the app changes key 1 (one-way table: nothing brings it over)
            on_mysql("UPDATE from_mysql SET qty = 9 WHERE id = 1")

    def another_table_reserves(n: int) -> None:
        # a parallel task of the same run plans a repair of its own table while this one
        # waits for the stream: the slot key 1's 'changed' repair freed is taken
        with pg_connect(ends.postgres) as conn:
            store.reserve_repairs(
                conn,
                run_id,
                "other_db.other_table",
                [Repair(("9",), (9,), "upsert", "postgres", "mysql", None, {"id": 9})],
                "planned",
                options.max_repairs,
            )

    result = _attempt(
        ends, mapping, run_id, options, before_apply, CountingWaiter(another_table_reserves)
    )
    run, _, _ = finish_run(ends, run_id, tmp_path)

    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, qty FROM from_mysql ORDER BY id").fetchall()
    assert rows == [(1, 5), (2, 7)]  # key 2 was repaired in round 1
    assert result.repairs["applied"] == 1
    (table,) = [t for t in run["tables"] if t["table"] == mapping.name]
    assert table["repairs"].get("applied") == 1
    # the table's message must not deny the write it made
    assert "nothing was repaired in this table" not in (result.repair_message or "")
    assert "nothing was repaired in this table" not in (table.get("repair_message") or "")


def test_a_retry_that_settles_a_key_keeps_the_earlier_attempts_repair_of_it_in_the_report(
    sides: tuple[Endpoints, Sql, Sql],  # noqa: F811
    tmp_path: Path,
) -> None:
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5)")
    options = RunOptions(repair=True, dry_run=False)
    with pg_connect(ends.postgres) as state:
        run_id = store.start_run(state, {"repair": True, "dry_run": False}, "test")

    # attempt 1 repairs key 1 (PostgreSQL 5 -> 7) and dies before it stores its result
    _attempt(ends, mapping, run_id, options, lambda r: None, CountingWaiter(), False)
    with pg_connect(ends.postgres) as conn:
        assert conn.execute("SELECT qty FROM from_mysql").fetchall() == [(7,)]
        written = conn.execute(
            "SELECT status, written->>'qty', replaced->>'qty' FROM mps_sync.reconcile_repairs "
            "WHERE run_id = %s",
            (run_id,),
        ).fetchall()
    assert written == [("applied", "7", "5")]

    # before the retry someone writes PostgreSQL's row again; during the retry's repair the
    # app updates MySQL and the stream brings the same row over: a change in flight
    on_pg("UPDATE from_mysql SET qty = 3 WHERE id = 1")

    def in_flight(round_: int) -> None:
        if round_ == 1:
            on_mysql("UPDATE from_mysql SET qty = 11 WHERE id = 1")
            on_pg("UPDATE from_mysql SET qty = 11 WHERE id = 1")

    retry = _attempt(ends, mapping, run_id, options, in_flight, CountingWaiter())
    run, _, _ = finish_run(ends, run_id, tmp_path)

    assert retry.stats["in_flight"] == 1  # settled in the retry's round
    (table,) = run["tables"]
    # the run overwrote PostgreSQL's row in attempt 1: its report must still say so, with
    # the row it replaced (what an undo needs)
    assert table["repairs"].get("applied") == 1, table["repairs"]
    shown = [d for d in table["repair_details"] if d["status"] == "applied"]
    assert shown
    assert shown[0]["example_keys"] == [["1"]]
