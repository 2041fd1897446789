"""The stream scales by consumer group (`python -m mysql_pg_sync stream` once per member): two
members share the partitions of both directions, a third joins and leaves while changes flow,
each rebalance hands partitions over mid-stream, and the two databases still end equal."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows

from mysql_pg_sync.cdc.consumer import RunSummary, StreamConsumer

pytestmark = pytest.mark.integration

ROWS = "SELECT id, name, qty FROM items ORDER BY id"


class _Member:
    """One member of the group, consuming in a thread until stopped."""

    def __init__(self, consumer: StreamConsumer) -> None:
        self.consumer = consumer
        self.summary = RunSummary()
        self.errors: list[BaseException] = []
        self.has_partitions = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                self.consumer.run(max_seconds=0.5, summary=self.summary)
                # read here, between runs: a call on the Kafka handle from the test's thread
                # waits while a run polls (seconds, sometimes)
                self.has_partitions = bool(self.consumer.consumer.assignment())
        except BaseException as exc:
            self.errors.append(exc)

    def assigned(self) -> bool:
        return self.has_partitions

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)
        self.consumer.close()


def _wait(what: str, predicate: Any, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"{what} within {timeout_s} s"
        time.sleep(0.3)


def test_members_joining_and_leaving_mid_stream_end_with_equal_databases(
    items: Pipeline,
) -> None:
    # the topics exist before the members join: the partitions are shared at the first rebalance
    mysql_rows(items, "INSERT INTO items VALUES (1, 'm', 1, 1, NOW(6), NULL)")
    with items.pg() as pg:
        pg.execute("INSERT INTO items VALUES (1001, 'p', 1, 1, now(), NULL)")
    members = [_Member(items.consumer()), _Member(items.consumer())]
    third: _Member | None = None
    try:
        _wait("both members assigned", lambda: all(m.assigned() for m in members))
        m = items.mysql()
        with items.pg() as pg:
            for i in range(2, 80):
                m.cursor().execute(f"INSERT INTO items VALUES ({i}, 'm', {i}, 1, NOW(6), NULL)")
                pg.execute(f"INSERT INTO items VALUES ({1000 + i}, 'p', {i}, 1, now(), NULL)")
                if i == 40:  # a third member joins: partitions move while changes flow
                    members.append(_Member(items.consumer()))
            for i in range(1, 80, 3):
                m.cursor().execute(f"UPDATE items SET qty = qty + 100 WHERE id = {i}")
                pg.execute(f"UPDATE items SET qty = qty + 100 WHERE id = {1000 + i}")
            third = members.pop()
            third.stop()  # and leaves: its partitions go back to the others
            for i in range(5, 80, 7):
                m.cursor().execute(f"DELETE FROM items WHERE id = {i}")
                pg.execute(f"DELETE FROM items WHERE id = {1000 + i}")
        m.close()
        expected = 2 * (79 - len(range(5, 80, 7)))
        _wait(
            "MySQL and PostgreSQL equal",
            lambda: (
                len(rows := mysql_rows(items, ROWS)) == expected and rows == pg_rows(items, ROWS)
            ),
        )
    finally:
        for member in members:
            member.stop()
    assert third is not None
    assert [m.errors for m in (*members, third)] == [[], [], []]
    assert all(m.summary.events > 0 for m in members), "each member applied some changes"
    assert all(m.summary.dead_letters == 0 for m in members)
    updated = mysql_rows(
        items, "SELECT id, qty FROM items WHERE id IN (1, 1001, 4, 1004) ORDER BY id"
    )
    assert updated == [(1, 101), (4, 104), (1001, 101), (1004, 104)]
