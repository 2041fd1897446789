"""The re-check waits for the stream by offsets: caught up once the consumer group's applied
offsets reach the end of the table's change topics, at once for a table nobody wrote to; it
used to need a batch of the table applied after the comparison, so every quiet table's drift
carried the "changes may still be in Kafka" banner."""

from __future__ import annotations

import pytest
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, wait_until

from mysql_pg_sync.reconcile.recheck import CAUGHT_UP, TIMED_OUT
from mysql_pg_sync.reconcile.stream_position import offsets_waiter

pytestmark = pytest.mark.integration


def test_caught_up_by_offsets_in_both_directions(
    items: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in items.env().items():
        monkeypatch.setenv(name, value)
    mapping = items.mappings.tables[0]

    def wait(max_wait_s: float) -> str:
        return offsets_waiter(items.endpoints, mapping, max_wait_s).wait(mapping.name)

    assert wait(0) == CAUGHT_UP  # nobody wrote to it: no topic has a message
    mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
    # in Kafka, not applied (no consumer ran): timed out once Debezium has captured it (a fixed
    # 3-s sleep was too short for a busy Connect worker, and the waiter then said caught up)
    wait_until(lambda: wait(0) == TIMED_OUT, timeout_s=60)
    consumer = items.consumer()
    try:
        drive(consumer, lambda: len(pg_rows(items, "SELECT 1 FROM items")) == 1)
        # the apply's echo lands in PostgreSQL's topic a moment later, and the waiter waits for
        # it as well: caught up once the consumer has read it too (it may not be there yet)
        drive(consumer, lambda: wait(0) == CAUGHT_UP, timeout_s=60)
        with items.pg() as conn:  # the other direction: applied offsets kept in MySQL
            conn.execute("UPDATE items SET name = 'b' WHERE id = 1")
        wait_until(lambda: wait(0) == TIMED_OUT, timeout_s=60)
        drive(consumer, lambda: mysql_rows(items, "SELECT name FROM items") == [("b",)])
        # the write to MySQL comes back as an echo in the MySQL topic, which the waiter waits
        # for too: caught up once the running consumer has read (and dropped) it, which may
        # be in a later run than the one that wrote it
        drive(consumer, lambda: wait(0) == CAUGHT_UP, timeout_s=60)
    finally:
        consumer.close()
