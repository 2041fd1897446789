"""The hot-loop GC setting is scoped: thresholds and frozen objects come back afterwards."""

from __future__ import annotations

import gc

import pytest

from mysql_pg_sync.gc_tuning import fewer_gc_passes


def test_the_threshold_is_raised_inside_and_restored_after() -> None:
    before = gc.get_threshold()
    with fewer_gc_passes(threshold=12_345):
        assert gc.get_threshold()[0] == max(12_345, before[0])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_settings_come_back_when_the_body_raises() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), fewer_gc_passes():
        raise RuntimeError("batch failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_cycles_made_inside_are_still_collected() -> None:
    class Node:
        other: object = None

    with fewer_gc_passes():
        a, b = Node(), Node()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2
