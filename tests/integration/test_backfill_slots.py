"""The run-time parallelism cap: advisory-lock slots shared by every copy task of a run."""

from __future__ import annotations

import threading

from mysql_pg_sync.backfill.slots import parallel_slot
from mysql_pg_sync.settings import DatabaseEndpoint


def test_a_slot_is_held_by_one_task_at_a_time(pg_db: DatabaseEndpoint) -> None:
    order: list[str] = []
    first_in = threading.Event()
    release_first = threading.Event()

    def first() -> None:
        with parallel_slot(pg_db, "run-a", 1):
            order.append("first in")
            first_in.set()
            assert release_first.wait(30)
            order.append("first out")

    def second() -> None:
        assert first_in.wait(30)
        with parallel_slot(pg_db, "run-a", 1):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    assert first_in.wait(30)
    with parallel_slot(pg_db, "run-b", 1) as slot:  # another run has its own slots
        assert slot == 0
    release_first.set()
    for t in threads:
        t.join(30)
    assert order == ["first in", "first out", "second in"]
