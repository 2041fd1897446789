"""A backfill's replay on a two-way table under the version rule: the copy already holds MySQL's
later rows, so a replayed delete that conflicts with the copy must not remove MySQL's row.

MySQL deletes key 50 at version 5 and inserts it again at version 1 (the app's counter starts
anew) after the recorded position and before the key's chunk is read: the copy holds version
1. The replayed delete meets version 1 in PostgreSQL, wins (5 > 1) and used to queue the
removal of the row it beat on MySQL's side; MySQL's re-inserted row holds that very version,
so MySQL, the system of record, lost the row for good."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
    pipeline,
)
from tests.integration.test_backfill import run_all

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import Backfill, RunOptions
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

KEY = 50


def test_a_replayed_delete_of_a_re_created_key_keeps_mysql_s_row(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mapping = items_mapping(mysql_db.database, "version", "qty")
    pg_ddl = [ITEMS_PG, "ALTER TABLE public.items REPLICA IDENTITY FULL"]
    with pipeline(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, [mapping], [ITEMS_MYSQL], pg_ddl
    ) as p:
        seed = p.mysql()
        seed.cursor().executemany(
            "INSERT INTO items VALUES (%s, %s, %s, 1, NOW(6), NULL)",
            [(i, f"n{i}", 5 if i == KEY else 1) for i in range(1, 101)],
        )
        seed.close()
        bf = Backfill(
            p.endpoints,
            p.mappings,
            capture_check=handoff.connect_capture_check(endpoints.connect_url),
            position_reader=handoff.kafka_end_offsets(endpoints.kafka_bootstrap),
            reports_dir=tmp_path,
        )
        copy_chunk = bf.copy_chunk
        rewritten: list[bool] = []

        def copy_after_the_re_creation(ref: Any, run_id: str, batch_rows: int) -> dict[str, Any]:
            if not rewritten:  # after the position, before any chunk is read
                c = p.mysql()
                cur = c.cursor()
                cur.execute("DELETE FROM items WHERE id = %s", (KEY,))
                cur.execute("INSERT INTO items VALUES (%s, 'again', 1, 1, NOW(6), NULL)", (KEY,))
                c.close()
                rewritten.append(True)
            return copy_chunk(ref, run_id, batch_rows)

        bf.copy_chunk = copy_after_the_re_creation  # type: ignore[method-assign]
        run_all(bf, RunOptions(chunk_rows=20, batch_rows=20))
        assert rewritten
        key_sql = f"SELECT name, qty FROM items WHERE id = {KEY}"
        assert pg_rows(p, key_sql.replace("items", "public.items")) == [("again", 1)]
        # one event a batch: the delete and the insert are replayed apart, as in a long replay
        consumer = p.consumer(max_batch_events=1)
        try:
            marker = p.mysql()
            marker.cursor().execute("UPDATE items SET name = 'marker', qty = 2 WHERE id = 1")
            marker.close()
            drive(
                consumer,
                lambda: pg_rows(p, "SELECT name FROM public.items WHERE id = 1") == [("marker",)],
                timeout_s=120,
            )
        finally:
            consumer.close()
        assert mysql_rows(p, key_sql) == [("again", 1)], "MySQL lost its re-created row"
        assert pg_rows(p, key_sql.replace("items", "public.items")) == [("again", 1)]
