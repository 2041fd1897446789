"""Kafka offsets of a test pipeline's change topics (shared by the stream-gap tests)."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaException, TopicPartition
from tests.integration.stream_harness import Pipeline

from mysql_pg_sync.cdc.topics import leader_pending


def items_topic(p: Pipeline) -> str:
    """The MySQL connector's change topic of the `items` table."""
    return f"{p.settings.mysql_topic_prefix}.{p.endpoints.mysql.database}.items"


def end_offsets(p: Pipeline, topic: str) -> dict[int, int]:
    """Each partition's end offset (the stack's topics have 3 partitions)."""
    consumer = Consumer({"bootstrap.servers": p.endpoints.kafka_bootstrap, "group.id": "mpst-w"})
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
                return {
                    n: int(consumer.get_watermark_offsets(TopicPartition(topic, n), 10, False)[1])
                    for n in partitions
                }
            except KafkaException as exc:  # a new topic's leader is still being elected
                if not leader_pending(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def wait_for_changes(
    p: Pipeline, topic: str, changes: int, timeout_s: float = 60
) -> dict[int, int]:
    """The partitions' end offsets once the topic holds ``changes`` changes in all."""
    deadline = time.monotonic() + timeout_s
    while sum((highs := end_offsets(p, topic)).values()) < changes:
        if time.monotonic() > deadline:
            raise AssertionError(f"{topic} did not reach {changes} changes ({highs})")
        time.sleep(0.2)
    return highs
