"""The rate the status page shows is a batch's events over the time since the consumer's
previous batch: over the batch's write time alone, a trickle of one change a second written in
a few milliseconds read as hundreds of events a second."""

from __future__ import annotations

import threading
import time

import pytest
from tests.integration.stream_harness import Pipeline, drive, pg_rows

pytestmark = pytest.mark.integration


def test_a_trickle_of_one_change_a_second_reads_about_one_event_a_second(
    items: Pipeline,
) -> None:
    consumer = items.consumer(incoming_sides=("mysql",))
    try:
        mysql = items.mysql()
        mysql.cursor().execute("INSERT INTO items (id, name, updated_at) VALUES (1, 'a', NOW(6))")
        drive(consumer, lambda: pg_rows(items, "SELECT count(*) FROM items") == [(1,)])
        done = threading.Event()
        runner = threading.Thread(target=lambda: consumer.run(max_seconds=60, stop=done.is_set))
        runner.start()
        try:
            for n in range(2, 7):  # five single changes, a second apart
                time.sleep(1.0)
                mysql.cursor().execute(
                    "INSERT INTO items (id, name, updated_at) VALUES (%s, 'a', NOW(6))", (n,)
                )
            deadline = time.monotonic() + 60
            while pg_rows(items, "SELECT count(*) FROM items") != [(6,)]:
                assert time.monotonic() < deadline, "the trickle was not applied within 60 s"
                time.sleep(0.2)
        finally:
            done.set()
            runner.join()
        [(rate,)] = pg_rows(
            items,
            "SELECT events_per_s FROM mps_sync.stream_metrics WHERE incoming_side = 'mysql'",
        )
        # one event a batch, a second or so after the previous one (a batch can hold two when
        # the consumer's poll spans two inserts): never hundreds
        assert 0 < rate < 5, rate
    finally:
        consumer.close()
