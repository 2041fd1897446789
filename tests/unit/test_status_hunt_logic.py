"""Pure logic behind what operators read: lag percentiles, a paused table, the Prometheus
exposition of awkward table names."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from mysql_pg_sync.cdc.apply import BatchResult
from mysql_pg_sync.cdc.lag_histogram import LagHistogram, nearest_rank
from mysql_pg_sync.cdc.metrics import PrometheusMetrics, percentile
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.status.model import StateSnapshot, build_status

pytestmark = pytest.mark.unit


def _exact(values: list[int], p: float) -> int:
    """Nearest rank by definition, in exact arithmetic: the value of rank ceil(p/100 * n)."""
    ordered = sorted(values)
    rank = math.ceil(Fraction(str(p)) * len(ordered) / 100)
    return ordered[min(len(ordered), max(1, rank)) - 1]


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        (list(range(1, 101)), 99, 99),  # was 100: the max, not the p99
        (list(range(1, 11)), 50, 5),  # was 6
        ([1, 2], 50, 1),  # was 2
        (list(range(1, 301)), 99, 297),  # was 298
        (list(range(1, 1001)), 99.9, 999),
        (list(range(1, 101)), 100, 100),
        (list(range(1, 101)), 0, 1),
    ],
)
def test_percentiles_are_the_nearest_rank(values: list[int], p: float, expected: int) -> None:
    """``round(x + 0.5)`` rounds half to even: whenever p % of the count was a whole odd
    number, the percentile was one rank too high (the run summary's lag_p99_ms and the bench's
    p99 lag target)."""
    hist = LagHistogram()
    hist.add(values)
    assert percentile(values, p) == expected == _exact(values, p)
    assert hist.percentile(p) == expected


def test_nearest_rank_matches_its_definition_on_random_counts() -> None:
    rng = random.Random(11)
    for _ in range(300):
        n = rng.randint(1, 2_000)
        p = rng.choice([50, 90, 95, 99, 99.9, round(rng.uniform(0, 100), 3)])
        values = list(range(n))
        assert values[nearest_rank(p, n) - 1] == _exact(values, p), (n, p)


def _mapping(name: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
    )


def test_a_paused_table_is_not_green_and_its_old_lag_is_history() -> None:
    snapshot = StateSnapshot(
        table_state={"legacy.mps_sth_t": {"state": "paused", "age_seconds": 4 * 86400}},
        stream={
            "legacy.mps_sth_t": {"lag_seconds": 0.3, "events_per_second": 12.5, "age_seconds": 5}
        },
        consumers={"running": 1},
        conflicts_24h={},
        dead_letters={},
    )
    (row,) = build_status([_mapping("mps_sth_t")], snapshot)
    assert row.health == "warn"
    assert (
        row.stream_lag == "paused for 4 d: the stream holds its changes (before: 0.3 s, "
        "applied 5 s ago)"
    )
    assert row.throughput == "0 ev/s now (last batch 12.5 ev/s)"
    assert row.reason.startswith("paused: the stream holds its changes back in Kafka")


def test_awkward_table_names_keep_the_exposition_format() -> None:
    """Quotes, backslashes, newlines, dots and unicode in a table label: the scrape must parse
    and give the names back unchanged, and a counter only goes up."""
    registry = CollectorRegistry()
    metrics = PrometheusMetrics(registry)
    names = ['db."q"', "db.a\\b", "db.ünï.x", "db.x\ny", "db.<script>"]
    for _ in range(2):
        result = BatchResult()
        for name in names:
            n = result.counts(name, "mysql")
            n.events, n.applied = 3, 2
        metrics.observe(result, {(names[0], "mysql"): 1500})
    text = generate_latest(registry).decode()
    samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
    events = {s.labels["table"]: s.value for s in samples if s.name == "mps_stream_events_total"}
    assert events == dict.fromkeys(names, 6.0)
    lag = [s for s in samples if s.name == "mps_stream_lag_seconds"]
    assert [(s.labels["table"], s.value) for s in lag] == [('db."q"', 1.5)]
