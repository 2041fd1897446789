"""A backfill's replay on a two-way table under the version rule: the copy already holds MySQL's
later rows, so a replayed delete that conflicts with the copy must not remove MySQL's row.

MySQL deletes key 50 at version 5 and inserts it again at version 1 (the app's counter starts
anew) after the recorded position and before the key's chunk is read: the copy holds version
1. The replayed delete meets version 1 in PostgreSQL, wins (5 > 1) and used to queue the
removal of the row it beat on MySQL's side; MySQL's re-inserted row holds that very version,
so MySQL, the system of record, lost the row for good.

The replay's window (where it ends) is kept in the table state, not in the consumer that rewound:
a replay longer than one bounded stream run (or moved by a rebalance) goes on in another
consumer, which must still tell the replayed delete from a new one."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
    pipeline,
    wait_until,
)
from tests.integration.test_backfill import captured_backfill, run_all

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.cdc.decode import decode_change
from mysql_pg_sync.cdc.topics import change_topic
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

KEY = 50
KEY_SQL = f"SELECT name, qty FROM items WHERE id = {KEY}"
PG_KEY_SQL = KEY_SQL.replace("items", "public.items")


@contextmanager
def _backfilled(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    first: str | None = None,
) -> Iterator[Pipeline]:
    """The table backfilled, MySQL having deleted and re-created KEY after the recorded position
    (``first``: a statement MySQL runs before that, the replay's first change)."""
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
        # the seed in Kafka before the position is read: else its insert of KEY is replayed too
        topic = change_topic(p.config.mysql_topic_prefix, mysql_db.database, "items")
        ends = handoff.kafka_end_offsets(endpoints.kafka_bootstrap)
        try:
            wait_until(lambda: sum(ends(topic)[topic].values()) >= 100, timeout_s=60)
        finally:
            ends.close()
        bf = captured_backfill(p.endpoints, p.mappings, tmp_path)
        copy_chunk = bf.copy_chunk
        rewritten: list[bool] = []

        def copy_after_the_re_creation(ref: Any, run_id: str, batch_rows: int) -> dict[str, Any]:
            if not rewritten:  # after the position, before any chunk is read
                c = p.mysql()
                cur = c.cursor()
                if first is not None:
                    cur.execute(first)
                cur.execute("DELETE FROM items WHERE id = %s", (KEY,))
                cur.execute("INSERT INTO items VALUES (%s, 'again', 1, 1, NOW(6), NULL)", (KEY,))
                c.close()
                rewritten.append(True)
            return copy_chunk(ref, run_id, batch_rows)

        bf.copy_chunk = copy_after_the_re_creation  # type: ignore[method-assign]
        run_all(bf, RunOptions(chunk_rows=20, batch_rows=20))
        assert rewritten
        assert pg_rows(p, PG_KEY_SQL) == [("again", 1)]
        yield p


def _table_state(p: Pipeline, column: str) -> Any:
    with closing(p.pg()) as conn:
        row = conn.execute(
            f"SELECT {column} FROM mps_sync.table_state WHERE source_table = %s",
            (p.mappings.tables[0].name,),
        ).fetchone()
    assert row is not None
    return row[0]


def _where_deleted(p: Pipeline, topic: str, starts: dict[int, int]) -> tuple[int, int]:
    """(partition, offset) of MySQL's delete of KEY, read from the recorded position on."""
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": f"mps-test-replay-scan-{uuid.uuid4().hex[:8]}",  # assigned, never commits
            "enable.auto.commit": False,
        }
    )
    try:
        reader.assign([TopicPartition(topic, part, offset) for part, offset in starts.items()])
        deadline = time.monotonic() + 30
        seen = 0
        while time.monotonic() < deadline:
            msg = reader.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            event = decode_change(msg.key(), msg.value())
            seen += 1
            if event is not None and event.op == "d" and event.key.get("id") == KEY:
                return int(msg.partition() or 0), int(msg.offset() or 0)
    finally:
        reader.close()
    raise AssertionError(f"no delete of key {KEY} in {topic} from {starts} ({seen} read)")


def _stream_to_a_marker(p: Pipeline, **changes: Any) -> None:
    """A new consumer applies a change made after the replay, and every change of the topic
    up to it (the replay on each partition), then closes."""
    consumer = p.consumer(**changes)
    topic = change_topic(p.config.mysql_topic_prefix, p.endpoints.mysql.database, "items")
    try:
        marker = p.mysql()
        marker.cursor().execute("UPDATE items SET name = 'marker', qty = 2 WHERE id = 1")
        marker.close()
        drive(
            consumer,
            lambda: pg_rows(p, "SELECT name FROM public.items WHERE id = 1") == [("marker",)],
            timeout_s=120,
        )
        ends = handoff.kafka_end_offsets(p.endpoints.kafka_bootstrap)
        try:
            highs = {int(part): high for part, high in ends(topic)[topic].items()}
        finally:
            ends.close()
        drive(
            consumer,
            lambda: all(consumer.applied.get((topic, n), 0) >= high for n, high in highs.items()),
            timeout_s=120,
        )
    finally:
        consumer.close()


def test_a_replayed_delete_of_a_re_created_key_keeps_mysql_s_row(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    with _backfilled(endpoints, mysql_db, pg_db, mysql_admin, pg_admin, tmp_path) as p:
        # one event a batch: the delete and the insert are replayed apart, as in a long replay
        _stream_to_a_marker(p, max_batch_events=1)
        assert mysql_rows(p, KEY_SQL) == [("again", 1)], "MySQL lost its re-created row"
        assert pg_rows(p, PG_KEY_SQL) == [("again", 1)]


@pytest.mark.parametrize("split", ["before_the_delete", "after_the_delete"])
def test_a_replay_that_spans_two_consumers_keeps_mysql_s_row(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    split: str,
) -> None:
    """The consumer that rewound stops mid-replay (a bounded run ends, a rebalance moves the
    partition): the next one knew nothing of the replay and buried MySQL's re-created row
    when the replayed delete came to it. Split before the delete, that delete's batch is the
    second consumer's; after it, the second applies only the re-insert."""
    # replayed before the delete: some of these keys share its partition
    first_change = "UPDATE items SET name = 'between' WHERE id BETWEEN 2 AND 40"
    with _backfilled(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, tmp_path, first_change
    ) as p:
        [(topic, offsets)] = _table_state(p, "kafka_position").items()
        starts = {int(part): int(offset) for part, offset in offsets.items()}
        partition, deleted_at = _where_deleted(p, topic, starts)
        assert deleted_at > starts[partition], "no replayed change before the delete"
        rewinder = p.consumer(max_batch_events=1)
        try:
            if split == "before_the_delete":  # its partition's changes up to the delete
                done = lambda: rewinder.applied.get((topic, partition), 0) >= deleted_at  # noqa: E731
            else:
                done = lambda: pg_rows(p, PG_KEY_SQL) == []  # noqa: E731
            drive(rewinder, done, timeout_s=120)
        finally:
            rewinder.close()
        expected = [("again", 1)] if split == "before_the_delete" else []
        assert pg_rows(p, PG_KEY_SQL) == expected  # the split fell where it was meant to
        _stream_to_a_marker(p, max_batch_events=1)
        assert mysql_rows(p, KEY_SQL) == [("again", 1)], "MySQL lost its re-created row"
        assert pg_rows(p, PG_KEY_SQL) == [("again", 1)]
        assert not _table_state(p, "replay_until"), "the replay is over: its end is not kept"
