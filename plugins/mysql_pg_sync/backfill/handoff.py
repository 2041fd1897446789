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
recorded first is kept (it precedes every chunk already copied), as long as Kafka still holds
every change after it: a resume, and every finalize before it hands the table over, refuse a
position the topic's retention has deleted (:func:`check_position_held`; ``mode=reload`` then).
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.cdc.connector_config import change_topic
from mysql_pg_sync.cdc.topics import leader_pending
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.mapping.models import TableMapping

log = logging.getLogger(__name__)

KafkaPosition = dict[str, dict[str, int]]
"""{topic: {partition: next offset}}; an empty dict for a topic that has no messages yet."""

CaptureCheck = Callable[[TableMapping], str]
"""Raises :class:`HandoffError` unless capture for the table runs; returns its Kafka topic."""

PositionReader = Callable[[str], KafkaPosition]

Watermarks = dict[int, tuple[int, int]]
"""{partition: (low, high)}: the first offset a partition still holds, and its next one."""

WatermarkReader = Callable[[str], Watermarks]


class HandoffError(SyncError):
    """Capture is not running for a table, or its Kafka position cannot be read."""


class PositionLost(HandoffError):
    """Kafka no longer holds every change after a backfilling table's recorded position: the
    stream's replay from it would skip changes. A retry meets it again; ``mode=reload`` records
    a new position and copies the table again."""


@dataclass(frozen=True)
class LostOffsets:
    """One partition whose recorded position Kafka no longer holds."""

    topic: str
    partition: int
    recorded: int  # the offset the replay must start at
    low: int  # the first offset the partition holds now
    high: int  # its next offset

    def describe(self) -> str:
        if self.recorded > self.high:  # the offsets started again: the old log is gone
            return (
                f"{self.topic} partition {self.partition}: the recorded position is offset "
                f"{self.recorded}, past the partition's end ({self.high}; low watermark "
                f"{self.low}): the topic was deleted and created again (or the broker lost its "
                "log), so the changes it held after the position are gone"
            )
        return (
            f"{self.topic} partition {self.partition}: the recorded position is offset "
            f"{self.recorded}, but the partition's low watermark is {self.low}: Kafka deleted "
            f"{self.low - self.recorded:,} change(s) after the position (the topic's retention, "
            "retention.ms or log.retention.hours, ran out while the table was backfilling)"
        )


def lost_offsets(position: KafkaPosition, marks: Mapping[str, Watermarks]) -> list[LostOffsets]:
    """The partitions of ``position``'s topics where the replay from ``position`` would skip
    changes; ``marks``: each topic's watermarks now.

    A partition the position does not name (the topic had none yet, or gained it later) holds
    only changes made after it, from offset 0. A partition that is gone now (the topic was
    deleted) counts as empty: a recorded offset above 0 is lost."""
    lost = []
    for topic, recorded in sorted(position.items()):
        now = dict(marks.get(topic, {}))
        named = {int(p): int(offset) for p, offset in recorded.items()}
        for partition in sorted(set(now) | set(named)):
            offset = named.get(partition, 0)
            low, high = now.get(partition, (0, 0))
            if offset < low or offset > high:
                lost.append(LostOffsets(topic, partition, offset, low, high))
    return lost


def check_position_held(
    table: str, position: KafkaPosition | None, read: WatermarkReader, *, when: str
) -> None:
    """Raise :class:`PositionLost` unless Kafka still holds every change after ``table``'s
    recorded ``position`` (``when``: what the refusal stops, for its message)."""
    if not position:
        return
    lost = lost_offsets(position, {topic: read(topic) for topic in position})
    if lost:
        raise PositionLost(
            f"{table}: {when}: Kafka no longer holds every change after the backfill's recorded "
            "position, so the stream's replay from it would lose changes:\n  - "
            + "\n  - ".join(gone.describe() for gone in lost)
            + f"\nthe table stays 'backfilling' (its stream paused). Copy it again with "
            f'mode=reload (`make cli ARGS="backfill run --tables {table} --mode reload"`, or '
            "mode reload in the backfill DAG's form): it records a new position, empties the "
            "target and copies every row"
        )


def topic_for(prefix: str, mapping: TableMapping) -> str:
    """Debezium's topic name for a MySQL table: ``<topic.prefix>.<db>.<table>``, characters a
    topic cannot hold replaced as Debezium replaces them."""
    return change_topic(prefix, mapping.source.db, mapping.source.table)


CAPTURE_VIEW_TTL_S = 5.0
"""How long :func:`connect_capture_check` reuses Connect's answers: a backfill checks all its
tables at once, and asking for every connector's config and status per table took a 220-table
database thousands of requests (the more connectors the cluster runs, the more)."""


