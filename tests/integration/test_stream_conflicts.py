"""Conflicting changes on both sides resolve by the table's rule, and every decision is recorded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from typing import Any

import MySQLdb
import psycopg
import pytest
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    drive,
    items_mapping,
    pipeline,
    wait_until,
)

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


@pytest.fixture
def lww(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [items_mapping(mysql_db.database, "last_writer_wins", "updated_at")],
        [ITEMS_MYSQL],
        [ITEMS_PG, "ALTER TABLE public.items REPLICA IDENTITY FULL"],
    ) as p:
        yield p


def _rows(conn: Any, mysql: bool) -> list[tuple[Any, ...]]:
    sql = "SELECT id, name, qty, updated_at FROM items ORDER BY id"
    if mysql:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    return [tuple(r) for r in conn.execute(sql)]


def test_last_writer_wins_with_update_and_delete_conflicts(lww: Pipeline) -> None:
    consumer = lww.consumer()
    m, pg = lww.mysql(), lww.pg()
    try:
        m.cursor().execute(
            "INSERT INTO items VALUES (1, 'one', 1, 1, '2030-01-01 00:00:00', NULL),"
            " (2, 'two', 2, 2, '2030-01-01 00:00:00', NULL), (3, 'three', 3, 3, '2030-01-01', NULL)"
        )
        drive(consumer, lambda: len(_rows(pg, False)) == 3)
        # both sides change the same rows while the consumer is not running
        m.cursor().execute(
            "UPDATE items SET qty = 100, updated_at = '2030-01-01 00:00:02' WHERE id = 1"
        )
        pg.execute("UPDATE items SET qty = 200, updated_at = '2030-01-01 00:00:01' WHERE id = 1")
        m.cursor().execute("DELETE FROM items WHERE id = 2")  # deleted now (2026)...
        pg.execute("UPDATE items SET qty = 222, updated_at = '2031-01-01' WHERE id = 2")  # ...later
        # equal timestamps: the tie goes to MySQL on both sides
        m.cursor().execute("UPDATE items SET name = 'm', updated_at = '2030-06-01' WHERE id = 3")
        pg.execute("UPDATE items SET name = 'p', updated_at = '2030-06-01' WHERE id = 3")

        def converged() -> bool:
            mine, theirs = _rows(m, True), _rows(pg, False)
            return mine == theirs and [r[:3] for r in mine] == [
                (1, "one", 100),
                (2, "two", 222),
                (3, "m", 3),
            ]

        drive(consumer, converged)
        consumer.run(max_seconds=2)
        assert converged()
        recorded = pg.execute(
            "SELECT key->>'id', incoming_side, kind, winner, rule, incoming_image IS NOT NULL,"
            " CASE WHEN target_image IS NULL THEN 'none' WHEN target_image ? '__deleted_at'"
            " THEN 'tombstone' ELSE 'row' END FROM mps_sync.conflicts ORDER BY 1, 2"
        ).fetchall()
        # last column: the target's image, or the other side's tombstone for a deleted row
        decided = {
            ("1", "mysql", "update_update", "mysql", "last_writer_wins", True, "row"),
            ("2", "mysql", "delete_update", "postgres", "last_writer_wins", True, "row"),
            ("2", "postgres", "update_delete", "postgres", "last_writer_wins", True, "tombstone"),
            ("3", "mysql", "update_update", "mysql", "last_writer_wins", True, "row"),
        }
        # PostgreSQL's losing updates of ids 1 and 3 are decided again on the MySQL side only when
        # they reach the consumer in another batch than the echo of MySQL's winning row, which
        # supersedes them otherwise (the echo says PostgreSQL already took MySQL's row).
        maybe_again = {
            ("1", "postgres", "update_update", "mysql", "last_writer_wins", True, "row"),
            ("3", "postgres", "update_update", "mysql", "last_writer_wins", True, "row"),
        }
        got = [tuple(r) for r in recorded]
        assert len(got) == len(set(got))
        assert decided <= set(got) <= decided | maybe_again
    finally:
        consumer.close()
        m.close()
        pg.close()


def _conflicting_updates(lww: Pipeline, m: Any, pg: Any) -> None:
    """Row 1 synced, then updated on both sides while no consumer runs; MySQL's is newer."""
    with closing(lww.consumer()) as both:
        m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, '2030-01-01', NULL)")
        drive(both, lambda: len(_rows(pg, False)) == 1)
    pg.execute("UPDATE items SET qty = 2, updated_at = '2030-01-02' WHERE id = 1")
    m.cursor().execute("UPDATE items SET qty = 3, updated_at = '2030-01-03' WHERE id = 1")


