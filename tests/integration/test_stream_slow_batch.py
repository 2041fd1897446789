"""A batch that blocks longer than Kafka's max.poll.interval.ms (an application holds the target
row's lock) loses the consumer its group membership, so the offset commit after it fails. The
applied offsets are already in the target's own transaction (ADR 0007): the consumer logs the
failed commit, rejoins, and goes on; nothing is lost or applied twice."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    pg_rows,
    wait_until,
)

pytestmark = pytest.mark.integration

POLL_INTERVAL_MS = 7000  # the broker's smallest session timeout is 6 s


def _waits_on_a_lock(watch: Any) -> bool:
    return bool(
        watch.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).fetchone()[0]
    )


def test_a_batch_slower_than_the_poll_interval_does_not_stop_the_stream(
    items: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = items.consumer(
        kafka_overrides=(
            # the harness's quick topic discovery kept: the items topic is made by the first
            # change below, and the service's 10-s refresh would find it up to 10 s later
            *items.config.kafka_overrides,
            ("max.poll.interval.ms", str(POLL_INTERVAL_MS)),
            ("session.timeout.ms", "6000"),
        )
    )
    try:
        m = items.mysql()
        m.cursor().execute("INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
        drive(consumer, lambda: pg_rows(items, "SELECT qty FROM items") == [(1,)])

        blocker = items.pg()
        blocker.autocommit = False
        blocker.execute("SELECT 1 FROM items WHERE id = 1 FOR UPDATE")

        def release_later() -> None:
            # counted from when the batch waits on the lock, not from the update: on a busy
            # machine the change can take seconds to reach the consumer, and a batch that
            # blocked for less than max.poll.interval.ms keeps its membership
            try:
                with items.pg() as watch:
                    wait_until(lambda: _waits_on_a_lock(watch), timeout_s=60, poll_s=0.1)
                time.sleep(POLL_INTERVAL_MS / 1000 + 4)
            finally:
                blocker.rollback()

        release = threading.Thread(target=release_later)
        release.start()
        m.cursor().execute("UPDATE items SET qty = 2 WHERE id = 1")
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            drive(consumer, lambda: pg_rows(items, "SELECT qty FROM items") == [(2,)])
        release.join()
        blocker.close()
        assert time.monotonic() - started > POLL_INTERVAL_MS / 1000, "the batch never blocked"
        assert any("offset commit" in r.getMessage() for r in caplog.records), caplog.text

        # it rejoined and read the uncommitted batch again: skipped, not applied twice
        m.cursor().execute("UPDATE items SET qty = 3 WHERE id = 1")
        m.cursor().execute("INSERT INTO items VALUES (2, 'b', 5, 1, NOW(6), NULL)")
        replayed = 0
        deadline = time.monotonic() + 90
        while pg_rows(items, "SELECT id, qty FROM items ORDER BY id") != [(1, 3), (2, 5)]:
            assert time.monotonic() < deadline, "the stream did not go on after the slow batch"
            replayed += consumer.run(max_seconds=0.5).replayed
        assert replayed >= 1, "the batch whose commit failed was not read again"
        m.close()
    finally:
        consumer.close()
