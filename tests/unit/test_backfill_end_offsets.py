"""The backfill's position reader waits out a partition whose leader is not elected yet (a
topic `connectors apply` has just made) and fails at once on anything else (no broker needed:
the reader's consumer is replaced by one that answers as Kafka would)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from mysql_pg_sync.backfill.handoff import HandoffError, KafkaEndOffsets

pytestmark = pytest.mark.unit

TOPIC = "mps_mysql.app.orders"


@dataclass
class _Partition:
    leader: int


@dataclass
class _Topic:
    partitions: dict[int, _Partition]
    error: Any = None


@dataclass
class _Metadata:
    topics: dict[str, _Topic]


@dataclass
class _Kafka:
    """Answers list_topics with ``leaders`` (one list per call, the last repeated) and
    get_watermark_offsets with ``errors`` (KafkaError codes) before the high watermark 42."""

    leaders: list[list[int]]
    errors: list[int] = field(default_factory=list)
    calls: int = 0
    topic_errors: list[int] = field(default_factory=list)  # list_topics' topic-level errors

    def list_topics(self, topic: str, timeout: float) -> _Metadata:
        if self.topic_errors:
            return _Metadata({topic: _Topic({}, KafkaError(self.topic_errors.pop(0)))})
        leaders = self.leaders.pop(0) if len(self.leaders) > 1 else self.leaders[0]
        return _Metadata({topic: _Topic({n: _Partition(lead) for n, lead in enumerate(leaders)})})

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        self.calls += 1
        assert 0 < timeout <= 5
        if self.errors:
            raise KafkaException(KafkaError(self.errors.pop(0)))
        return 0, 42


def _reader(kafka: _Kafka, timeout_s: float = 5) -> KafkaEndOffsets:
    reader = KafkaEndOffsets("unused:9092", timeout_s)
    reader._consumer = kafka
    return reader


def test_a_partition_without_a_leader_is_waited_out() -> None:
    kafka = _Kafka(leaders=[[1, -1], [1, 1]])
    assert _reader(kafka)(TOPIC) == {TOPIC: {"0": 42, "1": 42}}
    assert kafka.calls == 3  # partition 0, then (partition 1 had no leader) both again


@pytest.mark.parametrize(
    "code", [KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE]
)
def test_a_broker_answering_not_leader_yet_is_waited_out(code: int) -> None:
    kafka = _Kafka(leaders=[[1]], errors=[code, code])
    assert _reader(kafka)(TOPIC) == {TOPIC: {"0": 42}}
    assert kafka.calls == 3


def test_another_error_fails_at_once_naming_the_topic() -> None:
    kafka = _Kafka(leaders=[[1]], errors=[KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(HandoffError, match=f"cannot read Kafka end offsets of {TOPIC}"):
        _reader(kafka)(TOPIC)
    assert kafka.calls == 1


def test_a_leader_that_never_comes_fails_after_the_timeout() -> None:
    kafka = _Kafka(leaders=[[-1]])
    with pytest.raises(HandoffError, match=r"LEADER_NOT_AVAILABLE|[Ll]eader not available"):
        _reader(kafka, timeout_s=0.5)(TOPIC)


def test_a_topic_level_leader_error_is_waited_out_not_read_as_no_events() -> None:
    """An empty position means "no event yet, replay from the start"; recorded for a topic
    whose metadata only lacked a leader, a reload while the table streams rewound nothing."""
    kafka = _Kafka(leaders=[[1]], topic_errors=[KafkaError.LEADER_NOT_AVAILABLE])
    assert _reader(kafka)(TOPIC) == {TOPIC: {"0": 42}}
    kafka = _Kafka(leaders=[[1]], topic_errors=[KafkaError.TOPIC_AUTHORIZATION_FAILED])
    with pytest.raises(HandoffError, match=f"cannot read Kafka end offsets of {TOPIC}"):
        _reader(kafka)(TOPIC)


def test_a_topic_kafka_does_not_know_has_no_events_yet() -> None:
    kafka = _Kafka(leaders=[[1]], topic_errors=[KafkaError.UNKNOWN_TOPIC_OR_PART])
    assert _reader(kafka)(TOPIC) == {TOPIC: {}}