def test_a_crash_right_after_the_targets_commit_loses_no_conflict_record(
    lww: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conflicts of a batch are recorded before its targets commit. They used to be written
    after, beside the counters: a consumer killed in between had applied the decision, and the
    batch was never replayed, so its conflict was never recorded."""
    from mysql_pg_sync.cdc import consumer as consumer_module

    m, pg = lww.mysql(), lww.pg()
    try:
        _conflicting_updates(lww, m, pg)

        def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("killed after the targets committed")

        monkeypatch.setattr(consumer_module, "record_batch", crash)
        with (
            closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only,
            pytest.raises(RuntimeError, match="killed after"),
        ):
            drive(mysql_only, lambda: False, timeout_s=60)
        assert [r[2] for r in _rows(pg, False)] == [3]  # the decision was applied...
        recorded = "SELECT key->>'id', kind, winner FROM mps_sync.conflicts"
        assert pg.execute(recorded).fetchall() == [("1", "update_update", "mysql")]  # ...and kept
        monkeypatch.undo()
        with closing(lww.consumer(incoming_sides=("mysql",))) as again:  # no replay, no 2nd record
            again.run(max_seconds=3, idle_stop_s=2)
        assert pg.execute(recorded).fetchall() == [("1", "update_update", "mysql")]
    finally:
        m.close()
        pg.close()


def test_a_conflict_whose_write_was_rolled_back_leaves_no_record(
    lww: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: conflicts recorded ahead of a target commit that then failed stayed
    behind as decisions that never happened. Toward PostgreSQL they now share the target's
    transaction."""
    from mysql_pg_sync.cdc import consumer as consumer_module

    m, pg = lww.mysql(), lww.pg()
    try:
        _conflicting_updates(lww, m, pg)
        commit_order = consumer_module.StreamConsumer._commit_order

        class Killed:
            def commit(self) -> None:
                raise RuntimeError("killed before the target committed")

        def order(self: Any, result: Any) -> list[Any]:
            sessions = commit_order(self, result)
            return [(side, Killed()) for side, _ in sessions] if result.conflicts else sessions

        monkeypatch.setattr(consumer_module.StreamConsumer, "_commit_order", order)
        with (
            closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only,
            pytest.raises(RuntimeError, match="killed before"),
        ):
            drive(mysql_only, lambda: False, timeout_s=60)
        recorded = "SELECT key->>'id', kind, winner FROM mps_sync.conflicts"
        assert pg.execute(recorded).fetchall() == []  # rolled back with the write
        assert [r[2] for r in _rows(pg, False)] == [2]
        monkeypatch.undo()
        with closing(lww.consumer(incoming_sides=("mysql",))) as again:
            drive(again, lambda: [r[2] for r in _rows(pg, False)] == [3])
        assert pg.execute(recorded).fetchall() == [("1", "update_update", "mysql")]
    finally:
        m.close()
        pg.close()


def test_an_insert_racing_an_application_insert_is_decided_with_the_row_locked_and_recorded(
    lww: Pipeline,
) -> None:
    """Found in review: a key absent when the applier locked its rows could be inserted by the
    application before the applier's own insert. PostgreSQL takes no gap locks, so the rule's
    guard in the upsert decided that conflict alone, and nothing recorded it."""
    m = lww.mysql()
    app = pg_connect(lww.endpoints.postgres)  # an application transaction, left open
    watcher = lww.pg()
    try:
        app.execute(
            "INSERT INTO items VALUES (5, 'app', 50, 50, '2030-01-02', NULL)"
        )  # newer than MySQL's row below, not committed yet
        m.cursor().execute("INSERT INTO items VALUES (5, 'mysql', 5, 5, '2030-01-01', NULL)")
        failures: list[BaseException] = []

        def consume() -> None:
            try:
                with closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only:
                    drive(mysql_only, lambda: _recorded(watcher) != [], timeout_s=60)
            except BaseException as exc:  # reported by the main thread
                failures.append(exc)

        worker = threading.Thread(target=consume)
        worker.start()
        wait_until(  # the applier's insert waits for the application's uncommitted row
            lambda: (
                watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database() AND query LIKE 'INSERT INTO%%items%%'"
                ).fetchone()[0]
                > 0
            ),
            timeout_s=60,
        )
        app.commit()
        worker.join(90)
        assert not failures, failures
        rows = watcher.execute("SELECT id, name, qty FROM items ORDER BY id").fetchall()
        assert rows == [(5, "app", 50)]  # the application's newer row wins...
        assert _recorded(watcher) == [("5", "mysql", "postgres", "last_writer_wins")]  # ...noted
    finally:
        app.close()
        watcher.close()
        m.close()


