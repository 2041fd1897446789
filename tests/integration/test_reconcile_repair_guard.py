"""Repairs are guarded against what moved after the comparison.

1. A re-check that timed out (the stream stopped, PostgreSQL's changes still in Kafka) repairs
   nothing: its differences are not conclusive. Repairing them would delete a PostgreSQL
   insert, overwrite its update with MySQL's older row and re-insert its deleted row; once the
   stream resumed, the two sides would diverge for good.
2. A repair is a compare-and-set: written only while the target row (locked in the write's
   transaction) and the winning side's row still hold what was compared. A row changed in
   between is skipped as ``changed since compared``, not overwritten with a stale image.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, wait_until

from mysql_pg_sync.airflow.reconcile_summary import not_conclusive_tables, summarize, verdict
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.recheck import CAUGHT_UP, TIMED_OUT, DelayWaiter
from mysql_pg_sync.reconcile.run import (
    SETTLE_ROUNDS,
    RunOptions,
    TableResult,
    _store_result,
    compare_table,
    open_source,
    repair_table,
)
from mysql_pg_sync.reconcile.service import (
    ReconcileParams,
    finish_run,
    reconcile_one,
    start_run,
    stream_applier,
)
from mysql_pg_sync.reconcile.stream_position import offsets_waiter
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

T0 = "2026-01-01 12:00:00"


def test_a_recheck_that_timed_out_repairs_nothing_and_the_stream_then_converges(
    items: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in items.env().items():
        monkeypatch.setenv(name, value)
    mapping = items.mappings.tables[0]
    for i in (1, 2, 3):
        mysql_rows(items, f"INSERT INTO items VALUES ({i}, 'n{i}', {i}, 1.00, '{T0}', NULL)")
    consumer = items.consumer()
    try:
        drive(consumer, lambda: len(pg_rows(items, "SELECT 1 FROM items")) == 3)
        caught_up = offsets_waiter(items.endpoints, mapping, 0)
        drive(consumer, lambda: caught_up.wait(mapping.name) == CAUGHT_UP, timeout_s=60)
    finally:
        consumer.close()

    # the stream is stopped; the NestJS app writes to PostgreSQL: an insert, an update, a delete
    with items.pg() as conn:
        conn.execute(f"INSERT INTO items VALUES (10, 'pg', 10, 1.00, '{T0}', NULL)")
        conn.execute("UPDATE items SET name = 'pg' WHERE id = 1")
        conn.execute("DELETE FROM items WHERE id = 2")
    waiter = offsets_waiter(items.endpoints, mapping, 0)
    wait_until(lambda: waiter.wait(mapping.name) == TIMED_OUT, timeout_s=60)  # in Kafka

    params = ReconcileParams(repair=True, dry_run=False, recheck_delay_s=1, segment_rows=100)
    run_id = start_run(items.endpoints, params, "test")
    result = reconcile_one(items.endpoints, run_id, mapping, params)
    run, _, html_path = finish_run(items.endpoints, run_id, tmp_path)

    assert result["recheck"] == TIMED_OUT
    assert result["status"] == "drift"
    assert result["drift"] == {"missing": 1, "extra": 1, "different": 1}
    assert result["not_conclusive"] == 3
    assert result["repairs"] == {}
    assert "nothing was repaired" in result["repair_message"]
    assert "run reconcile again once the stream has caught up" in result["repair_message"].lower()
    with pg_connect(items.endpoints.postgres) as conn:
        stored = conn.execute(
            "SELECT count(*) FROM mps_sync.reconcile_repairs WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert stored == (0,)  # not even planned
    # PostgreSQL's changes are untouched
    assert pg_rows(items, "SELECT id, name FROM items ORDER BY id") == [
        (1, "pg"),
        (3, "n3"),
        (10, "pg"),
    ]
    # the run does not read as success, and says why and what to do
    assert run["status"] == "drift"
    assert run["summary"]["not_conclusive"] == 1
    assert "nothing repaired" in _headline(run)
    page = html_path.read_text()
    assert "NOT CONCLUSIVE, NOTHING REPAIRED" in page
    assert "run reconcile again once it has caught up" in page
    alert = verdict(run["status"], summarize(run), (), not_conclusive_tables(run))
    assert alert is not None
    assert alert.startswith("not conclusive, nothing repaired in 1 table")

    # the stream resumes: the two sides converge on PostgreSQL's changes
    consumer = items.consumer()
    try:
        drive(
            consumer,
            lambda: (
                mysql_rows(items, "SELECT id, name FROM items ORDER BY id")
                == [(1, "pg"), (3, "n3"), (10, "pg")]
            ),
        )
    finally:
        consumer.close()
    assert pg_rows(items, "SELECT id, name FROM items ORDER BY id") == [
        (1, "pg"),
        (3, "n3"),
        (10, "pg"),
    ]


def _headline(run: dict[str, Any]) -> str:
    from mysql_pg_sync.reconcile.report import headline

    return headline(run)


# ---- 2: compare-and-set ----------------------------------------------------------------------

DDL = "CREATE TABLE {t} (id bigint PRIMARY KEY, name varchar(20), qty int)"


def _mapping(db: str, table: str, authority: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "name", "column_type": "varchar(20)"},
                {"name": "qty", "column_type": "int(11)"},
            ],
            "reconcile": {"authoritative": authority},
        }
    )


Sql = Callable[..., None]


@pytest.fixture
def sides(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
) -> tuple[Endpoints, Sql, Sql]:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        for table in ("from_mysql", "from_pg"):
            c.cursor().execute(DDL.format(t=table))
    with pg_connect(pg_db, autocommit=True) as conn:
        for table in ("from_mysql", "from_pg"):
            conn.execute(DDL.format(t=table))  # type: ignore[arg-type]

    def on_mysql(*statements: str) -> None:
        with mysql_connect(mysql_db, autocommit=True) as c:
            for sql in statements:
                c.cursor().execute(sql)

    def on_pg(*statements: str) -> None:
        with pg_connect(pg_db, autocommit=True) as conn:
            for sql in statements:
                conn.execute(sql)  # type: ignore[arg-type]

    return replace(endpoints, mysql=mysql_db, postgres=pg_db), on_mysql, on_pg


def _compare_then_repair(
    ends: Endpoints,
    mapping: TableMapping,
    between: Callable[[], None],
    folder: Path,
    settle: bool = False,
    every_round: bool = False,
) -> tuple[TableResult, dict[str, Any]]:
    """reconcile_table's steps, with ``between`` run after the comparison (and the row images
    a repair writes were read) and before the repair's first write (``every_round``: before
    each round's): the window the guard covers. ``settle``: keys changed since the comparison
    are compared again (no stream here: the wait ends at once)."""
    rounds: list[int] = []
    table = table_from_mapping(mapping)
    options = RunOptions(repair=True, dry_run=False)
    applier = stream_applier(ends, mapping)
    with pg_connect(ends.postgres) as state:
        run_id = store.start_run(state, {"repair": True, "dry_run": False}, "test")
        store.start_table(state, run_id, table.name, str(mapping.target))
        result = TableResult(table.name, str(mapping.target), key_columns=table.key)
        with ThreadPoolExecutor(4) as executor:
            source, close = open_source(table, ends.mysql, ends.postgres, executor, 2)
            try:
                source.both(lambda side: side.check_schema())
                compare_table(source, options, DelayWaiter(0), result)
                store.record_drift(state, run_id, table.name, result.diffs)

                class Between:  # the real stream applier, after `between` ran
                    def apply_repairs(self, *args: Any, **kw: Any) -> Any:
                        if every_round or not rounds:
                            between()
                        rounds.append(1)
                        return applier.apply_repairs(*args, **kw)

                waiter = DelayWaiter(0) if settle else None
                repair_table(state, run_id, source, options, Between(), result, waiter)
            finally:
                close()
        _store_result(state, run_id, result, 0.0)
        repairs = state.execute(
            "SELECT key_text[1], status FROM mps_sync.reconcile_repairs WHERE run_id = %s "
            "ORDER BY 1, 2",
            (run_id,),
        ).fetchall()
        drift = state.execute(
            "SELECT key_text[1] FROM mps_sync.reconcile_drift WHERE run_id = %s ORDER BY 1",
            (run_id,),
        ).fetchall()
    run, _, _ = finish_run(ends, run_id, folder)
    return result, {"repairs": repairs, "drift": drift, "run": run}


def test_a_repair_to_postgresql_skips_rows_changed_since_compared(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path
) -> None:
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (3, 'c', 7), (4, 'd', 7), (5, 'e', 5)")
    # 1, 3, 4: different; 2: extra (PostgreSQL only); 5: in sync
    on_pg(
        "INSERT INTO from_mysql VALUES (1, 'a', 5), (2, 'b', 5), (3, 'c', 5), (4, 'd', 5), "
        "(5, 'e', 5)"
    )

    def meanwhile() -> None:
        # 1: the app sets MySQL to 9 and the stream writes 9 to PostgreSQL
        on_mysql("UPDATE from_mysql SET qty = 9 WHERE id = 1")
        on_pg("UPDATE from_mysql SET qty = 9 WHERE id = 1")
        # 2: the row reaches MySQL (the stream has not brought it back yet)
        on_mysql("INSERT INTO from_mysql VALUES (2, 'b', 5)")
        # 4: MySQL changes, the stream has not applied it yet
        on_mysql("UPDATE from_mysql SET qty = 9 WHERE id = 4")

    result, stored = _compare_then_repair(ends, mapping, meanwhile, tmp_path)

    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, qty FROM from_mysql ORDER BY id").fetchall()
    # 1 keeps the stream's 9 (not MySQL's stale 7), 2 is not deleted, 4 waits for the stream's
    # 9 (not the stale 7), 3 is repaired
    assert rows == [(1, 9), (2, 5), (3, 7), (4, 5), (5, 5)]
    assert result.changed_since_compared == 3
    assert "changed on a side after it was compared" in (result.repair_message or "")
    # not written, and still drift on record: on a one-way table nothing else settles them
    assert result.status == "drift"
    assert stored["repairs"] == [
        ("1", "changed"),
        ("2", "changed"),
        ("3", "applied"),
        ("4", "changed"),
    ]
    assert stored["drift"] == [("1",), ("2",), ("3",), ("4",)]
    run = stored["run"]
    (table,) = run["tables"]
    assert table["changed_since_compared"] == 3
    assert table["drift"] == {"missing": 0, "extra": 1, "different": 3}
    assert table["repairs"] == {"applied": 1, "changed": 3}
    assert run["status"] == "drift"  # the next run compares those keys afresh
    assert run["summary"]["changed_since_compared"] == 3
    assert "3 repair(s) not written: changed since compared" in summarize(run)


def test_keys_changed_while_repaired_are_compared_again_and_settle_or_are_repaired(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path
) -> None:
    """Rows that change during the run are not drift: a key whose repair was stopped because
    its row changed is compared again once the stream caught up. Equal now: a change in
    flight, its drift row goes. Still different: repaired from the fresh images."""
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (3, 'c', 7), (4, 'd', 7), (5, 'e', 5)")
    on_pg(
        "INSERT INTO from_mysql VALUES (1, 'a', 5), (2, 'b', 5), (3, 'c', 5), (4, 'd', 5), "
        "(5, 'e', 5)"
    )

    def meanwhile() -> None:  # as in the test above
        on_mysql("UPDATE from_mysql SET qty = 9 WHERE id = 1")
        on_pg("UPDATE from_mysql SET qty = 9 WHERE id = 1")
        on_mysql("INSERT INTO from_mysql VALUES (2, 'b', 5)")
        on_mysql("UPDATE from_mysql SET qty = 9 WHERE id = 4")

    result, stored = _compare_then_repair(ends, mapping, meanwhile, tmp_path, settle=True)

    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, qty FROM from_mysql ORDER BY id").fetchall()
    # 1 and 2 are equal on both sides now; 4 still differed and got MySQL's fresh 9
    assert rows == [(1, 9), (2, 5), (3, 7), (4, 9), (5, 5)]
    assert result.status == "repaired"
    assert result.changed_since_compared == 0
    assert result.stats["in_flight"] == 2
    assert stored["repairs"] == [
        ("1", "changed"),
        ("2", "changed"),
        ("3", "applied"),
        ("4", "applied"),
        ("4", "changed"),
    ]
    assert stored["drift"] == [("3",), ("4",)]
    (table,) = stored["run"]["tables"]
    assert table["drift"] == {"missing": 0, "extra": 0, "different": 2}
    assert stored["run"]["status"] == "succeeded"


def test_a_key_that_keeps_changing_stays_drift_after_the_settle_rounds(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path
) -> None:
    """A row that changes again before every repair is never written with a stale image;
    after the settle rounds its drift stays on record and the table says so."""
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5)")

    def meanwhile() -> None:  # the app keeps updating MySQL; no stream brings it over
        on_mysql("UPDATE from_mysql SET qty = qty + 1 WHERE id = 1")

    result, stored = _compare_then_repair(
        ends, mapping, meanwhile, tmp_path, settle=True, every_round=True
    )

    with pg_connect(ends.postgres) as conn:
        assert conn.execute("SELECT qty FROM from_mysql").fetchall() == [(5,)]
    assert result.status == "drift"
    assert result.changed_since_compared == 1
    assert f"{SETTLE_ROUNDS} time(s): it kept changing" in (result.repair_message or "")
    assert stored["repairs"] == [("1", "changed")] * (SETTLE_ROUNDS + 1)
    assert stored["drift"] == [("1",)]


def test_a_repair_to_mysql_skips_rows_changed_since_compared(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other direction, where the target is MySQL: an absent row must stay absent (the
    lock on its gap) and a present one unchanged."""
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_pg", "postgres")
    on_pg("INSERT INTO from_pg VALUES (1, 'a', 7), (2, 'b', 7), (3, 'c', 7)")
    # 1, 3: different; 2: PostgreSQL only (missing in MySQL); 4: MySQL only (extra)
    on_mysql("INSERT INTO from_pg VALUES (1, 'a', 5), (3, 'c', 5), (4, 'd', 5)")

    def meanwhile() -> None:
        on_pg("UPDATE from_pg SET qty = 9 WHERE id = 1")  # the winner moved on
        on_mysql("INSERT INTO from_pg VALUES (2, 'b', 8)")  # the target got the row meanwhile
        on_mysql("UPDATE from_pg SET qty = 6 WHERE id = 4")  # the target's row changed

    result, stored = _compare_then_repair(ends, mapping, meanwhile, tmp_path)

    with mysql_connect(ends.mysql) as conn:
        cur = conn.cursor()
        cur.execute("SELECT id, qty FROM from_pg ORDER BY id")
        rows = [tuple(r) for r in cur.fetchall()]
    assert rows == [(1, 5), (2, 8), (3, 7), (4, 6)]
    assert result.changed_since_compared == 3
    assert stored["repairs"] == [
        ("1", "changed"),
        ("2", "changed"),
        ("3", "applied"),
        ("4", "changed"),
    ]
    assert stored["run"]["status"] == "drift"


