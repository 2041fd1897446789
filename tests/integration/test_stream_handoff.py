"""Backfill handoff: a backfilling table stays paused, then replays from the recorded position."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    wait_until,
)

from mysql_pg_sync.backfill.handoff import kafka_end_offsets
from mysql_pg_sync.backfill.state import set_table_state
from mysql_pg_sync.cdc.consumer import FenceMovedError
from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import PostgresTarget


def _end_offsets(p: Pipeline, topic: str) -> dict[str, int]:
    """As the backfill records them (it waits out a partition that has no leader yet)."""
    reader = kafka_end_offsets(p.endpoints.kafka_bootstrap)
    try:
        return dict(reader(topic)[topic])
    finally:
        reader.close()


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

        def rows() -> list[tuple[Any, ...]]:
            with items.pg() as pg:
                return pg.execute("SELECT id, name, qty FROM items ORDER BY id").fetchall()

        # one run until both changes are in (a fixed 5 s was tight on a busy machine for the
        # state refresh, resume, seek and fetch), then a little more for any extra event
        want = [(1, "copied", 10), (2, "later", 2)]
        replayed = consumer.run(max_seconds=60, stop=lambda: rows() == want)
        replayed = consumer.run(max_seconds=2, summary=replayed)
        assert replayed.events == 2  # from the recorded position, not from the beginning
        assert (replayed.applied, replayed.conflicts) == (2, 0)
        assert rows() == want
    finally:
        consumer.close()


def _qty(p: Pipeline) -> list[tuple[int, int]]:
    with p.pg() as pg:
        return [tuple(r) for r in pg.execute("SELECT id, qty FROM items ORDER BY id").fetchall()]


def test_a_table_reloaded_while_it_streams_is_paused_and_replayed_from_the_new_position(
    items: Pipeline,
) -> None:
    """Found in review: pausing happened only at partition assignment, and the replay started
    from Kafka's committed offset, above which the targets' fence skipped everything applied.
    A reload that copied an older image over an applied update lost that update for good."""
    table = items.mappings.tables[0].name
    topic = f"{items.config.mysql_topic_prefix}.{table}"
    consumer = items.consumer(state_refresh_s=0.2)
    try:
        m = items.mysql()
        m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, NOW(6), NULL)")
        drive(consumer, lambda: _qty(items) == [(1, 1)])
        position = _end_offsets(items, topic)  # what a reload records before its first chunk
        m.cursor().execute("UPDATE items SET qty = 10 WHERE id = 1")
        drive(consumer, lambda: _qty(items) == [(1, 10)])  # applied before the reload's state
        with items.pg() as pg:
            set_table_state(
                pg, table, "public.items", "backfilling", kafka_position={topic: position}
            )
            pg.commit()
        m.cursor().execute("INSERT INTO items VALUES (2, 'two', 2, 2, NOW(6), NULL)")
        wait_until(lambda: sum(_end_offsets(items, topic).values()) >= sum(position.values()) + 2)
        held = consumer.run(max_seconds=2)
        assert held.events == 0  # paused although its partition was assigned long before
        # the reload's chunk read MySQL before the update and writes that image last
        copier = PostgresTarget(items.endpoints.postgres, LoopTags())
        copier.conn.execute("UPDATE items SET qty = 1 WHERE id = 1")
        copier.commit()
        copier.close()
        with items.pg() as pg:
            set_table_state(pg, table, "public.items", "streaming")
        drive(consumer, lambda: _qty(items) == [(1, 10), (2, 2)], timeout_s=30)
        consumer.run(max_seconds=1)
        assert _qty(items) == [(1, 10), (2, 2)]
        with items.pg() as pg:
            replayed = pg.execute(
                "SELECT replayed_position FROM mps_sync.table_state WHERE source_table = %s",
                (table,),
            ).fetchone()
        assert replayed == ({f"{topic}:{n}": o for n, o in position.items()},)
        m.close()
    finally:
        consumer.close()
    # a restarted consumer does not rewind a second time
    again = items.consumer(state_refresh_s=0.2)
    try:
        assert again.run(max_seconds=3).events == 0
    finally:
        again.close()


def test_a_batch_is_refused_when_another_member_applied_its_partitions_meanwhile(
    items: Pipeline,
) -> None:
    """A member that lost its partitions without seeing the rebalance (a batch longer than
    max.poll.interval.ms) must not write its batch over what the new owner applied since."""
    table = items.mappings.tables[0].name
    topic = f"{items.config.mysql_topic_prefix}.{table}"
    consumer = items.consumer()
    try:
        m = items.mysql()
        m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, NOW(6), NULL)")
        drive(consumer, lambda: _qty(items) == [(1, 1)])
        with items.pg() as pg:  # what another member's commit leaves in the fence
            pg.execute(
                "UPDATE mps_sync.applied_offsets SET next_offset = next_offset + 5"
                " WHERE group_id = %s AND topic = %s",
                (items.config.group_id, topic),
            )
        m.cursor().execute("UPDATE items SET qty = 10 WHERE id = 1")
        m.close()
        with pytest.raises(FenceMovedError, match="another member applied"):
            drive(consumer, lambda: False, timeout_s=60)
        assert _qty(items) == [(1, 1)]  # nothing of the refused batch was written
    finally:
        consumer.close()
