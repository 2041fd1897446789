"""record_batch stores each table's own rate, and the status reader ages the last batch."""

from __future__ import annotations

from mysql_pg_sync.cdc.apply import BatchResult
from mysql_pg_sync.cdc.metrics import record_batch
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.status.read import SECTION_QUERIES


def test_rates_are_per_table_over_the_batch_time(pg_db: DatabaseEndpoint) -> None:
    result = BatchResult()
    result.counts("legacy.orders", "mysql").events = 30
    result.counts("legacy.customers", "mysql").events = 10
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        record_batch(conn, result, {}, 2.0)
        rates = dict(conn.execute("SELECT source_table, events_per_s FROM mps_sync.stream_metrics"))
    # Not 40 / 2 = 20 on both rows: that would show the whole batch's rate on every table.
    assert rates == {"legacy.orders": 15.0, "legacy.customers": 5.0}


def test_stream_section_reports_the_age_of_the_last_batch(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO mps_sync.stream_metrics (source_table, incoming_side, last_lag_ms,"
            " events_per_s, last_applied_at) VALUES"
            " ('legacy.orders', 'mysql', 100, 1, now() - interval '2 hours'),"
            " ('legacy.orders', 'postgres', 100, 1, now() - interval '3 hours')"
        )
        (age,) = conn.execute(f"SELECT age_seconds FROM ({SECTION_QUERIES['stream']}) s").fetchone()
    assert 2 * 3600 - 60 < age < 2 * 3600 + 60  # the newest side's batch
