"""A reload of a two-way table while PostgreSQL's changes still wait in Kafka for the stream.

The reload copies MySQL's rows over PostgreSQL's. A PostgreSQL change the stream had not yet
applied to MySQL reached MySQL alone after the reload (its echo dropped): PostgreSQL kept the
older copy for good. The reload now waits for the stream to apply them, and refuses, changing
nothing, when it does not catch up."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows
from tests.integration.test_backfill import captured_backfill, run_all

from mysql_pg_sync.backfill.runner import Backfill, BackfillError, RunOptions
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.recheck import CAUGHT_UP
from mysql_pg_sync.reconcile.stream_position import offsets_waiter

T0 = "2024-01-01 00:00:00"


def _backfill(items: Pipeline, tmp_path: Path, wait_s: float) -> Backfill:
    def applied(mapping: TableMapping) -> str:
        waiter = offsets_waiter(items.endpoints, mapping, wait_s, sides=("postgres",))
        return waiter.wait(mapping.name)

    return captured_backfill(items.endpoints, items.mappings, tmp_path, pg_changes_applied=applied)


def test_a_reload_waits_for_postgresql_s_changes_to_reach_mysql(
    items: Pipeline, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in items.env().items():
        monkeypatch.setenv(name, value)
    mapping = items.mappings.tables[0]
    assert mapping.direction == "both"
    for i in (1, 2):
        mysql_rows(items, f"INSERT INTO items VALUES ({i}, 'n{i}', {i}, 1.00, '{T0}', NULL)")
    consumer = items.consumer()
    try:
        drive(consumer, lambda: len(pg_rows(items, "SELECT 1 FROM items")) == 2)
    finally:
        consumer.close()
    # the stream is stopped; the PostgreSQL app updates a row: its change waits in Kafka
    with items.pg() as conn:
        conn.execute("UPDATE items SET name = 'from pg' WHERE id = 1")
    options = RunOptions(mode="reload", chunk_rows=10, strict_counts=True)
    with pytest.raises(BackfillError, match="still wait in Kafka") as refused:
        run_all(_backfill(items, tmp_path, 5), options)
    assert "nothing was changed" in str(refused.value)
    assert pg_rows(items, "SELECT name FROM items WHERE id = 1") == [("from pg",)]

    # the stream applies it to MySQL: the reload goes ahead, and both sides keep the change
    consumer = items.consumer()
    try:
        waiter = offsets_waiter(items.endpoints, mapping, 0, sides=("postgres",))
        drive(consumer, lambda: waiter.wait(mapping.name) == CAUGHT_UP, timeout_s=60)
    finally:
        consumer.close()
    run_all(_backfill(items, tmp_path, 5), options, run_id="run2")
    assert mysql_rows(items, "SELECT name FROM items WHERE id = 1") == [("from pg",)]
    assert pg_rows(items, "SELECT name FROM items WHERE id = 1") == [("from pg",)]
