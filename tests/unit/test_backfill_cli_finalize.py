"""The CLI finalizes a table as soon as its last chunk group is copied, not after all tables."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from mysql_pg_sync.backfill.runner import FinalizeOutcome
from mysql_pg_sync.cli.backfill import _finalize_as_copied

pytestmark = pytest.mark.unit


class _Recorder:
    """Stands in for Backfill.finalize and finalize_all: records which tables were finalized."""

    def __init__(self) -> None:
        self.finalized: list[str] = []
        self.unfinished: list[str] = []
        self.failing: set[str] = set()
        self._lock = threading.Lock()

    def finalize(self, table: str) -> dict[str, Any]:
        if table in self.failing:
            raise RuntimeError(f"{table}: ANALYZE failed")
        with self._lock:
            self.finalized.append(table)
        return {"table": table}

    def finalize_all(self, tables: list[str]) -> FinalizeOutcome:
        """Backfill.finalize_all records why each of these is not finalized."""
        self.unfinished = list(tables)
        return FinalizeOutcome(failures=[{"table": t, "error": "failed"} for t in tables])


def _done(result: Any = None, error: BaseException | None = None) -> Future[Any]:
    future: Future[Any] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result or [])
    return future


def test_each_table_is_finalized_once_after_all_of_its_groups() -> None:
    recorder = _Recorder()
    copies = {
        _done(): [["db.a", 0], ["db.b", 0]],
        _done(): [["db.a", 1]],
        _done(): [["db.b", 1]],
    }
    with ThreadPoolExecutor(2) as pool:
        finals = _finalize_as_copied(recorder, ["db.a", "db.b", "db.c"], copies, pool)  # type: ignore[arg-type]
    assert [f["table"] for f in finals] == ["db.a", "db.b", "db.c"]  # in the tables' order
    assert sorted(recorder.finalized) == ["db.a", "db.b", "db.c"]  # db.c had nothing to copy


def test_a_failed_group_leaves_its_table_unfinalized_and_the_others_are_finalized() -> None:
    """It used to stop the run there: the tables after it were never finalized (still paused)."""
    recorder = _Recorder()
    recorder.failing = {"db.c"}
    copies = {
        _done(error=RuntimeError("chunk db.a #1 failed")): [["db.a", 1]],
        _done(): [["db.a", 0], ["db.b", 0]],
        _done(): [["db.c", 0]],
    }
    with ThreadPoolExecutor(1) as pool:
        finals = _finalize_as_copied(recorder, ["db.a", "db.b", "db.c"], copies, pool)  # type: ignore[arg-type]
    assert recorder.finalized == ["db.b"]
    assert recorder.unfinished == ["db.a", "db.c"]  # a failed copy, a failed finalize
    assert [f["table"] for f in finals] == ["db.b"]
