"""The backfill refuses a recorded Kafka position the topic's retention has deleted (a resume,
and every finalize before the stream takes the table over): the replay from it would skip
changes. Pure logic here; tests/integration/test_backfill_resume_guards.py runs it on Kafka."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.backfill.handoff import (
    KafkaEndOffsets,
    LostOffsets,
    PositionLost,
    Watermarks,
    check_position_held,
    lost_offsets,
)
from mysql_pg_sync.backfill.runner import Backfill, is_settled
from mysql_pg_sync.mapping.models import MappingSet
from mysql_pg_sync.settings import endpoints_from_env

pytestmark = pytest.mark.unit

TOPIC = "mps_mysql.app.orders"


@pytest.mark.parametrize(
    ("recorded", "marks"),
    [
        ({"0": 5}, {0: (0, 9)}),  # nothing deleted
        ({"0": 5}, {0: (5, 9)}),  # deleted up to the position, not past it
        ({"0": 5}, {0: (5, 5)}),  # everything before it deleted, nothing new yet
        ({}, {0: (0, 3)}),  # no event when recorded: every later one is still there
        ({"0": 5}, {0: (2, 9), 1: (0, 4)}),  # a partition added since starts at 0
        ({}, {}),  # the topic still has no event
    ],
)
def test_a_position_kafka_still_holds_passes(recorded: dict[str, int], marks: Watermarks) -> None:
    assert lost_offsets({TOPIC: recorded}, {TOPIC: marks}) == []
    check_position_held("app.orders", {TOPIC: recorded}, lambda topic: marks, when="x")


def test_a_low_watermark_past_the_position_is_lost() -> None:
    lost = lost_offsets({TOPIC: {"0": 5, "1": 7}}, {TOPIC: {0: (5, 12), 1: (9, 12)}})
    assert lost == [LostOffsets(TOPIC, 1, recorded=7, low=9, high=12)]
    assert "low watermark is 9" in lost[0].describe()
    assert "deleted 2 change(s)" in lost[0].describe()


def test_an_empty_position_is_lost_once_kafka_deleted_the_first_events() -> None:
    # recorded before the topic had an event: the replay needs every event from offset 0
    assert lost_offsets({TOPIC: {}}, {TOPIC: {0: (3, 10)}}) == [LostOffsets(TOPIC, 0, 0, 3, 10)]
    # a partition added after the position was recorded is needed from 0 as well
    assert lost_offsets({TOPIC: {"0": 5}}, {TOPIC: {0: (5, 6), 1: (1, 4)}}) == [
        LostOffsets(TOPIC, 1, 0, 1, 4)
    ]


def test_offsets_that_started_again_are_lost() -> None:
    # the topic was deleted and created again: the position is past its end
    lost = lost_offsets({TOPIC: {"0": 50}}, {TOPIC: {0: (0, 3)}})
    assert lost == [LostOffsets(TOPIC, 0, 50, 0, 3)]
    assert "deleted and created again" in lost[0].describe()
    # the topic is gone altogether
    assert lost_offsets({TOPIC: {"0": 50}}, {}) == [LostOffsets(TOPIC, 0, 50, 0, 0)]
    assert lost_offsets({TOPIC: {"0": 0}}, {}) == []


def test_the_refusal_names_table_partition_offsets_and_the_fix() -> None:
    with pytest.raises(PositionLost) as raised:
        check_position_held(
            "app.orders",
            {TOPIC: {"0": 5, "1": 7}},
            lambda topic: {0: (5, 9), 1: (9, 12)},
            when="cannot resume: nothing was copied",
        )
    text = str(raised.value)
    assert text.startswith("app.orders: cannot resume: nothing was copied: ")
    assert f"{TOPIC} partition 1: the recorded position is offset 7" in text
    assert "low watermark is 9" in text
    assert "partition 0" not in text
    assert "mode=reload" in text
    assert "--tables app.orders --mode reload" in text
    assert is_settled(raised.value)  # a retry meets the same deleted offsets


def test_no_position_is_not_checked() -> None:
    def read(topic: str) -> Watermarks:
        raise AssertionError("not asked")

    check_position_held("app.orders", None, read, when="x")
    check_position_held("app.orders", {}, read, when="x")


@dataclass
class _Partition:
    leader: int = 1


@dataclass
class _Topic:
    partitions: dict[int, _Partition]
    error: Any = None


@dataclass
class _Metadata:
    topics: dict[str, _Topic]


class _Kafka:
    """A consumer answering as Kafka would: two partitions with their watermarks."""

    marks = {0: (4, 10), 1: (0, 3)}

    def list_topics(self, topic: str, timeout: float) -> _Metadata:
        return _Metadata({topic: _Topic({p: _Partition() for p in self.marks})})

    def get_watermark_offsets(self, tp: Any, timeout: float, cached: bool) -> tuple[int, int]:
        assert not cached
        return self.marks[tp.partition]


def test_the_position_reader_reads_both_watermarks() -> None:
    reader = KafkaEndOffsets("unused:9092", 5)
    reader._consumer = _Kafka()
    assert reader.watermarks(TOPIC) == {0: (4, 10), 1: (0, 3)}
    assert reader(TOPIC) == {TOPIC: {"0": 10, "1": 3}}  # the position: the high watermarks


def _backfill(position_reader: Any, **extra: Any) -> Backfill:
    return Backfill(
        endpoints_from_env({}),
        MappingSet(()),
        capture_check=lambda m: TOPIC,
        position_reader=position_reader,
        reports_dir=Path("."),
        write_origin=None,
        **extra,
    )


def test_the_backfill_checks_with_its_position_reader_or_a_given_reader() -> None:
    reader = KafkaEndOffsets("unused:9092", 5)
    reader._consumer = _Kafka()
    bf = _backfill(reader)
    bf._check_position_held("app.orders", {TOPIC: {"0": 4, "1": 0}}, "x")
    with pytest.raises(PositionLost, match="partition 0: the recorded position is offset 3"):
        bf._check_position_held("app.orders", {TOPIC: {"0": 3, "1": 0}}, "x")
    given = _backfill(lambda topic: {topic: {}}, watermark_reader=lambda topic: {0: (8, 9)})
    with pytest.raises(PositionLost, match="low watermark is 8"):
        given._check_position_held("app.orders", {TOPIC: {"0": 7}}, "x")


def test_a_position_reader_without_watermarks_is_not_checked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bf = _backfill(lambda topic: {topic: {}})  # tests without Kafka
    bf._check_position_held("app.orders", {TOPIC: {"0": 7}}, "x")
    assert "not checked" in caplog.text
