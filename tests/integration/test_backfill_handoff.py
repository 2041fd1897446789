"""Handoff to streaming: the Kafka position is recorded before the copy, states move
new -> backfilling -> streaming, and writes running during the copy are all after the position.

The replay itself belongs to the stream consumer (not in the tree yet): this proves the backfill's
half of the argument with the real Kafka and MariaDB.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from tests.integration.test_backfill import (
    INSERT_ITEMS,
    ITEMS_COLUMNS,
    captured_backfill,
    item_rows,
    make_backfill,
    mapping_for,
    run_all,
)

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.cdc.connector_config import change_topic
from mysql_pg_sync.cdc.consumer import RunSummary
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def _topic_with_messages(bootstrap: str, partitions: int, messages: int) -> str:
    topic = f"mps_test.backfill.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])[
        topic
    ].result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(messages):
        producer.produce(topic, value=b"x", partition=i % partitions)
    assert producer.flush(30) == 0
    return topic


def test_end_offsets_are_read_per_partition(endpoints: Endpoints) -> None:
    topic = _topic_with_messages(endpoints.kafka_bootstrap, partitions=2, messages=5)
    read = handoff.kafka_end_offsets(endpoints.kafka_bootstrap)
    assert read(topic) == {topic: {"0": 3, "1": 2}}
    missing = f"mps_test.none.{uuid.uuid4().hex[:8]}"
    assert read(missing) == {missing: {}}  # no event yet: the replay starts at the beginning


def test_position_recorded_before_copy_with_writes_running(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    admin = replace(mysql_admin, database=mysql_db.database)
    conn = mysql_connect(admin, autocommit=True)
    cur = conn.cursor()
    from tests.integration.test_backfill import ITEMS_DDL

    cur.execute(ITEMS_DDL)
    cur.executemany(INSERT_ITEMS, item_rows(3000))
    conn.close()
    topic = _topic_with_messages(endpoints.kafka_bootstrap, partitions=1, messages=3)
    mapping = mapping_for(mysql_db.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    bf.capture_check = lambda m: topic
    bf.position_reader = handoff.kafka_end_offsets(endpoints.kafka_bootstrap)

    seen: dict[str, Any] = {}
    stop = threading.Event()
    writes = {"n": 0}

    def writer() -> None:
        c = mysql_connect(admin, autocommit=True)
        k = 0
        try:
            while not stop.is_set() and k < 2000:
                cur = c.cursor()
                cur.execute("UPDATE items SET qty = qty + 1 WHERE id = %s", (1 + k % 3000,))
                cur.execute("DELETE FROM items WHERE id = %s", (3000 - k,))
                cur.executemany(INSERT_ITEMS, item_rows(1, start=100_000 + k))
                writes["n"] += 1
                k += 1
        finally:
            c.close()

    real_copy = bf.copy_chunk

    def copy_and_observe(ref: Any, run_id: str, batch_rows: int) -> dict[str, Any]:
        with pg_connect(pg_db) as pg:
            seen.setdefault(
                "state_during_copy",
                pg.execute(
                    "SELECT state, kafka_position FROM mps_sync.table_state "
                    "WHERE source_table = %s",
                    (mapping.name,),
                ).fetchone(),
            )
        return real_copy(ref, run_id, batch_rows)

    bf.copy_chunk = copy_and_observe  # type: ignore[method-assign]
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        summary = run_all(bf, RunOptions(chunk_rows=300, batch_rows=100))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert writes["n"] > 0
    assert seen["state_during_copy"] == ("backfilling", {topic: {"0": 3}})
    with pg_connect(pg_db) as pg:
        final = pg.execute(
            "SELECT state, kafka_position FROM mps_sync.table_state WHERE source_table = %s",
            (mapping.name,),
        ).fetchone()
    assert final == ("streaming", {topic: {"0": 3}})
    assert (
        summary["tables"][mapping.name]["chunks_done"] == summary["tables"][mapping.name]["chunks"]
    )


def test_copy_under_writes_then_replay_equals_mysql(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """Real Debezium capture, writes during the copy, then the stream replay: equal end state."""
    from tests.integration.stream_harness import (
        ITEMS_MYSQL,
        ITEMS_PG,
        drive,
        items_mapping,
        pipeline,
    )

    mapping = items_mapping(mysql_db.database).model_copy(update={"direction": "mysql_to_pg"})
    with pipeline(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, [mapping], [ITEMS_MYSQL], [ITEMS_PG]
    ) as p:
        seed = p.mysql()
        seed.cursor().executemany(
            "INSERT INTO items VALUES (%s, %s, %s, %s, NOW(6), %s)",
            [(i, f"n{i}\t", i % 50, i / 4, "x\\y" if i % 3 else None) for i in range(1, 2001)],
        )
        seed.close()
        bf = captured_backfill(p.endpoints, p.mappings, tmp_path)
        done = threading.Event()

        def writer() -> None:
            c = p.mysql()
            try:
                for k in range(400):
                    cur = c.cursor()
                    cur.execute(
                        "UPDATE items SET qty = qty + 1, note = 'u' WHERE id = %s",
                        (1 + (k * 7) % 2000,),
                    )
                    cur.execute("DELETE FROM items WHERE id = %s", (2000 - k,))
                    cur.execute(
                        "INSERT INTO items VALUES (%s, 'new', 1, 1.25, NOW(6), NULL)", (5000 + k,)
                    )
                    if done.is_set() and k > 50:
                        break
            finally:
                c.close()

        copy_chunk = bf.copy_chunk
        between: list[int] = []

        def copy_after_a_write(ref: Any, run_id: str, batch_rows: int) -> dict[str, Any]:
            # deterministic writes between chunks, besides the free-running writer thread:
            # a row in a chunk already copied, one in a chunk still to come, a delete, an insert
            c = p.mysql()
            cur = c.cursor()
            cur.execute(
                "UPDATE items SET name = 'between' WHERE id IN (%s, %s)", (3, 1990 - ref[1])
            )
            cur.execute("DELETE FROM items WHERE id = %s", (100 + ref[1],))
            cur.execute(
                "INSERT INTO items VALUES (%s, 'mid', 2, 2.5, NOW(6), 'm')", (9000 + ref[1],)
            )
            c.close()
            between.append(ref[1])
            return copy_chunk(ref, run_id, batch_rows)

        bf.copy_chunk = copy_after_a_write  # type: ignore[method-assign]
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            run_all(bf, RunOptions(chunk_rows=250, batch_rows=100))
        finally:
            done.set()
            thread.join(timeout=120)
        assert len(between) >= 6  # MySQL took writes while the chunks were copied
        late = p.mysql()  # and one after the last chunk: only the replay can bring it
        late.cursor().execute("UPDATE items SET qty = qty + 100 WHERE id = 1")
        late.close()

        def rows(conn: Any) -> list[tuple[Any, ...]]:
            cur = conn.cursor()
            cur.execute("SELECT id, name, qty, price, updated_at, note FROM items ORDER BY id")
            return [tuple(r) for r in cur.fetchall()]

        def equal() -> bool:
            m = p.mysql()
            try:
                source = rows(m)
            finally:
                m.close()
            with p.pg() as pg:
                return rows(pg) == source

        assert not equal()  # the copy alone is stale: the replay has work to do
        consumer = p.consumer()
        try:
            drive(consumer, equal, timeout_s=180)
        finally:
            consumer.close()


@pytest.mark.parametrize("at_source", [True, False], ids=["dropped_at_source", "old_connector"])
def test_copied_rows_never_come_back_to_mysql(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    at_source: bool,
) -> None:
    """A two-way table: PostgreSQL's CDC sees every copied row, written under the backfill's
    replication origins. The PostgreSQL source drops them before Kafka (ADR 0012); a connector
    configured without that transform sends them, and the stream drops them all as echoes.
    Either way nothing is applied back to MySQL."""
    from tests.integration.stream_harness import (
        ITEMS_MYSQL,
        ITEMS_PG,
        items_mapping,
        mysql_rows,
        pipeline,
    )
    from tests.integration.test_connectors import captured_ids

    mapping = items_mapping(mysql_db.database)
    assert mapping.direction == "both"
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [mapping],
        [ITEMS_MYSQL],
        [ITEMS_PG],
        drop_backfill_writes=at_source,
    ) as p:
        seed = p.mysql()
        seed.cursor().executemany(
            "INSERT INTO items VALUES (%s, %s, %s, %s, NOW(6), NULL)",
            [(i, f"n{i}", i, i / 4) for i in range(1, 1201)],
        )
        seed.close()
        bf = captured_backfill(p.endpoints, p.mappings, tmp_path)
        run_all(bf, RunOptions(chunk_rows=400, batch_rows=200, max_parallel=2))
        # the PostgreSQL app's write after the copy: its event follows the copy's in the WAL
        with p.pg() as pg:
            pg.execute("INSERT INTO items VALUES (5000, 'app', 1, 1, now(), NULL)")
        consumer = p.consumer()
        echoes = applied = 0
        try:
            deadline = time.monotonic() + 120
            while not mysql_rows(p, "SELECT id FROM items WHERE id = 5000"):
                assert time.monotonic() < deadline, "the app's write never reached MySQL"
                summary = consumer.run(max_seconds=2)
                echoes += summary.echoes
                applied += summary.applied
            # the app row's echo from MySQL comes a moment after its apply; a busy Connect
            # worker can hold it back longer than the idle run below waits (2 s)
            expected = 1 if at_source else 1201
            summary = RunSummary()
            consumer.run(
                max_seconds=60, stop=lambda: echoes + summary.echoes >= expected, summary=summary
            )
            echoes += summary.echoes
            applied += summary.applied
            summary = consumer.run(max_seconds=3, idle_stop_s=2)
            echoes += summary.echoes
            applied += summary.applied
        finally:
            consumer.close()
        topic = change_topic(p.settings.postgres_topic_prefix, "public", "items")
        on_kafka = captured_ids(endpoints.kafka_bootstrap, topic)
    assert applied == 1  # the app's row; its own echo from MySQL is the one echo below
    if at_source:
        assert echoes == 1
        assert on_kafka == {5000}
    else:
        assert echoes == 1201
        assert on_kafka == {*range(1, 1201), 5000}