@functools.lru_cache(maxsize=64)
def _include_patterns(include_list: str) -> tuple[re.Pattern[str], ...]:
    """An include list's regular expressions, compiled once (not once per table checked)."""
    return tuple(re.compile(p.strip()) for p in include_list.split(",") if p.strip())


def _is_mysql_source(config: dict[str, str]) -> bool:
    connector_class = config.get("connector.class", "").lower()
    return "mysql" in connector_class or "mariadb" in connector_class


def _captures(config: dict[str, str], mapping: TableMapping) -> bool:
    if not _is_mysql_source(config):
        return False
    include = config.get("table.include.list")
    if include is None:
        databases = config.get("database.include.list")
        return databases is None or any(
            p.fullmatch(mapping.source.db) for p in _include_patterns(databases)
        )
    return any(p.fullmatch(mapping.name) for p in _include_patterns(include))


def connect_capture_check(connect_url: str, ttl_s: float = CAPTURE_VIEW_TTL_S) -> CaptureCheck:
    """A check backed by Kafka Connect: a RUNNING MySQL/MariaDB source includes the table.

    Connect's connectors are read in one request for the tables checked within ``ttl_s`` (the
    backfill's prepare checks them side by side), not twice per connector and table."""
    from mysql_pg_sync.cdc.connect_client import ConnectClient, ConnectorStatus

    client = ConnectClient(connect_url)
    lock = threading.Lock()
    view: dict[str, tuple[dict[str, str], ConnectorStatus]] = {}
    read_at = [-math.inf]

    def connectors() -> dict[str, tuple[dict[str, str], ConnectorStatus]]:
        with lock:
            if time.monotonic() - read_at[0] > ttl_s:
                view.clear()
                view.update(client.connectors_expanded())
                read_at[0] = time.monotonic()
            return dict(view)

    def check(mapping: TableMapping) -> str:
        seen = []
        for name, (config, status) in sorted(connectors().items()):
            if not _captures(config, mapping):
                continue
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


class KafkaEndOffsets:
    """A :data:`PositionReader`: the high watermark of every partition of a topic, read on one
    consumer for every topic (connecting a consumer of its own took ~40 ms a table, most of a
    220-table backfill's prepare). Thread-safe; :meth:`close` ends the consumer, and the next
    read opens another."""

    def __init__(self, bootstrap: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self._lock = threading.Lock()
        self._consumer: Any = None

    def __call__(self, topic: str) -> KafkaPosition:
        return {topic: {str(p): high for p, (_low, high) in self.watermarks(topic).items()}}

    def watermarks(self, topic: str) -> Watermarks:
        """A :data:`WatermarkReader`: each partition's (low, high) watermark; empty while the
        topic does not exist or has no partitions."""
        from confluent_kafka import Consumer, KafkaException

        with self._lock:
            if self._consumer is None:
                self._consumer = Consumer(
                    {
                        "bootstrap.servers": self.bootstrap,
                        "group.id": "mps-backfill-position",
                        "enable.auto.commit": False,
                    }
                )
            consumer = self._consumer
            deadline = time.monotonic() + self.timeout_s
            while True:
                try:
                    return self._read(consumer, topic, deadline)
                except KafkaException as exc:
                    # a topic `connectors apply` has just made may have no leader for a moment
                    if leader_pending(exc) and time.monotonic() < deadline:
                        time.sleep(0.2)
                        continue
                    raise HandoffError(f"cannot read Kafka end offsets of {topic}: {exc}") from None

    def _read(self, consumer: Any, topic: str, deadline: float) -> Watermarks:
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        def left() -> float:
            return max(0.1, deadline - time.monotonic())

        metadata = consumer.list_topics(topic, timeout=left())
        found = metadata.topics.get(topic)
        if found is not None and found.error is not None:
            if found.error.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                # A leader being elected is not "no events yet": an empty position recorded then
                # would replay nothing after a reload while the table streams
                raise KafkaException(found.error)
            found = None
        if found is None or not found.partitions:
            # No event yet (snapshot.mode=no_data): replay starts at each partition's start
            return {}
        found_marks: Watermarks = {}
        for partition in sorted(found.partitions):
            if found.partitions[partition].leader < 0:
                raise KafkaException(KafkaError(KafkaError.LEADER_NOT_AVAILABLE))
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=left(), cached=False
            )
            found_marks[int(partition)] = (int(low), int(high))
        return found_marks

    def close(self) -> None:
        with self._lock:
            consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()


def kafka_end_offsets(bootstrap: str, timeout_s: float = 10.0) -> KafkaEndOffsets:
    """Reads the high watermark of every partition of a topic."""
    return KafkaEndOffsets(bootstrap, timeout_s)


def describe(position: dict[str, Any] | None) -> str:
    if not position:
        return "none"
    return ", ".join(f"{t}:{dict(p) or 'start'}" for t, p in position.items())
