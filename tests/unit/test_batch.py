"""Micro-batching and per-key collapse."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync.cdc.batch import MicroBatcher, collapse
from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent


def ev(
    op: str, key: int, before: dict[str, Any] | None, after: dict[str, Any] | None, table: str = "t"
) -> ChangeEvent:
    return ChangeEvent("mysql", "db", table, op, {"id": key}, before, after, 0)  # type: ignore[arg-type]


def test_collapse_keeps_first_before_and_last_after_in_final_order() -> None:
    changes = collapse(
        [
            ev("c", 1, None, {"id": 1, "v": "a"}),
            ev("c", 2, None, {"id": 2, "v": "x"}),
            ev("u", 1, {"id": 1, "v": "a"}, {"id": 1, "v": "b"}),
            ev("u", 1, {"id": 1, "v": "b"}, {"id": 1, "v": "c"}),
            ev("c", 1, None, {"id": 1, "v": "z"}, table="other"),
        ]
    )
    assert [(c.source_table, c.last.key["id"], c.op, c.events) for c in changes] == [
        ("db.t", 2, "c", 1),
        ("db.t", 1, "u", 3),
        ("db.other", 1, "c", 1),
    ]
    assert changes[1].before is None  # the row did not exist before the batch
    assert changes[1].after == {"id": 1, "v": "c"}
    # the conflict rules still see an insert (an update without a before-image would apply
    # over a row the other side inserted meanwhile)
    assert [c.first_op for c in changes] == ["c", "c", "c"]


def test_insert_then_delete_collapses_to_a_delete() -> None:
    [change] = collapse([ev("c", 1, None, {"id": 1}), ev("d", 1, {"id": 1}, None)])
    assert (change.op, change.after, change.events, change.first_op) == ("d", None, 2, "c")


def test_toast_placeholder_takes_the_value_from_an_earlier_change_in_the_batch() -> None:
    [change] = collapse(
        [
            ev("u", 1, None, {"id": 1, "big": "long text", "n": 1}),
            ev("u", 1, None, {"id": 1, "big": UNAVAILABLE, "n": 2}),
        ]
    )
    assert change.after == {"id": 1, "big": "long text", "n": 2}


def test_batcher_is_due_by_count_or_by_time() -> None:
    now = [0.0]
    batcher = MicroBatcher(max_events=3, max_ms=100, clock=lambda: now[0])
    assert not batcher.is_due()
    assert batcher.remaining_ms() == 100
    batcher.add(ev("c", 1, None, {}))
    batcher.add(ev("c", 2, None, {}))
    assert not batcher.is_due()
    now[0] = 0.05
    assert batcher.remaining_ms() == pytest.approx(50)
    batcher.add(ev("c", 3, None, {}))
    assert batcher.is_due()
    assert len(batcher.drain()) == 3
    assert len(batcher) == 0
    batcher.add(ev("c", 4, None, {}))
    now[0] = 0.2
    assert batcher.is_due()


def test_batcher_rejects_bad_limits() -> None:
    with pytest.raises(ValueError, match="max_events"):
        MicroBatcher(max_events=0)


def test_an_echo_of_a_batched_key_cuts_the_batch() -> None:
    """Seed 400634445 (issue 9): folding a key's change after our echo with its changes before
    it gave a stale before-image (a false conflict). Dropping the earlier ones instead lost a
    delete that our echo had not seen (make chaos): the batch is cut at the echo instead."""
    batcher = MicroBatcher(max_events=100, max_ms=100)
    first = ev("d", 1, {"id": 1, "v": "a"}, None)
    other_key = ev("u", 2, {"id": 2, "v": "x"}, {"id": 2, "v": "y"})
    batcher.add(first)
    batcher.add(other_key)
    assert batcher.echo(ev("c", 1, None, {"id": 1, "v": "m"}))
    assert not batcher.echo(ev("u", 9, {"id": 9}, {"id": 9}))  # a key not in the batch
    assert batcher.drain() == [first, other_key]
    assert not batcher.echo(ev("c", 1, None, {"id": 1, "v": "m"}))  # a new batch: no cut
