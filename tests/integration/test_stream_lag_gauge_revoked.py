"""A stream replica drops a table's lag gauge when it gives up the table's partitions: another
member applies it then, and the last value kept here froze an alert on ``max by (table)``."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from tests.integration.stream_harness import Pipeline, drive, pg_rows

from mysql_pg_sync.cdc.metrics import PrometheusMetrics

pytestmark = pytest.mark.integration


def _lag_series(registry: CollectorRegistry) -> list[dict[str, str]]:
    return [
        sample.labels
        for family in registry.collect()
        if family.name == "mps_stream_lag_seconds"
        for sample in family.samples
    ]


def test_the_lag_gauge_goes_with_the_partitions(items: Pipeline) -> None:
    registry = CollectorRegistry()
    consumer = items.consumer(PrometheusMetrics(registry), incoming_sides=("mysql",))
    try:
        items.mysql().cursor().execute(
            "INSERT INTO items (id, name, updated_at) VALUES (1, 'a', NOW(6))"
        )
        drive(consumer, lambda: pg_rows(items, "SELECT count(*) FROM items") == [(1,)])
        [labels] = _lag_series(registry)
        assert labels["incoming_side"] == "mysql"
    finally:
        consumer.close()  # leaves the group: its partitions are revoked
    assert _lag_series(registry) == []


def test_forgetting_a_series_never_observed_is_harmless() -> None:
    metrics = PrometheusMetrics(CollectorRegistry())
    metrics.forget_lag("legacy.orders", "mysql")
    metrics.lag.labels("legacy.orders", "mysql").set(1.5)
    metrics.forget_lag("legacy.orders", "mysql")
    assert list(metrics.lag.collect()[0].samples) == []
