"""Two-way races in which the databases used to end different, by conflict rule.

Each test writes on both sides while no consumer runs, then lets one consumer (both directions)
run until the stream is quiet, and checks that MySQL and PostgreSQL hold the same rows, and the
row the table's rule names. The docstrings say what went wrong before the fix."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cdc import connector_actions
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import PreflightError
from mysql_pg_sync.mapping.models import dump_yaml_entry

pytestmark = pytest.mark.integration

ROWS = "SELECT id, name, qty, updated_at FROM items ORDER BY id"
FULL = "ALTER TABLE public.items REPLICA IDENTITY FULL"


def _mysql(p: Pipeline, *statements: str) -> None:
    conn = p.mysql()
    try:
        for sql in statements:
            conn.cursor().execute(sql)
    finally:
        conn.close()


def _pg(p: Pipeline, *statements: str) -> None:
    """Statements in ONE PostgreSQL transaction (so the consumer reads them in one batch)."""
    with pg_connect(p.endpoints.postgres) as conn:
        for sql in statements:
            conn.execute(sql)
        conn.commit()


def _both(p: Pipeline) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    return mysql_rows(p, ROWS), pg_rows(p, ROWS)


def _settle(p: Pipeline, events: int, quiet_s: float = 4.0, timeout_s: float = 90) -> None:
    """Run one consumer of both directions until it has seen ``events`` changes that are not
    echoes, then until nothing arrived for ``quiet_s``: the stream is quiet."""
    with closing(p.consumer(max_batch_events=5_000)) as both:
        seen = 0
        deadline = time.monotonic() + timeout_s
        while seen < events:
            assert time.monotonic() < deadline, f"saw {seen} of {events} changes"
            summary = both.run(max_seconds=1)
            seen += summary.events
        both.run(max_seconds=30, idle_stop_s=quiet_s)


def _seed(p: Pipeline, sql: str) -> None:
    """One row written in MySQL and streamed to PostgreSQL; the consumer then stops."""
    _mysql(p, sql)
    with closing(p.consumer()) as c:
        drive(c, lambda: len(pg_rows(p, ROWS)) == 1)
        c.run(max_seconds=2, idle_stop_s=1)


def _conflicts(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(
        p,
        "SELECT incoming_side, kind, winner FROM mps_sync.conflicts ORDER BY id",
    )


def test_mysql_wins_postgres_insert_then_update_in_one_batch_does_not_overwrite_mysql(
    make_items: Any,
) -> None:
    """mysql_wins, REPLICA IDENTITY FULL (as ADR 0014 requires). Both sides insert key 1 while
    no consumer runs; PostgreSQL's application also updates its new row in the same transaction.

    collapse() folds PostgreSQL's insert and update into one change with op 'u' and the
    INSERT's before-image (None). decide() then sees an update without a before-image on an
    existing row and, for a fixed-winner rule, falls through to ``Decision("apply")``
    (conflicts.py: the last line of decide): PostgreSQL's row overwrites MySQL's, with no
    conflict recorded. PostgreSQL meanwhile takes MySQL's insert (insert_exists, MySQL wins):
    each side ends with the other's row."""
    with make_items("mysql_wins", pg_extra=(FULL,)) as p:
        _mysql(p, "INSERT INTO items VALUES (1, 'from-mysql', 1, 1, '2030-01-01', NULL)")
        _pg(
            p,
            "INSERT INTO items VALUES (1, 'from-pg', 1, 1, '2030-01-01', NULL)",
            "UPDATE items SET qty = 2 WHERE id = 1",
        )
        _settle(p, events=3)
        mine, theirs = _both(p)
        assert [r[:3] for r in theirs] == [(1, "from-mysql", 1)], "PostgreSQL: MySQL's row wins"
        assert mine == theirs, f"the databases differ: mysql {mine} postgres {theirs}"


