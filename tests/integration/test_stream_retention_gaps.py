"""Changes Kafka deleted before the stream applied them (retention ran out while the stream was
stopped) are never skipped silently: the stream records what was lost, goes on from the first
change Kafka holds, fails the run with the table's name, and a reconcile repair restores the
rest. Kafka's retention is stood in for by DeleteRecords, which moves a partition's log start
the same way the broker's retention does."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient
from prometheus_client import CollectorRegistry
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows
from tests.integration.topic_offsets import items_topic as _topic
from tests.integration.topic_offsets import wait_for_changes as _wait_for

from mysql_pg_sync.backfill.state import set_table_state
from mysql_pg_sync.cdc.metrics import PrometheusMetrics
from mysql_pg_sync.cdc.service import lost_changes
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.status.model import TableStatus, build_status
from mysql_pg_sync.status.read import read_snapshot

pytestmark = pytest.mark.integration


def _expire(p: Pipeline, topic: str, before: dict[int, int]) -> None:
    """What retention does: each partition's log now starts at ``before[partition]``."""
    admin = AdminClient({"bootstrap.servers": p.endpoints.kafka_bootstrap})
    parts = [TopicPartition(topic, n, offset) for n, offset in before.items()]
    for future in admin.delete_records(parts).values():
        future.result(30)


def test_changes_kafka_deleted_are_recorded_and_repaired(items: Pipeline, tmp_path: Path) -> None:
    db = items.endpoints.mysql.database
    topic = _topic(items)
    mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
    mysql_rows(items, "INSERT INTO items VALUES (2, 'b', 2, 2, NOW(6), NULL)")
    consumer = items.consumer()
    try:
        drive(consumer, lambda: pg_rows(items, "SELECT count(*) FROM items") == [(2,)])
    finally:
        consumer.close()
    applied = _wait_for(items, topic, 2)

    # the stream is stopped; the MySQL app goes on
    mysql_rows(items, "INSERT INTO items VALUES (3, 'c', 3, 3, NOW(6), NULL)")
    mysql_rows(items, "UPDATE items SET qty = 10 WHERE id = 1")
    mysql_rows(items, "DELETE FROM items WHERE id = 2")
    expired = _wait_for(items, topic, 5)
    mysql_rows(items, "INSERT INTO items VALUES (4, 'd', 4, 4, NOW(6), NULL)")
    _wait_for(items, topic, 6)
    _expire(items, topic, expired)  # Kafka now holds only the insert of row 4

    gapped = sum(1 for n in expired if expired[n] > applied[n])  # partitions that lost some
    metrics = PrometheusMetrics(registry=CollectorRegistry())
    consumer = items.consumer(metrics=metrics)
    try:
        summary = consumer.run(max_seconds=0.5)
        deadline = time.monotonic() + 60
        while pg_rows(items, "SELECT id FROM items WHERE id = 4") != [(4,)] or pg_rows(
            items, "SELECT count(*) FROM mps_sync.stream_gaps"
        ) != [(gapped,)]:
            assert time.monotonic() < deadline, "the gaps were not all found, or row 4 applied"
            summary = consumer.run(max_seconds=0.5, summary=summary)
    finally:
        consumer.close()

    gaps = pg_rows(
        items,
        "SELECT source_table, incoming_side, topic, kafka_partition, needed_offset, "
        "resumed_offset, lost FROM mps_sync.stream_gaps ORDER BY kafka_partition",
    )
    assert gaps == [
        (f"{db}.items", "mysql", topic, n, applied[n], expired[n], expired[n] - applied[n])
        for n in sorted(expired)
        if expired[n] > applied[n]
    ]
    name = f"{db}.items (mysql)"
    assert list(summary.lost) == [name]
    reason = summary.lost[name]
    for _, _, _, n, needed, resumed, lost in gaps:
        assert f"Kafka deleted {lost:,} change(s) of {db}.items" in reason
        assert f"{topic}[{n}] now starts at offset {resumed}" in reason
        assert f"needed offset {needed}" in reason
    assert "run the reconcile DAG with repair" in reason
    message = lost_changes(summary.as_dict())
    assert message is not None
    assert reason in message  # the DAG fails the run with it
    assert metrics.lost.labels(f"{db}.items", "mysql")._value.get() == 3
    # nothing of the deleted changes reached PostgreSQL: they are drift now, not applied
    assert pg_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 1), (2, 2), (4, 4)]

    # a second run does not find (or record) the gap again
    consumer = items.consumer()
    try:
        again = consumer.run(max_seconds=2)
    finally:
        consumer.close()
    assert again.lost == {}
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.stream_gaps") == [(len(gaps),)]

    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    params = ReconcileParams(
        mappings=str(folder), recheck_delay_s=0, repair=True, dry_run=False, threshold=16
    )
    assert "lost 3 change(s) Kafka deleted" in _status(items).lost_changes
    dry = replace(params, repair=False, dry_run=True)
    reconcile_all(items.endpoints, dry, folder=tmp_path)  # finds the drift, repairs nothing
    assert _status(items).health == "failed"
    run, _, _ = reconcile_all(items.endpoints, params, folder=tmp_path)
    assert run["tables"][0]["repairs"] == {"applied": 3}
    assert pg_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 10), (3, 3), (4, 4)]
    assert _status(items).lost_changes == ""  # the repair settled it


