"""End-to-end lag of the applied events, in bounded memory.

The long-lived stream service keeps one run summary for its whole life, so it cannot keep every
event's lag: at 1,000 events/s a list grew by ~3 GB a day. Lags up to ``EXACT_BELOW_MS`` are kept
exactly, per millisecond; longer ones (an outage, a paused table) at three significant digits.
That bounds the histogram to ~10k + 900 per decade keys, whatever the run's length.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

EXACT_BELOW_MS = 10_000


def nearest_rank(p: float, count: int) -> int:
    """The 1-based rank of the ``p``-th percentile of ``count`` values: ceil(p/100 * count).

    ``round(x + 0.5)`` rounds half to even, so a whole ``x`` that is odd went one rank up: the
    p99 of 100 lags was their maximum, the median of 1..10 was 6. The product is rounded to 9
    places first, so 99.9 % of 1,000 (999.0000000000001 in floats) is rank 999, not 1,000.
    """
    return min(count, max(1, math.ceil(round(p / 100 * count, 9))))


def _coarse(lag_ms: int) -> int:
    """``lag_ms`` rounded to three significant digits (exact below ``EXACT_BELOW_MS``)."""
    if -EXACT_BELOW_MS < lag_ms < EXACT_BELOW_MS:
        return lag_ms
    digits = len(str(abs(lag_ms)))
    step = 10 ** (digits - 3)
    return round(lag_ms / step) * step


class LagHistogram:
    def __init__(self) -> None:
        self._counts: Counter[int] = Counter()
        self.count = 0

    def add(self, lags_ms: list[int]) -> None:
        """One batch's lags (milliseconds; negative when the clocks disagree)."""
        if not lags_ms:
            return
        if max(lags_ms) < EXACT_BELOW_MS and min(lags_ms) > -EXACT_BELOW_MS:
            self._counts.update(lags_ms)  # the common case, in C
        else:
            self._counts.update(_coarse(v) for v in lags_ms)
        self.count += len(lags_ms)

    def percentile(self, p: float) -> int:
        """Nearest-rank percentile; 0 when nothing was added."""
        if not self.count:
            return 0
        rank = nearest_rank(p, self.count)
        seen = 0
        for value in sorted(self._counts):
            seen += self._counts[value]
            if seen >= rank:
                return value
        raise AssertionError("unreachable: the counts add up to self.count")

    def max(self) -> int:
        return max(self._counts, default=0)

    def __len__(self) -> int:
        """Distinct values kept (the memory bound), not the number of events."""
        return len(self._counts)

    def values(self) -> Iterable[int]:
        """Every recorded lag, expanded (for tests and small runs)."""
        for value in sorted(self._counts):
            yield from [value] * self._counts[value]
