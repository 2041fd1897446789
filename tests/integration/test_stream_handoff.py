"""Backfill handoff: a backfilling table stays paused, then replays from the recorded position."""

from __future__ import annotations

import json

from confluent_kafka import Consumer, TopicPartition
from tests.integration.stream_harness import (
    Pipeline,
    wait_until,
)

from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import PostgresTarget


def _end_offsets(p: Pipeline, topic: str) -> dict[str, int]:
    probe = Consumer({"bootstrap.servers": p.endpoints.kafka_bootstrap, "group.id": "probe"})
    try:
        meta = probe.list_topics(topic, timeout=10).topics[topic]
        if meta.error is not None:
            return {}
        return {
            str(n): probe.get_watermark_offsets(TopicPartition(topic, n), timeout=10)[1]
            for n in meta.partitions
        }
    finally:
        probe.close()


def test_backfilling_table_is_paused_then_replays_from_the_recorded_position(
    items: Pipeline,
) -> None:
    table = items.mappings.tables[0].name
    topic = f"{items.config.mysql_topic_prefix}.{table}"
    consumer = items.consumer(state_refresh_s=0.2)  # creates the state schema
    try:
        m = items.mysql()
        cur = m.cursor()
        cur.execute("INSERT INTO items VALUES (1, 'copied', 1, 1, NOW(6), NULL)")
        cur.execute("SELECT * FROM items WHERE id = 1")
        copied = cur.fetchone()
        wait_until(lambda: sum(_end_offsets(items, topic).values()) >= 1)
        position = _end_offsets(items, topic)
        with items.pg() as pg:  # what the backfill does: record the position, copy, stay paused
            pg.execute(
                "INSERT INTO mps_sync.table_state (source_table, target_table, state,"
                " kafka_position) VALUES (%s, 'public.items', 'backfilling', %s)",
                (table, json.dumps({topic: position})),
            )
        # the copy is tagged like every write of ours, so it is not captured back
        copier = PostgresTarget(items.endpoints.postgres, LoopTags())
        copier.conn.execute("INSERT INTO items VALUES (%s, %s, %s, %s, %s, %s)", copied)
        copier.commit()
        copier.close()
        m.cursor().execute("INSERT INTO items VALUES (2, 'later', 2, 2, NOW(6), NULL)")
        m.cursor().execute("UPDATE items SET qty = 10 WHERE id = 1")
        m.close()
        wait_until(lambda: sum(_end_offsets(items, topic).values()) >= 3)
        paused = consumer.run(max_seconds=3)
        assert paused.events == 0
        with items.pg() as pg:
            assert pg.execute("SELECT id, qty FROM items ORDER BY id").fetchall() == [(1, 1)]
            pg.execute("UPDATE mps_sync.table_state SET state = 'streaming'")
        replayed = consumer.run(max_seconds=5)
        assert replayed.events == 2  # from the recorded position, not from the beginning
        assert (replayed.applied, replayed.conflicts) == (2, 0)
        with items.pg() as pg:
            rows = pg.execute("SELECT id, name, qty FROM items ORDER BY id").fetchall()
        assert rows == [(1, "copied", 10), (2, "later", 2)]
    finally:
        consumer.close()
