"""The stream's lag histogram: exact percentiles for ordinary lags, bounded memory for any run."""

from __future__ import annotations

import random

import pytest

from mysql_pg_sync.cdc.lag_histogram import EXACT_BELOW_MS, LagHistogram
from mysql_pg_sync.cdc.metrics import percentile

pytestmark = pytest.mark.unit


def test_percentiles_match_the_exact_ones_below_the_exact_limit() -> None:
    rng = random.Random(3)
    lags = [rng.randint(-50, EXACT_BELOW_MS - 1) for _ in range(20_000)]
    hist = LagHistogram()
    for i in range(0, len(lags), 5_000):
        hist.add(lags[i : i + 5_000])
    assert hist.count == len(lags)
    for p in (0, 1, 50, 90, 99, 99.9, 100):
        assert hist.percentile(p) == percentile(lags, p)
    assert hist.max() == max(lags)
    assert sorted(hist.values()) == sorted(lags)


def test_long_lags_keep_three_significant_digits() -> None:
    hist = LagHistogram()
    hist.add([12_345, 12_355, 9_876_543, -123_456])
    assert sorted(hist.values()) == [-123_000, 12_300, 12_400, 9_880_000]


def test_memory_stays_bounded_over_a_long_run() -> None:
    """One summary lives as long as the service: a day of lags must not grow it without end."""
    rng = random.Random(5)
    hist = LagHistogram()
    for _ in range(200):  # 1M events, lags from 1 ms to ~11 days
        hist.add([int(10 ** rng.uniform(0, 9)) for _ in range(5_000)])
    assert hist.count == 1_000_000
    assert len(hist) < EXACT_BELOW_MS + 900 * 7  # exact part + 3 digits per decade above it
    assert 0 < hist.percentile(50) < hist.percentile(99) <= hist.max()


def test_an_empty_histogram_reports_zero() -> None:
    hist = LagHistogram()
    hist.add([])
    assert (hist.count, hist.percentile(99), hist.max()) == (0, 0, 0)
