"""A change topic deleted and created again starts its offsets at 0. When the new topic already
holds more messages than the target's applied-offset fence, nothing is out of range: without
the topic's id, the stream took the new topic's first messages for applied ones and skipped
them without a word. The consumer keeps each topic's id and compares."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows
from tests.integration.topic_offsets import items_topic, wait_for_changes

from mysql_pg_sync.backfill.state import set_table_state
from mysql_pg_sync.cdc import consumer as consumer_module

pytestmark = pytest.mark.integration

NEW_ROWS = range(6, 30)  # more changes per partition than the old topic's fence


def _recreate(p: Pipeline, topic: str, partitions: int) -> None:
    """Delete the topic, then create it again with as many partitions (Kafka Connect's producer
    may create it first, from its next change: that is the same new topic)."""
    admin = AdminClient({"bootstrap.servers": p.endpoints.kafka_bootstrap})
    admin.delete_topics([topic], operation_timeout=30)[topic].result(60)
    deadline = time.monotonic() + 60
    while topic in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"{topic} was not deleted within 60 s"
        time.sleep(0.2)
    future = admin.create_topics([NewTopic(topic, partitions, 1)], operation_timeout=30)[topic]
    try:
        future.result(60)
    except KafkaException as exc:
        if "TOPIC_ALREADY_EXISTS" not in str(exc):
            raise


def _gaps(p: Pipeline) -> list[tuple[int, int, int | None, str]]:
    return pg_rows(
        p,
        "SELECT kafka_partition, resumed_offset, lost, reason FROM mps_sync.stream_gaps "
        "ORDER BY kafka_partition",
    )


def _lose_the_old_topic(
    p: Pipeline, meanwhile: Callable[[], object] | None = None
) -> tuple[str, dict[int, int]]:
    """Rows 1-3 applied, rows 4-5 left in the old topic, which is then deleted and created
    again (``meanwhile`` runs then); rows 6-29 go to the new one. Returns the topic and the
    old topic's fence."""
    topic = items_topic(p)
    for i in (4, 5):
        mysql_rows(p, f"INSERT INTO items VALUES ({i}, 'old', {i}, 1, NOW(6), NULL)")
    old_ends = wait_for_changes(p, topic, 5)
    _recreate(p, topic, len(old_ends))
    if meanwhile is not None:
        meanwhile()
    for i in NEW_ROWS:
        mysql_rows(p, f"INSERT INTO items VALUES ({i}, 'new', {i}, 1, NOW(6), NULL)")
    wait_for_changes(p, topic, len(NEW_ROWS))
    return topic, old_ends


def _applied_first_rows(p: Pipeline) -> dict[int, int]:
    """Rows 1-3 through the stream; the fence per partition (the next offset to apply)."""
    for i in (1, 2, 3):
        mysql_rows(p, f"INSERT INTO items VALUES ({i}, 'a', {i}, 1, NOW(6), NULL)")
    consumer = p.consumer()
    try:
        _until(consumer, p, [1, 2, 3])
    finally:
        consumer.close()
    return wait_for_changes(p, items_topic(p), 3)


def _until(consumer: consumer_module.StreamConsumer, p: Pipeline, rows: list[int]) -> None:
    """Run the consumer until PostgreSQL holds every one of ``rows``."""
    deadline = time.monotonic() + 90
    while not set(rows) <= (have := {r[0] for r in pg_rows(p, "SELECT id FROM items")}):
        assert time.monotonic() < deadline, f"PostgreSQL lacks rows {sorted(set(rows) - have)}"
        consumer.run(max_seconds=0.5)


EXPECTED = [1, 2, 3, *NEW_ROWS]