def test_a_repair_skips_a_row_whose_ignored_column_changed_since_compared(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path
) -> None:
    """A repair writes every synced column, the ignored ones too, which the comparison never
    read: a change there after the images were read must stop the write as well (it put
    PostgreSQL's new 'name' back to the stale one for good)."""
    ends, on_mysql, on_pg = sides
    plain = _mapping(ends.mysql.database, "from_mysql", "mysql").model_dump(mode="json")
    mapping = TableMapping.model_validate(
        {**plain, "reconcile": {"authoritative": "mysql", "ignore_columns": ["name"]}}
    )
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (2, 'b', 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5), (2, 'b', 5)")

    def meanwhile() -> None:  # the PostgreSQL app renames row 1; qty stays as compared
        on_pg("UPDATE from_mysql SET name = 'renamed' WHERE id = 1")

    result, stored = _compare_then_repair(ends, mapping, meanwhile, tmp_path)
    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, name, qty FROM from_mysql ORDER BY id").fetchall()
    assert rows == [(1, "renamed", 5), (2, "b", 7)]
    assert stored["repairs"] == [("1", "changed"), ("2", "applied")]
    assert result.status == "drift"


def test_an_unchanged_row_is_still_repaired_in_both_directions(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard is no brake on plain drift: missing, extra and different rows, nothing moved."""
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (2, NULL, 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5), (3, 'x', 5)")
    result, stored = _compare_then_repair(ends, mapping, lambda: None, tmp_path)
    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, name, qty FROM from_mysql ORDER BY id").fetchall()
    assert rows == [(1, "a", 7), (2, None, 7)]
    assert result.changed_since_compared == 0
    assert result.status == "repaired"
    assert sorted(s for _, s in stored["repairs"]) == ["applied"] * 3


def test_each_repair_keeps_the_row_it_wrote_and_the_row_it_replaced(
    sides: tuple[Endpoints, Sql, Sql], tmp_path: Path
) -> None:
    """A repair that deletes an 'extra' row removes its only copy: the repair's record keeps
    it (and an overwritten row's old values), so a wrong authoritative side can be undone."""
    ends, on_mysql, on_pg = sides
    mapping = _mapping(ends.mysql.database, "from_mysql", "mysql")
    on_mysql("INSERT INTO from_mysql VALUES (1, 'a', 7), (2, NULL, 7)")
    on_pg("INSERT INTO from_mysql VALUES (1, 'a', 5), (3, 'only here', 5)")
    result, _ = _compare_then_repair(ends, mapping, lambda: None, tmp_path)
    assert result.status == "repaired"
    with pg_connect(ends.postgres) as conn:
        kept = conn.execute(
            "SELECT key_text[1], action, written, replaced FROM mps_sync.reconcile_repairs "
            "ORDER BY 1"
        ).fetchall()
    assert kept == [
        ("1", "upsert", {"id": 1, "name": "a", "qty": 7}, {"id": 1, "name": "a", "qty": 5}),
        ("2", "upsert", {"id": 2, "name": None, "qty": 7}, None),
        ("3", "delete", None, {"id": 3, "name": "only here", "qty": 5}),
    ]
