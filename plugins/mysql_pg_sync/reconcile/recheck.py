"""In-flight changes are not drift: wait until the stream has caught up, then look again."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)

# how a re-check's wait ended: the report tells the operator how far to trust the drift
CAUGHT_UP = "caught_up"  # the stream applied every change Kafka held for the table
TIMED_OUT = "timed_out"  # it did not within the wait (no consumer, a lagging one), or unknown
FIXED_DELAY = "fixed_delay"  # waited a configured time without asking the stream


class CatchUpWaiter(Protocol):
    def wait(self, table_name: str) -> str:
        """Return once changes committed before the comparison have been applied, or the wait
        is over: :data:`CAUGHT_UP`, :data:`TIMED_OUT` or :data:`FIXED_DELAY`."""
        ...


@dataclass(frozen=True)
class DelayWaiter:
    """Wait a configured time: enough when the stream's lag is known to stay below it.

    For deployments without the stream consumer's metrics; the re-check itself compares only
    the suspect rows again, so the delay costs no scan.
    """

    seconds: float = 30.0

    def wait(self, table_name: str) -> str:
        if self.seconds > 0:
            time.sleep(self.seconds)
        return FIXED_DELAY


Offsets = dict[tuple[str, int], int]  # (topic, partition) -> offset


def applied_up_to(ends: Offsets, applied: Offsets) -> bool:
    """Whether the consumer has applied every message up to ``ends`` (each partition's end
    offset); an empty partition needs nothing."""
    return all(applied.get(part, 0) >= end for part, end in ends.items() if end > 0)


@dataclass
class OffsetsWaiter:
    """Wait until the stream consumer has applied everything the table's change topics held
    when the re-check began (its applied offsets, stored with the writes: ADR 0007), or until
    ``max_wait_s`` has passed. A table nobody wrote to is caught up at once; one whose changes
    wait in Kafka, with no consumer or a lagging one, times out: only then can drift be a
    change in flight.

    ``ends(table)`` reads the end offsets of the table's topics, ``applied(table)`` the
    consumer group's applied offsets of the same partitions. Debezium reads a change from the
    binlog or WAL a moment after its commit, so the end offsets are read ``settle_s`` after the
    re-check begins (never longer than the whole wait: 0 waits for nothing). A stream whose
    position cannot be read (Kafka unreachable) is a wait that timed out, not a failed table:
    the comparison stands, with the banner that says its drift may be in flight."""

    ends: Callable[[str], Offsets]
    applied: Callable[[str], Offsets]
    max_wait_s: float = 30.0
    settle_s: float = 2.0
    poll_s: float = 0.5
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    polls: int = field(default=0, init=False)

    def wait(self, table_name: str) -> str:
        deadline = self.clock() + self.max_wait_s
        settle = min(self.settle_s, self.max_wait_s)
        if settle > 0:
            self.sleep(settle)
        try:
            ends = self.ends(table_name)
            while True:
                self.polls += 1
                if applied_up_to(ends, self.applied(table_name)):
                    return CAUGHT_UP
                if self.clock() >= deadline:
                    return TIMED_OUT
                self.sleep(min(self.poll_s, max(0.0, deadline - self.clock())))
        except Exception as exc:  # Kafka or a database away: I/O behind ends/applied
            log.warning(
                "%s: cannot tell whether the stream has caught up (%s); the re-check goes on "
                "as if it had not",
                table_name,
                exc,
            )
            return TIMED_OUT
