"""Where the stream goes on when Kafka no longer holds the change it needs (pure)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.cdc.offset_gaps import OffsetGap, recreated, resume_point
from mysql_pg_sync.cdc.service import lost_changes

pytestmark = pytest.mark.unit


def test_an_offset_kafka_still_holds_is_where_it_goes_on() -> None:
    assert resume_point(needed=7, low=5, high=10) == (7, None)
    assert resume_point(needed=10, low=5, high=10) == (10, None)  # the log's end: wait there


def test_nothing_recorded_starts_at_the_first_change_kafka_holds() -> None:
    assert resume_point(needed=-1001, low=5, high=10) == (5, None)


def test_an_offset_retention_deleted_is_a_counted_gap() -> None:
    resume, gap = resume_point(needed=2, low=5, high=10)
    assert resume == 5
    assert gap == OffsetGap(needed=2, resume=5, lost=3)
    assert not gap.restarted


def test_an_offset_past_the_end_means_the_offsets_started_again() -> None:
    resume, gap = resume_point(needed=500, low=0, high=3)
    assert resume == 0
    assert gap is not None
    assert gap.restarted
    assert gap.lost is None


def test_the_description_names_table_topic_counts_and_the_fix() -> None:
    text = OffsetGap(needed=2, resume=1002, lost=1000).describe("legacy.orders", "mysql", "t", 1)
    assert "Kafka deleted 1,000 change(s) of legacy.orders (mysql side)" in text
    assert "t[1] now starts at offset 1002" in text
    assert "needed offset 2" in text
    assert "run the reconcile DAG with repair on legacy.orders" in text
    assert "authoritative mysql (mysql holds every change of the gap" in text
    restarted = OffsetGap(needed=9, resume=0, lost=None).describe(
        "legacy.orders", "postgres", "t", 0
    )
    assert "the offsets of t[0] (legacy.orders, postgres side) started again" in restarted
    assert "run the reconcile DAG with repair" in restarted


def test_the_run_fails_with_every_table_that_lost_changes() -> None:
    assert lost_changes({}) is None
    assert lost_changes({"lost_changes": {}}) is None
    message = lost_changes({"lost_changes": {"a (mysql)": "why a", "b (postgres)": "why b"}})
    assert message is not None
    assert message.startswith("2 table(s) lost changes")
    assert "why a" in message
    assert "why b" in message


def test_a_partition_whose_topic_id_changed_was_created_again() -> None:
    known = {("a", 0): "id-a", ("b", 0): "id-b", ("b", 1): "id-b2", ("gone", 0): "id-g"}
    current = {"a": "id-a", "b": "id-b2", "new": "id-n"}
    # per partition: another member may have recorded the new id for its own partitions
    assert recreated(known, current) == {("b", 0): ("id-b", "id-b2")}
    # a partition first seen is not re-created (nothing recorded to compare), nor a topic
    # that does not exist now
    assert recreated({}, current) == {}


def test_a_recreated_topic_gap_names_both_ids_and_the_fix() -> None:
    gap = OffsetGap(needed=40, resume=0, lost=None, recreated=("old-id", "new-id"))
    assert gap.restarted  # the count of what the old topic held past the fence is unknown
    text = gap.describe("legacy.orders", "postgres", "t", 2)
    assert "Kafka topic t (legacy.orders, postgres side) was deleted and created again" in text
    assert "(topic id old-id -> new-id; partition 2" in text
    assert "partition 2 was applied up to offset 40" in text
    assert "the new topic is read again from its start" in text
    assert "The stream goes on from offset 0" in text
    assert "authoritative postgres" in text