def test_mysql_wins_postgres_insert_then_delete_in_one_batch_keeps_mysql_row(
    make_items: Any,
) -> None:
    """mysql_wins, FULL. MySQL inserts key 1; PostgreSQL inserts key 1 and deletes it again in
    one transaction. Applied one by one, PostgreSQL's insert and its delete (of its own row,
    whose before-image is not MySQL's row) both lose to MySQL: MySQL's row on both sides.
    Folded, the delete carries the insert's before-image (None), so _decide_delete() applies it
    unconditionally ('not seen.has_before'): MySQL's row is deleted in MySQL, while PostgreSQL
    takes MySQL's insert. Nothing is recorded on the MySQL side."""
    with make_items("mysql_wins", pg_extra=(FULL,)) as p:
        _mysql(p, "INSERT INTO items VALUES (1, 'from-mysql', 1, 1, '2030-01-01', NULL)")
        _pg(
            p,
            "INSERT INTO items VALUES (1, 'from-pg', 1, 1, '2030-01-01', NULL)",
            "DELETE FROM items WHERE id = 1",
        )
        _settle(p, events=3)
        mine, theirs = _both(p)
        assert mine == theirs, f"the databases differ: mysql {mine} postgres {theirs}"
        assert [r[:3] for r in mine] == [(1, "from-mysql", 1)]


def _identity(p: Pipeline) -> str:
    ((identity,),) = pg_rows(
        p, "SELECT relreplident FROM pg_class WHERE oid = 'public.items'::regclass"
    )
    return str(identity)


def _refused_by_apply_then_set_right_by_ddl(
    p: Pipeline, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table as the review found it (default identity) is what lost data: `connectors
    apply`'s preflight refuses it, naming the ALTER, and `make ddl` sets FULL (ADR 0014)."""
    assert _identity(p) == "d"
    ctx = connector_actions.ConnectorContext(p.endpoints, p.mappings, p.settings)
    connectors = connector_actions.render(ctx)
    with pytest.raises(PreflightError) as refused:
        connector_actions.preflight(ctx, connectors, applying=True)
    message = str(refused.value)
    assert "replica_identity_conflicts: public.items: synced both ways under conflict rule" in (
        message
    )
    assert 'ALTER TABLE "public"."items" REPLICA IDENTITY FULL' in message
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in p.mappings]))
    for name, value in p.env().items():
        monkeypatch.setenv(name, value)
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert _identity(p) == "f"
    connector_actions.preflight(ctx, connectors, applying=True)  # nothing refused now


