"""The Avro path for real: Debezium with Apicurio's Avro converter on the local Connect, schemas in
the local Apicurio registry, and the stream consumer decoding through the Confluent-compatible API.
"""

from __future__ import annotations

from typing import Any

from tests.integration.stream_harness import ITEMS_MYSQL, ITEMS_PG, drive, items_mapping, pipeline

from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_mysql_changes_reach_postgres_through_avro(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    assert endpoints.schema_registry_url, "MPS_SCHEMA_REGISTRY_URL is not set (stack/stack.env)"
    mapping = items_mapping(mysql_db.database).model_copy(update={"direction": "mysql_to_pg"})
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [mapping],
        [ITEMS_MYSQL],
        [ITEMS_PG],
        converter="avro",
    ) as p:
        m = p.mysql()
        cur = m.cursor()
        cur.execute(
            "INSERT INTO items VALUES (1, 'héllo 🐘', 3, 12.50, '2026-11-25 10:00:00.123456', "
            "'a\\tb'), (2, 'two', NULL, NULL, NOW(6), NULL)"
        )
        cur.execute("UPDATE items SET qty = 4, price = 99.99 WHERE id = 1")
        cur.execute("DELETE FROM items WHERE id = 2")
        m.close()

        def rows(conn: Any) -> list[tuple[Any, ...]]:
            c = conn.cursor()
            c.execute("SELECT id, name, qty, price, updated_at, note FROM items ORDER BY id")
            return [tuple(r) for r in c.fetchall()]

        def equal() -> bool:
            source = p.mysql()
            try:
                expected = rows(source)
            finally:
                source.close()
            with p.pg() as pg:
                return rows(pg) == expected and len(expected) == 1

        consumer = p.consumer()
        try:
            drive(consumer, equal, timeout_s=120)
        finally:
            consumer.close()
        with p.pg() as pg:
            (row,) = rows(pg)
    assert row[1] == "héllo 🐘"
    assert row[2] == 4
    assert str(row[3]) == "99.99"
    assert row[5] == "a\tb"