def _status(p: Pipeline) -> TableStatus:
    (row,) = build_status(p.mappings, read_snapshot(p.endpoints, with_connectors=False))
    return row


def test_a_new_consumer_group_starts_at_the_beginning_without_a_gap(items: Pipeline) -> None:
    """The reset policy is `error`: a group with no offsets must still start by itself, at the
    first change Kafka holds, and report nothing lost (there was nothing it had applied)."""
    topic = _topic(items)
    mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
    expired = _wait_for(items, topic, 1)
    mysql_rows(items, "INSERT INTO items VALUES (2, 'b', 2, 2, NOW(6), NULL)")
    _wait_for(items, topic, 2)
    _expire(items, topic, expired)
    consumer = items.consumer(group_id=items.config.group_id + "-new")
    try:
        drive(consumer, lambda: pg_rows(items, "SELECT id FROM items") == [(2,)])
        summary = consumer.run(max_seconds=0.5)
    finally:
        consumer.close()
    assert summary.lost == {}
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.stream_gaps") == [(0,)]


def test_a_consumer_whose_kafka_offsets_trail_its_target_loses_nothing(items: Pipeline) -> None:
    """Kafka's committed offset trails the target's own record of what it applied (the commit
    follows the database's). Retention past the committed offset, but not past what the
    target applied, loses nothing and must not be reported as lost."""
    topic = _topic(items)
    for i in range(1, 7):
        mysql_rows(items, f"INSERT INTO items VALUES ({i}, 'x', {i}, 1, NOW(6), NULL)")
    highs = _wait_for(items, topic, 6)
    consumer = items.consumer()
    try:
        drive(consumer, lambda: pg_rows(items, "SELECT count(*) FROM items") == [(6,)])
    finally:
        consumer.close()
    # Kafka's committed offsets back at 0, as if the commits after the database's had failed
    group = Consumer(
        {"bootstrap.servers": items.endpoints.kafka_bootstrap, "group.id": items.config.group_id}
    )
    try:
        group.commit(offsets=[TopicPartition(topic, n, 0) for n in highs], asynchronous=False)
    finally:
        group.close()
    _expire(items, topic, highs)  # every change is gone from Kafka, all of them applied
    mysql_rows(items, "INSERT INTO items VALUES (9, 'z', 9, 1, NOW(6), NULL)")
    consumer = items.consumer()
    try:
        drive(consumer, lambda: pg_rows(items, "SELECT count(*) FROM items") == [(7,)])
        summary = consumer.run(max_seconds=0.5)
    finally:
        consumer.close()
    assert summary.lost == {}
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.stream_gaps") == [(0,)]


def test_a_replay_whose_recorded_position_kafka_deleted_records_the_gap(items: Pipeline) -> None:
    """A backfill recorded its table's position and held the table; nobody resumed it until
    Kafka's retention had deleted changes after that position. The replay from the recorded
    position must record what is gone (and go on with what Kafka holds), not jump silently."""
    db = items.endpoints.mysql.database
    table, topic = f"{db}.items", _topic(items)
    consumer = items.consumer(state_refresh_s=0.2)
    try:
        mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
        drive(consumer, lambda: pg_rows(items, "SELECT id, qty FROM items") == [(1, 1)])
        position = _wait_for(items, topic, 1)  # what the backfill records before its copy
        with items.pg() as pg:
            set_table_state(
                pg, table, "public.items", "backfilling", kafka_position={topic: position}
            )
            pg.commit()
        mysql_rows(items, "INSERT INTO items VALUES (2, 'b', 2, 2, NOW(6), NULL)")
        mysql_rows(items, "UPDATE items SET qty = 10 WHERE id = 1")
        expired = _wait_for(items, topic, 3)
        assert consumer.run(max_seconds=2).events == 0  # held for the backfill
        _expire(items, topic, expired)  # retention ran while the table was held
        mysql_rows(items, "INSERT INTO items VALUES (3, 'c', 3, 3, NOW(6), NULL)")
        _wait_for(items, topic, 4)
        with items.pg() as pg:
            set_table_state(pg, table, "public.items", "streaming")
            pg.commit()
        gapped = sum(1 for n in expired if expired[n] > position[n])
        deadline = time.monotonic() + 60
        summary = consumer.run(max_seconds=0.5)
        while pg_rows(items, "SELECT id FROM items WHERE id = 3") != [(3,)] or pg_rows(
            items, "SELECT count(*) FROM mps_sync.stream_gaps"
        ) != [(gapped,)]:
            assert time.monotonic() < deadline, "the replay's gap was not recorded"
            summary = consumer.run(max_seconds=0.5, summary=summary)
    finally:
        consumer.close()
    gaps = pg_rows(
        items,
        "SELECT kafka_partition, needed_offset, resumed_offset, lost FROM mps_sync.stream_gaps "
        "ORDER BY kafka_partition",
    )
    assert gaps == [
        (n, position[n], expired[n], expired[n] - position[n])
        for n in sorted(expired)
        if expired[n] > position[n]
    ]
    assert f"{table} (mysql)" in summary.lost
    # the changes after the recorded position that Kafka deleted never arrived: drift now
    assert pg_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 1), (3, 3)]