def _recorded(pg: Any) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in pg.execute(
            "SELECT key->>'id', incoming_side, winner, rule FROM mps_sync.conflicts ORDER BY id"
        ).fetchall()
    ]


def test_a_late_delete_removes_the_row_an_older_update_brought_back(lww: Pipeline) -> None:
    """Found by `make chaos`: MySQL's newer update won on both sides, then MySQL deleted the row.
    PostgreSQL's older update reached MySQL after that delete but before the delete's own event
    was consumed (no tombstone yet), so the applier brought the row back there. The delete then
    met PostgreSQL's row unchanged, no conflict, so nothing removed the revenant on MySQL."""
    m, pg = lww.mysql(), lww.pg()
    # one member of the consumer group at a time: a member that stops polling stalls the
    # group's next rebalance until its session times out
    try:
        with closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only:
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, '2020-01-01', NULL)")
            drive(mysql_only, lambda: len(_rows(pg, False)) == 1)
            pg.execute("UPDATE items SET qty = 2, updated_at = '2020-01-02' WHERE id = 1")
            m.cursor().execute("UPDATE items SET qty = 3, updated_at = '2020-01-03' WHERE id = 1")
            drive(mysql_only, lambda: [r[2] for r in _rows(pg, False)] == [3])  # newer MySQL won
        m.cursor().execute("DELETE FROM items WHERE id = 1")  # now: newer than both updates
        # PostgreSQL's older update alone, with no tombstone of the delete known yet
        with closing(lww.consumer(incoming_sides=("postgres",), max_batch_events=1)) as pg_only:
            drive(pg_only, lambda: [r[2] for r in _rows(m, True)] == [2])
        with closing(lww.consumer()) as both:
            drive(both, lambda: _rows(m, True) == [] and _rows(pg, False) == [])
            both.run(max_seconds=3, idle_stop_s=2)
        assert _rows(m, True) == []
        assert _rows(pg, False) == []
    finally:
        m.close()
        pg.close()


def test_a_crash_between_the_two_commits_still_removes_the_revenant(
    lww: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: the row a late delete buries on MySQL is removed in the MySQL session,
    but the delete's own offset is fenced in PostgreSQL. PostgreSQL committed first; a crash
    before MySQL's commit skipped the delete on replay, and the revenant stayed for good."""
    from mysql_pg_sync.cdc import consumer as consumer_module

    m, pg = lww.mysql(), lww.pg()
    try:
        with closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only:
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, '2020-01-01', NULL)")
            drive(mysql_only, lambda: len(_rows(pg, False)) == 1)
            pg.execute("UPDATE items SET qty = 2, updated_at = '2020-01-02' WHERE id = 1")
            m.cursor().execute("UPDATE items SET qty = 3, updated_at = '2020-01-03' WHERE id = 1")
            drive(mysql_only, lambda: [r[2] for r in _rows(pg, False)] == [3])
        m.cursor().execute("DELETE FROM items WHERE id = 1")
        with closing(lww.consumer(incoming_sides=("postgres",), max_batch_events=1)) as pg_only:
            drive(pg_only, lambda: [r[2] for r in _rows(m, True)] == [2])  # the revenant

        buried = consumer_module.StreamConsumer._bury
        commit_order = consumer_module.StreamConsumer._commit_order
        crashed: list[bool] = []

        def bury(self: Any, *args: Any) -> None:
            buried(self, *args)
            crashed.append(False)

        def order(self: Any, result: Any) -> list[Any]:
            sessions = commit_order(self, result)
            if crashed != [False]:
                return sessions
            crashed[0] = True

            class Killed:  # the process dies after the first target's commit
                def __init__(self, session: Any) -> None:
                    self.session = session

                def commit(self) -> None:
                    raise RuntimeError("killed between the two commits")

            return [sessions[0], *[(side, Killed(s)) for side, s in sessions[1:]]]

        monkeypatch.setattr(consumer_module.StreamConsumer, "_bury", bury)
        monkeypatch.setattr(consumer_module.StreamConsumer, "_commit_order", order)
        with (
            closing(lww.consumer()) as both,
            pytest.raises(RuntimeError, match="killed between"),
        ):
            drive(both, lambda: False, timeout_s=60)
        monkeypatch.undo()
        with closing(lww.consumer()) as restarted:
            drive(restarted, lambda: _rows(m, True) == [] and _rows(pg, False) == [])
            restarted.run(max_seconds=3, idle_stop_s=2)
        assert _rows(m, True) == []
        assert _rows(pg, False) == []
    finally:
        m.close()
        pg.close()


