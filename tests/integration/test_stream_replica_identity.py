"""PostgreSQL deletes under REPLICA IDENTITY DEFAULT, what `ddl` leaves: Debezium sends a whole
before-image with the NOT NULL columns filled with defaults, which must not pass for the row."""

from __future__ import annotations

from contextlib import closing

from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows

ITEMS_INSERT = "INSERT INTO items VALUES (%s, 'live', 1, 1.00, NOW(6), NULL)"


def _insert_in_mysql(items: Pipeline, *ids: int) -> None:
    conn = items.mysql()
    try:
        for i in ids:
            conn.cursor().execute(ITEMS_INSERT, (i,))
    finally:
        conn.close()


def test_a_postgres_delete_reaches_mysql_under_default_replica_identity(items: Pipeline) -> None:
    with items.pg() as pg:
        (identity,) = pg.execute(
            "SELECT relreplident FROM pg_class WHERE oid = 'public.items'::regclass"
        ).fetchone()
    assert identity == "d"
    with closing(items.consumer()) as consumer:
        _insert_in_mysql(items, 1, 2)
        drive(consumer, lambda: pg_rows(items, "SELECT id FROM items ORDER BY id") == [(1,), (2,)])
        with items.pg() as pg:
            pg.execute("DELETE FROM items WHERE id = 1")
        drive(consumer, lambda: mysql_rows(items, "SELECT id FROM items ORDER BY id") == [(2,)])
    # a key-only delete is no conflict: nothing changed the MySQL row meanwhile
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.conflicts") == [(0,)]