def test_lww_default_identity_postgres_delete_loses_to_a_newer_mysql_update(
    make_items: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """last_writer_wins. PostgreSQL deletes row 1 now; MySQL updates it with a rule value in
    2099: the update is newer and must win on both sides.

    Under PostgreSQL's default replica identity (which ADR 0014 first allowed for this rule)
    the delete's before-image held only the key, so _decide_delete() applied it without
    comparing anything ('not seen.has_before'): MySQL's newer row was deleted, PostgreSQL
    brought it back from MySQL's update, and the sides ended different. That configuration is
    now refused by `connectors apply` and set right by `ddl`; with FULL the delete carries the
    row it removed, MySQL sees its row changed since, and the newer update wins on both
    sides."""
    with make_items("last_writer_wins", "updated_at") as p:
        _refused_by_apply_then_set_right_by_ddl(p, tmp_path / "mappings", monkeypatch)
        _seed(p, "INSERT INTO items VALUES (1, 'one', 1, 1, '2030-01-01', NULL)")
        _pg(p, "DELETE FROM items WHERE id = 1")
        _mysql(p, "UPDATE items SET qty = 5, updated_at = '2099-01-01' WHERE id = 1")
        _settle(p, events=2)
        mine, theirs = _both(p)
        assert mine == theirs, (
            f"the databases differ: mysql {mine} postgres {theirs}; conflicts {_conflicts(p)}"
        )
        assert [r[:3] for r in mine] == [(1, "one", 5)], "the newer update wins"
        # MySQL saw its row changed since the delete's before-image and kept the newer update
        assert sorted(_conflicts(p)) == [
            ("mysql", "update_delete", "mysql"),
            ("postgres", "delete_update", "mysql"),
        ]


def test_lww_default_identity_a_postgres_update_with_an_older_stamp_is_not_left_behind(
    make_items: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """last_writer_wins. Only PostgreSQL writes: one update whose rule value is older than the
    row's (PostgreSQL's clock behind MySQL's, or an application that sets the column). There is
    no concurrent MySQL change, so there is no conflict at all.

    Under the default replica identity decide() had no before-image and compared the rule
    column alone: it skipped PostgreSQL's change as 'update_update' won by MySQL, but MySQL's
    row was no new change and never went to PostgreSQL, so the sides stayed different for
    good. That configuration is now refused by `connectors apply` and set right by `ddl`; with
    FULL the before-image is MySQL's row as it is, so the update applies and no conflict is
    recorded."""
    with make_items("last_writer_wins", "updated_at") as p:
        _refused_by_apply_then_set_right_by_ddl(p, tmp_path / "mappings", monkeypatch)
        _seed(p, "INSERT INTO items VALUES (1, 'one', 1, 1, '2030-01-01 00:00:05', NULL)")
        _pg(p, "UPDATE items SET qty = 9, updated_at = '2030-01-01 00:00:04' WHERE id = 1")
        _settle(p, events=1)
        mine, theirs = _both(p)
        assert mine == theirs, (
            f"the databases differ: mysql {mine} postgres {theirs}; conflicts {_conflicts(p)}"
        )
        assert [r[:3] for r in mine] == [(1, "one", 9)], "PostgreSQL's update, the only one"
        assert _conflicts(p) == [], "one side wrote: no conflict"


def test_version_a_delete_of_a_higher_version_is_not_undone_by_an_older_update(
    make_items: Any,
) -> None:
    """rule version on qty, FULL. From version 1, MySQL updates the row to version 3 and then
    deletes it; PostgreSQL concurrently updates it to version 2. A delete counts as the version
    it removed (3 > 2): the delete wins, the row is gone on both sides. PostgreSQL decides so
    (delete_update, MySQL wins).

    MySQL's applier met PostgreSQL's update with no row (MySQL deleted it) and
    conflicts._resolve() let an update_delete always bring the row back under version; version
    tables kept no tombstones and _bury() only ran for last_writer_wins: MySQL ended with
    version 2, PostgreSQL without it. Now the delete's tombstone carries the version it removed
    (the update loses to it), and when the update was consumed first the delete that wins at
    PostgreSQL removes the row brought back on MySQL. Both orders are checked."""
    with make_items("version", "qty", pg_extra=(FULL,)) as p:
        _seed(p, "INSERT INTO items VALUES (1, 'one', 1, 1, '2030-01-01', NULL)")
        _pg(p, "UPDATE items SET qty = 2, name = 'pg' WHERE id = 1")
        _mysql(
            p,
            "UPDATE items SET qty = 3, name = 'mysql' WHERE id = 1",
            "DELETE FROM items WHERE id = 1",
        )
        _settle(p, events=3)
        mine, theirs = _both(p)
        assert mine == theirs, (
            f"the databases differ: mysql {mine} postgres {theirs}; conflicts {_conflicts(p)}"
        )
        assert mine == [], "the delete removed version 3, newer than PostgreSQL's 2"
        assert ("mysql", "delete_update", "mysql") in _conflicts(p)

        # the other order: PostgreSQL's update reaches MySQL first and brings the row back
        # (no tombstone yet); MySQL's delete then wins at PostgreSQL and removes that row again
        _seed(p, "INSERT INTO items VALUES (2, 'two', 1, 1, '2030-01-01', NULL)")
        _pg(p, "UPDATE items SET qty = 2, name = 'pg' WHERE id = 2")
        _mysql(
            p,
            "UPDATE items SET qty = 3, name = 'mysql' WHERE id = 2",
            "DELETE FROM items WHERE id = 2",
        )
        with closing(p.consumer(incoming_sides=("postgres",))) as pg_only:
            drive(pg_only, lambda: [r[:3] for r in mysql_rows(p, ROWS)] == [(2, "pg", 2)])
        _settle(p, events=2)
        mine, theirs = _both(p)
        assert mine == theirs == [], f"mysql {mine} postgres {theirs}; conflicts {_conflicts(p)}"


def test_lww_a_key_recreated_in_the_second_of_its_delete_is_on_both_sides_or_neither(
    make_items: Any,
) -> None:
    """last_writer_wins, FULL. PostgreSQL deletes row 1; once the delete has reached MySQL,
    MySQL's application inserts key 1 again, stamped by a second-precision clock (a DATETIME(0)
    column's NOW(), or MySQL's clock a little behind PostgreSQL's): its rule value is the
    delete's second, truncated, so a little older than the delete's millisecond commit time.

    PostgreSQL's applier finds no row and PostgreSQL's tombstone newer: the insert 'loses'
    (update_delete, PostgreSQL wins) and is skipped. But the delete already ran in MySQL before
    the insert, so nothing removed MySQL's new row: MySQL kept it, PostgreSQL did not. Now the
    applier also removes the row on MySQL while the tombstone still beats its rule value (see
    conflicts.py and ADR 0004): the key is on neither side, as the conflict record says."""
    with make_items("last_writer_wins", "updated_at", pg_extra=(FULL,)) as p:
        _seed(p, "INSERT INTO items VALUES (1, 'one', 1, 1, '2020-01-01', NULL)")
        _pg(p, "DELETE FROM items WHERE id = 1")
        with closing(p.consumer()) as c:
            drive(c, lambda: mysql_rows(p, ROWS) == [])
            c.run(max_seconds=2, idle_stop_s=1)
        ((deleted_at,),) = pg_rows(
            p, "SELECT date_trunc('second', deleted_at AT TIME ZONE 'UTC') FROM mps_sync.tombstones"
        )
        stamp = deleted_at.strftime("%Y-%m-%d %H:%M:%S")
        _mysql(p, f"INSERT INTO items VALUES (1, 'again', 7, 1, '{stamp}', NULL)")
        _settle(p, events=1)
        mine, theirs = _both(p)
        assert mine == theirs, (
            f"the databases differ: mysql {mine} postgres {theirs}; conflicts {_conflicts(p)}"
        )
        assert mine == [], "the delete's millisecond time beats the second-precision stamp"
        assert _conflicts(p) == [("mysql", "update_delete", "postgres")]


def test_postgres_wins_mysql_insert_then_update_in_one_batch_does_not_overwrite_postgres(
    make_items: Any,
) -> None:
    """The mirror of the mysql_wins case: postgres_wins (default identity). MySQL's insert and
    update of key 1 fold into op 'u' without a before-image, and decide() applies it over
    PostgreSQL's concurrently inserted row, unrecorded; MySQL takes PostgreSQL's insert."""
    with make_items("postgres_wins") as p:
        _pg(p, "INSERT INTO items VALUES (1, 'from-pg', 1, 1, '2030-01-01', NULL)")
        conn = p.mysql()
        try:
            conn.autocommit(False)
            cur = conn.cursor()
            cur.execute("INSERT INTO items VALUES (1, 'from-mysql', 1, 1, '2030-01-01', NULL)")
            cur.execute("UPDATE items SET qty = 2 WHERE id = 1")
            conn.commit()
        finally:
            conn.close()
        _settle(p, events=3)
        mine, theirs = _both(p)
        assert [r[:3] for r in mine] == [(1, "from-pg", 1)], "MySQL: PostgreSQL's row wins"
        assert mine == theirs, f"the databases differ: mysql {mine} postgres {theirs}"
