"""A consumer with nothing to apply holds no database transaction open: an idle session in a
transaction keeps its snapshot (PostgreSQL cannot vacuum past it, InnoDB cannot purge) and its
locks, which queue DDL and every task behind it for the whole run."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from tests.integration.stream_harness import Pipeline, drive, pg_rows

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint

OPEN_FOR_S = 3  # a transaction older than this, in a run that applies nothing, is left open


def _open_pg(items: Pipeline) -> list[str]:
    with pg_connect(items.endpoints.postgres, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
            "AND state LIKE 'idle in transaction%%' AND now() - xact_start > %s * interval '1 s'",
            (items.endpoints.postgres.database, OPEN_FOR_S),
        ).fetchall()
    return [str(r[0]) for r in rows]


def _open_mysql(items: Pipeline, mysql_admin: DatabaseEndpoint) -> list[str]:
    admin = mysql_connect(replace(mysql_admin, database="mysql"), autocommit=True)
    try:
        cur = admin.cursor()
        cur.execute(
            "SELECT p.info, t.trx_query FROM information_schema.innodb_trx t "
            "JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id "
            "WHERE p.db = %s AND t.trx_started < NOW() - INTERVAL %s SECOND",
            (items.endpoints.mysql.database, OPEN_FOR_S),
        )
        return [str(r) for r in cur.fetchall()]
    finally:
        admin.close()


def test_an_idle_consumer_keeps_no_transaction_open(
    items: Pipeline, mysql_admin: DatabaseEndpoint
) -> None:
    first = items.consumer()  # applies one change, so the topic exists and has offsets
    try:
        items.mysql().cursor().execute(
            "INSERT INTO items (id, name, updated_at) VALUES (1, 'one', NOW(6))"
        )
        drive(first, lambda: pg_rows(items, "SELECT id FROM items") == [(1,)])
    finally:
        first.close()
    # the same group: assigned, reads its offsets, finds nothing new (MySQL's topics only: the
    # PostgreSQL source's heartbeat table would bring a change every 10 s)
    consumer = items.consumer(incoming_sides=("mysql",))
    done, assigned = threading.Event(), threading.Event()

    def stop() -> bool:
        # The run's own thread looks at the assignment: a call on the Kafka handle from the
        # test's thread waits while the run polls (5-15 s seen, so the test took 16 s).
        if consumer.consumer.assignment():
            assigned.set()
        return done.is_set()

    runner = threading.Thread(target=lambda: consumer.run(max_seconds=120, stop=stop))
    runner.start()
    try:
        try:
            # assigned, applied offsets and table states read, nothing to apply; then long
            # enough for a transaction opened meanwhile to count as left open. Not a fixed 10 s
            # from the start: a group join can take that long on a busy machine.
            assert assigned.wait(60), "the consumer got no partitions within 60 s"
            time.sleep(OPEN_FOR_S + 4)
            assert _open_pg(items) == []
            assert _open_mysql(items, mysql_admin) == []
        finally:
            done.set()
            runner.join()
        # still assigned (so the looks above were at a consumer holding partitions); read once
        # the run has ended, for the reason above
        assert consumer.consumer.assignment(), "the consumer got no partitions"
    finally:
        consumer.close()
