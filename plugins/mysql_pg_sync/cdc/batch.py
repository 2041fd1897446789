"""Micro-batching and per-key collapse of change events (pure; no I/O)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent

DEFAULT_MAX_EVENTS = 5_000
DEFAULT_MAX_MS = 200


@dataclass(frozen=True, slots=True)
class CollapsedChange:
    """Every change to one key in a batch, folded into one: first before-image, last after-image.

    ``before`` is what the source row looked like before the batch's first change (None for an
    insert or when the source does not send before-images), ``last`` the final event,
    ``first_op`` the first event's op: a key inserted in this batch stays an insert for the
    conflict rules, whatever followed it (an update has no before-image to compare then).
    """

    last: ChangeEvent
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    events: int
    first_op: str = ""

    @property
    def op(self) -> str:
        return self.last.op

    @property
    def source_table(self) -> str:
        return self.last.source_table


def _merge_unavailable(
    earlier: Mapping[str, Any] | None, later: Mapping[str, Any] | None
) -> Mapping[str, Any] | None:
    """A TOAST placeholder in a later image takes the value an earlier image in the batch had."""
    if later is None or earlier is None:
        return later
    if not any(v is UNAVAILABLE for v in later.values()):
        return later
    return {
        name: earlier.get(name, value) if value is UNAVAILABLE else value
        for name, value in later.items()
    }


def collapse(events: Iterable[ChangeEvent]) -> list[CollapsedChange]:
    """One change per (table, key), ordered by each key's last event (the final state's order)."""
    folded: dict[tuple[str, tuple[Any, ...]], CollapsedChange] = {}
    for event in events:
        ident = (event.source_table, event.key_tuple())
        previous = folded.pop(ident, None)
        if previous is None:
            folded[ident] = CollapsedChange(event, event.before, event.after, 1, event.op)
            continue
        after = _merge_unavailable(previous.after, event.after)
        folded[ident] = CollapsedChange(
            event, previous.before, after, previous.events + 1, previous.first_op
        )
    return list(folded.values())


class MicroBatcher:
    """Collects events until ``max_events`` or ``max_ms`` after the first, whichever comes first.

    An echo of our own write to a key that already has events in the batch cuts the batch
    (:meth:`echo` returns True): folding the key's later events with its earlier ones would put
    a before-image from before our write in front of them, a false conflict. Dropping the
    earlier ones is no answer either: our write may have been decided without them (a delete
    still in flight, say), so they must still be applied, in their own batch.
    """

    def __init__(
        self,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_ms: int = DEFAULT_MAX_MS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_events < 1 or max_ms < 0:
            raise ValueError("max_events must be >= 1 and max_ms >= 0")
        self.max_events = max_events
        self.max_ms = max_ms
        self._clock = clock
        self._events: list[ChangeEvent] = []
        self._keys: set[tuple[str, tuple[Any, ...]]] = set()
        self._started: float | None = None

    def add(self, event: ChangeEvent) -> None:
        if self._started is None:
            self._started = self._clock()
        self._keys.add((event.source_table, event.key_tuple()))
        self._events.append(event)

    def echo(self, event: ChangeEvent) -> bool:
        """Our own write to ``event``'s key came back: True when the batch must be cut here."""
        return (event.source_table, event.key_tuple()) in self._keys

    def __len__(self) -> int:
        return len(self._events)

    def remaining_ms(self) -> float:
        """How long the current batch may still wait (the poll timeout)."""
        if self._started is None:
            return float(self.max_ms)
        return max(0.0, self.max_ms - (self._clock() - self._started) * 1000)

    def is_due(self) -> bool:
        if not self._events:
            return False
        return len(self._events) >= self.max_events or self.remaining_ms() <= 0

    def drain(self) -> list[ChangeEvent]:
        events, self._events, self._keys, self._started = self._events, [], set(), None
        return events
