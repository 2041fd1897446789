"""A backfill with mode=reload empties a two-way table with a TRUNCATE, which PostgreSQL's
capture now sends (the stream dead-letters an application's TRUNCATE). The reload's own runs
under the backfill's replication origin, so it is dropped as ours: no dead letter, whose advice
(a reconcile from PostgreSQL) would have deleted MySQL's rows (real MariaDB, PostgreSQL, Kafka
and Debezium, the reload run after the stream caught up and read after it finished)."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
    pipeline,
)
from tests.integration.test_backfill import captured_backfill, run_all

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_a_reload_of_a_two_way_table_leaves_no_truncate_dead_letter(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mapping = items_mapping(mysql_db.database)
    assert mapping.direction == "both"
    with pipeline(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, [mapping], [ITEMS_MYSQL], [ITEMS_PG]
    ) as p:
        seed = p.mysql()
        seed.cursor().executemany(
            "INSERT INTO items VALUES (%s, %s, %s, %s, NOW(6), NULL)",
            [(i, f"n{i}", i, i / 4) for i in range(1, 301)],
        )
        seed.close()
        bf = captured_backfill(p.endpoints, p.mappings, tmp_path)
        run_all(bf, RunOptions(chunk_rows=100, batch_rows=50))
        consumer = p.consumer()
        try:
            consumer.run(max_seconds=3, idle_stop_s=2)
            run_all(bf, RunOptions(chunk_rows=100, batch_rows=50, mode="reload"), "reload")
            with p.pg() as pg:  # the app's write after the reload: the stream is past it
                pg.execute("INSERT INTO items VALUES (5000, 'app', 1, 1, now(), NULL)")
            drive(consumer, lambda: bool(mysql_rows(p, "SELECT id FROM items WHERE id = 5000")))
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                consumer.run(max_seconds=0.5)
        finally:
            consumer.close()
        letters = pg_rows(p, "SELECT error_class, error FROM mps_sync.dead_letters")
        assert letters == []
        assert mysql_rows(p, "SELECT count(*) FROM items") == [(301,)]
        assert pg_rows(p, "SELECT count(*) FROM items") == [(301,)]