def test_a_delete_is_no_older_than_the_version_it_removed(lww: Pipeline) -> None:
    """Found by `make chaos` (seed 912710307). MySQL's binlog stamps a commit to the whole second,
    so by commit time alone MySQL's delete looked older than PostgreSQL's update written earlier
    in that second, although the version the delete removed had already beaten that update; the
    update brought the row back on MySQL only. Future timestamps stand in for the same second:
    the delete commits now, before both updates' rule values."""
    m, pg = lww.mysql(), lww.pg()
    try:
        with closing(lww.consumer()) as both:
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, '2020-01-01', NULL)")
            drive(both, lambda: len(_rows(pg, False)) == 1)
        pg.execute("UPDATE items SET qty = 2, updated_at = '2099-01-01 00:00:01' WHERE id = 1")
        m.cursor().execute(
            "UPDATE items SET qty = 3, updated_at = '2099-01-01 00:00:02' WHERE id = 1"
        )
        m.cursor().execute("DELETE FROM items WHERE id = 1")  # removes the newest version
        # MySQL's delete first (it leaves its tombstone), then PostgreSQL's older update
        with closing(lww.consumer(incoming_sides=("mysql",))) as mysql_only:
            drive(mysql_only, lambda: _rows(pg, False) == [])
            mysql_only.run(max_seconds=2, idle_stop_s=1)
        with closing(lww.consumer(incoming_sides=("postgres",))) as pg_only:
            pg_only.run(max_seconds=5, idle_stop_s=2)
        assert _rows(m, True) == []
        assert _rows(pg, False) == []
        winner = pg.execute(
            "SELECT winner FROM mps_sync.conflicts WHERE incoming_side = 'postgres'"
            " AND kind = 'update_delete'"
        ).fetchall()
        assert winner == [("mysql",)]
    finally:
        m.close()
        pg.close()


def _deadlock(
    consumer: Any,
    caplog: pytest.LogCaptureFixture,
    applier_waits: Callable[[], bool],
    close_cycle: Callable[[], object],
    app: Any,
    done: Callable[[], bool],
) -> list[BaseException]:
    """Drive ``consumer`` until ``done`` while the application, once the applier waits on its
    lock, takes the row the applier holds (a deadlock) and commits; the application's error,
    if it lost the deadlock instead."""
    errors: list[BaseException] = []

    def application() -> None:
        try:
            wait_until(applier_waits, timeout_s=60)
            close_cycle()
            app.commit()
        except BaseException as exc:
            errors.append(exc)
            app.rollback()

    worker = threading.Thread(target=application)
    worker.start()
    # one long run, not drive()'s 0.5 s slices: a slice that ended between the changes of the
    # two rows applied them in two batches, so the applier never held one while waiting on the
    # other and there was no deadlock to break (CI, stop 25)
    with caplog.at_level(logging.WARNING, logger="mysql_pg_sync.cdc.consumer"):
        consumer.run(max_seconds=120, stop=done)
    worker.join(30)
    assert done(), "the applier did not apply the batch within 120 s"
    return errors


