"""In-flight changes are not drift: wait until the stream has caught up, then look again."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class CatchUpWaiter(Protocol):
    def wait(self, table_name: str) -> None:
        """Return once changes committed before the comparison have been applied."""
        ...


@dataclass(frozen=True)
class DelayWaiter:
    """Wait a configured time: enough when the stream's lag is known to stay below it.

    Until the stream records per-table lag in the state schema this is the way to wait; the
    re-check itself compares only the suspect rows again, so the delay costs no scan.
    """

    seconds: float = 30.0

    def wait(self, table_name: str) -> None:
        if self.seconds > 0:
            time.sleep(self.seconds)
