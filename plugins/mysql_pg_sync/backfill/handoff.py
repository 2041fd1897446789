"""The handoff to streaming (design decision 1), before a table's first chunk and after its last.

Before: CDC capture for the table must be running; the end offsets of its Kafka topic are
recorded in ``mps_sync.table_state.kafka_position`` and the table is marked ``backfilling`` (the
stream consumer keeps its partitions paused). After: the table is marked ``streaming`` and the
consumer replays from the recorded position.

Why this is exact: every change committed in MySQL after the position was recorded is in the
topic after that position, in commit order, as a full row image. Replaying them as idempotent
upserts/deletes over whatever (possibly older) state a chunk copied converges to the source's
state; events older than the copy that get replayed are harmless for the same reason. Recording
the position *before* any chunk reads MySQL is what makes it gap-free. On resume the position
recorded first is kept (it precedes every chunk already copied).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.mapping.models import TableMapping

log = logging.getLogger(__name__)

KafkaPosition = dict[str, dict[str, int]]
"""{topic: {partition: next offset}}; an empty dict for a topic that has no messages yet."""

CaptureCheck = Callable[[TableMapping], str]
"""Raises :class:`HandoffError` unless capture for the table runs; returns its Kafka topic."""

PositionReader = Callable[[str], KafkaPosition]


class HandoffError(SyncError):
    """Capture is not running for a table, or its Kafka position cannot be read."""


def topic_for(prefix: str, mapping: TableMapping) -> str:
    """Debezium's topic name for a MySQL table: ``<topic.prefix>.<db>.<table>``."""
    return f"{prefix}.{mapping.source.db}.{mapping.source.table}"


def _captures(config: dict[str, str], mapping: TableMapping) -> bool:
    if (
        "mysql" not in config.get("connector.class", "").lower()
        and "mariadb" not in config.get("connector.class", "").lower()
    ):
        return False
    include = config.get("table.include.list")
    if include is None:
        databases = config.get("database.include.list")
        return databases is None or any(
            re.fullmatch(p.strip(), mapping.source.db) for p in databases.split(",")
        )
    return any(re.fullmatch(p.strip(), mapping.name) for p in include.split(",") if p.strip())


def connect_capture_check(connect_url: str) -> CaptureCheck:
    """A check backed by Kafka Connect: a RUNNING MySQL/MariaDB source includes the table."""
    from mysql_pg_sync.cdc.connect_client import ConnectClient

    client = ConnectClient(connect_url)

    def check(mapping: TableMapping) -> str:
        seen = []
        for name in client.connectors():
            config = client.get_config(name) or {}
            if not _captures(config, mapping):
                continue
            status = client.status(name)
            if status.is_running:
                return topic_for(config.get("topic.prefix", name), mapping)
            seen.append(f"{name} is {status.summary()}")
        raise HandoffError(
            f"{mapping.name}: no RUNNING MySQL source connector captures it"
            + (f" ({'; '.join(seen)})" if seen else "")
            + "; start it with the `connectors` DAG first, or the copy would have gaps"
        )

    return check


def assume_capture_running(prefix: str) -> CaptureCheck:
    """For runs without CDC (a one-off copy, tests): trust the caller, derive the topic name."""

    def check(mapping: TableMapping) -> str:
        log.warning("%s: capture not checked (assume_capture_running)", mapping.name)
        return topic_for(prefix, mapping)

    return check


def kafka_end_offsets(bootstrap: str, timeout_s: float = 10.0) -> PositionReader:
    """Reads the high watermark of every partition of a topic."""

    def read(topic: str) -> KafkaPosition:
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "mps-backfill-position",
                "enable.auto.commit": False,
            }
        )
        try:
            metadata = consumer.list_topics(topic, timeout=timeout_s)
            found = metadata.topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                # No event yet (snapshot.mode=no_data): replay starts at each partition's start
                return {topic: {}}
            position: dict[str, int] = {}
            for partition in sorted(found.partitions):
                _low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s, cached=False
                )
                position[str(partition)] = int(high)
            return {topic: position}
        except KafkaException as exc:
            raise HandoffError(f"cannot read Kafka end offsets of {topic}: {exc}") from None
        finally:
            consumer.close()

    return read


def describe(position: dict[str, Any] | None) -> str:
    if not position:
        return "none"
    return ", ".join(f"{t}:{dict(p) or 'start'}" for t, p in position.items())