def test_a_deadlock_with_an_application_transaction_reruns_the_batch(
    lww: Pipeline, pg_admin: DatabaseEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Found by `make chaos` (seed 1313419420): PostgreSQL broke a deadlock between the applier's
    row locks and the application's own transaction by failing the applier, which crashed."""
    m, pg, watch = lww.mysql(), lww.pg(), lww.pg()
    # PostgreSQL fails the session whose deadlock_timeout runs out first while in the cycle; the
    # application's is long (a superuser setting), so that is always the applier's
    app = pg_connect(replace(pg_admin, database=lww.endpoints.postgres.database))
    app.execute("SET deadlock_timeout = '30s'")
    app.commit()
    try:
        # one batch for the update of both rows: the applier locks one, then waits on the other
        with closing(lww.consumer(max_batch_ms=2000)) as consumer:
            m.cursor().execute(
                "INSERT INTO items VALUES (1, 'one', 1, 1, '2020-01-01', NULL),"
                " (2, 'two', 2, 2, '2020-01-01', NULL)"
            )
            drive(consumer, lambda: len(_rows(pg, False)) == 2)
            # the applier's lock query scans the heap: it takes the row stored first, then waits
            # on the one the application holds, which will want the first
            first, second = [r[0] for r in pg.execute("SELECT id FROM items ORDER BY ctid")]
            app.execute("UPDATE items SET qty = 20 WHERE id = %s", (second,))
            m.cursor().execute("UPDATE items SET qty = qty + 100, updated_at = '2030-01-01'")
            app_pid = app.info.backend_pid

            def applier_waits() -> bool:
                waiting = watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid <> %s"
                    " AND wait_event_type = 'Lock' AND datname = current_database()",
                    (app_pid,),
                ).fetchone()[0]
                if not waiting:
                    return False
                try:  # and holds the first row: a deadlock, not a wait for the application
                    watch.execute("SELECT 1 FROM items WHERE id = %s FOR UPDATE NOWAIT", (first,))
                except psycopg.errors.LockNotAvailable:
                    return True
                return False

            app_error = _deadlock(
                consumer,
                caplog,
                applier_waits,
                lambda: app.execute("UPDATE items SET qty = 10 WHERE id = %s", (first,)),
                app,
                lambda: [r[2] for r in _rows(pg, False)] == [101, 102],
            )
        assert "rolled back by the server" in caplog.text
        assert not app_error, f"the application lost the deadlock: {app_error}"
        assert _rows(m, True) == _rows(pg, False)
    finally:
        m.close()
        pg.close()
        app.close()
        watch.close()


def test_a_mysql_deadlock_with_an_application_transaction_reruns_the_batch(
    lww: Pipeline, mysql_admin: DatabaseEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """As above, on MySQL: InnoDB fails the lighter transaction of a deadlock at once, here the
    applier's (the application has changed more rows), with error 1213."""
    m, pg, app = lww.mysql(), lww.pg(), lww.mysql()
    database = lww.endpoints.mysql.database
    watch = mysql_connect(replace(mysql_admin, database=database), autocommit=True)
    app.autocommit(False)
    try:
        # one batch for the update of both rows: the applier locks row 1, then waits on row 2
        with closing(lww.consumer(max_batch_ms=2000)) as consumer:
            m.cursor().execute(
                "INSERT INTO items SELECT seq, 'n', seq, 1, '2020-01-01', NULL FROM seq_1_to_12"
            )
            drive(consumer, lambda: len(_rows(pg, False)) == 12)
            # the application holds rows 2..12 and will want row 1; the applier takes 1, waits on 2
            app.cursor().execute("UPDATE items SET qty = qty + 1000 WHERE id >= 2")
            pg.execute("UPDATE items SET qty = qty + 100, updated_at = '2030-01-01' WHERE id <= 2")

            def applier_waits() -> bool:
                cur = watch.cursor()
                cur.execute(
                    "SELECT COUNT(*) FROM information_schema.innodb_trx"
                    " WHERE trx_state = 'LOCK WAIT'"
                )
                if not cur.fetchone()[0]:
                    return False
                try:  # and holds row 1: a deadlock, not a wait for the application alone
                    cur.execute("SELECT id FROM items WHERE id = 1 FOR UPDATE NOWAIT")
                except MySQLdb.OperationalError:
                    return True
                return False

            app_error = _deadlock(
                consumer,
                caplog,
                applier_waits,
                lambda: app.cursor().execute("UPDATE items SET qty = 10 WHERE id = 1"),
                app,
                lambda: [r[2] for r in _rows(m, True)][:2] == [101, 102],
            )
        assert "rolled back by the server" in caplog.text
        assert not app_error, f"the application lost the deadlock: {app_error}"
        assert _rows(m, True)[:2] == _rows(pg, False)[:2]
    finally:
        m.close()
        pg.close()
        app.close()
        watch.close()