def _assert_recreated(p: Pipeline, fence: dict[int, int]) -> None:
    # rows 4 and 5 went with the old topic, unless Debezium sent them again into the new one
    # (its task restarted from an offset it had not committed yet): either is right
    have = [r[0] for r in pg_rows(p, "SELECT id FROM items ORDER BY id")]
    assert [i for i in have if i not in (4, 5)] == EXPECTED
    gaps = _gaps(p)
    assert [g[0] for g in gaps] == sorted(fence)  # each may have held rows 4 or 5
    for _, resumed, lost, reason in gaps:
        assert (resumed, lost) == (0, None)
        assert "was deleted and created again (topic id " in reason
        assert "run the reconcile DAG with repair" in reason


def test_a_topic_recreated_while_the_stream_was_stopped_is_read_from_its_start(
    items: Pipeline,
) -> None:
    fence = _applied_first_rows(items)
    _, _ = _lose_the_old_topic(items)
    consumer = items.consumer()
    try:
        summary = consumer.run(max_seconds=0.5)
        deadline = time.monotonic() + 90
        while not set(EXPECTED) <= {r[0] for r in pg_rows(items, "SELECT id FROM items")}:
            assert time.monotonic() < deadline, "the new topic's changes were not all applied"
            summary = consumer.run(max_seconds=0.5, summary=summary)
    finally:
        consumer.close()
    _assert_recreated(items, fence)
    assert list(summary.lost) == [f"{items.endpoints.mysql.database}.items (mysql)"]

    consumer = items.consumer()  # a restart finds nothing new
    try:
        again = consumer.run(max_seconds=2)
    finally:
        consumer.close()
    assert again.lost == {}
    assert len(_gaps(items)) == len(fence)


def test_a_topic_recreated_under_a_running_consumer_is_found_by_its_id(
    items: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(consumer_module, "TOPIC_ID_CHECK_S", 1.0)
    fence = _applied_first_rows(items)
    consumer = items.consumer()
    try:
        consumer.run(max_seconds=2)  # assigned, reading the old topic
        _lose_the_old_topic(items)
        _until(consumer, items, EXPECTED)
    finally:
        consumer.close()
    _assert_recreated(items, fence)


def test_an_out_of_range_error_of_the_old_log_does_not_skip_the_new_one(
    items: Pipeline,
) -> None:
    """Found by review: the consumer meets the empty new topic (its fetch of the old offset is
    out of range) and moves to the new start; an error of that old offset still queued then
    made it resume at the old offset, in range by then, skipping the new log's first changes."""
    fence = _applied_first_rows(items)
    consumer = items.consumer()
    try:
        consumer.run(max_seconds=2)
        _lose_the_old_topic(items, meanwhile=lambda: consumer.run(max_seconds=3))
        _until(consumer, items, EXPECTED)
    finally:
        consumer.close()
    _assert_recreated(items, fence)


def test_a_backfill_position_in_a_recreated_topic_is_replayed_from_the_new_start(
    items: Pipeline,
) -> None:
    """A backfill recorded its position in the old topic and held the table; the topic was
    then created again. The replay must start at the new topic's first offset, not at the old
    topic's recorded offsets (which would skip the new topic's first changes)."""
    fence = _applied_first_rows(items)
    table, topic = f"{items.endpoints.mysql.database}.items", items_topic(items)
    with items.pg() as pg:
        set_table_state(pg, table, "public.items", "backfilling", kafka_position={topic: fence})
        pg.commit()
    consumer = items.consumer(state_refresh_s=0.2)
    try:
        assert consumer.run(max_seconds=2).events == 0  # held for the backfill
    finally:
        consumer.close()
    _lose_the_old_topic(items)
    consumer = items.consumer(state_refresh_s=0.2)
    try:
        assert consumer.run(max_seconds=2).events == 0  # still held
        with items.pg() as pg:
            set_table_state(pg, table, "public.items", "streaming")
            pg.commit()
        _until(consumer, items, EXPECTED)
    finally:
        consumer.close()
    _assert_recreated(items, fence)
    (moved,) = pg_rows(
        items, f"SELECT kafka_position FROM mps_sync.table_state WHERE source_table = '{table}'"
    )
    assert moved == ({topic: {str(n): 0 for n in fence}},)
