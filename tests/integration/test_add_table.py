"""README "Operations / Add a table" on a running sync, step by step through the calls the CLI
and the DAGs make: mappings generate, ddl, connectors apply, backfill of that table alone, stream.

Two cases: a new table in a MySQL database the connector already captures, and one in a database
no mapping used before, whose DDL the connector's schema history never kept (`apply` makes the
source re-read its schema; it also heals a source that already failed on such a table).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from tests.conftest import unique_name
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, wait_until
from tests.integration.test_backfill import captured_backfill, mysql_admin_exec, run_all
from tests.integration.test_connectors import mysql_exec

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc import consumer as consumer_module
from mysql_pg_sync.cdc.connector_config import change_topic
from mysql_pg_sync.cdc.connector_signals import ensure_signal_table
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.slow  # connectors updated on a running sync: ~15-30 s per test

ORDERS_MYSQL = """CREATE TABLE orders (
  id int NOT NULL AUTO_INCREMENT PRIMARY KEY, customer varchar(40) NOT NULL,
  total decimal(10,2) NULL, placed_at datetime(6) NOT NULL, note text NULL)"""
ORDERS_INSERT = (
    "INSERT INTO `{db}`.orders (customer, total, placed_at, note) VALUES (%s, %s, %s, %s)"
)
ORDERS_COLUMNS = "id, customer, total, placed_at, note"
SEED_ROWS = 300
ITEMS_INSERT = "INSERT INTO items VALUES (%s, 'live', 1, 1.00, NOW(6), NULL)"


@pytest.fixture
def unmapped_db(mysql_admin: DatabaseEndpoint) -> Iterator[str]:
    """A MySQL database no mapping uses (named mps_test_*, where the sync user has grants)."""
    name = unique_name()
    mysql_admin_exec(mysql_admin, "mysql", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield name
    mysql_admin_exec(mysql_admin, "mysql", f"DROP DATABASE IF EXISTS `{name}`")


def _orders(p: Pipeline, db: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every column of every row, MySQL's and PostgreSQL's, in key order."""
    source = mysql_rows(p, f"SELECT {ORDERS_COLUMNS} FROM `{db}`.orders ORDER BY id")
    target = pg_rows(p, f"SELECT {ORDERS_COLUMNS} FROM public.orders ORDER BY id")
    return source, target


def _in_sync(p: Pipeline, db: str) -> bool:
    source, target = _orders(p, db)
    return source == target


def _orders_topics(p: Pipeline, db: str) -> list[str]:
    """The change topics of `orders`: MySQL's, then PostgreSQL's."""
    return [
        change_topic(p.settings.mysql_topic_prefix, db, "orders"),
        change_topic(p.settings.postgres_topic_prefix, "public", "orders"),
    ]


def _pg_item_ids(p: Pipeline) -> list[int]:
    return [r[0] for r in pg_rows(p, "SELECT id FROM items ORDER BY id")]


def _running_sync_gets_a_table(
    p: Pipeline, db: str, mysql_admin: DatabaseEndpoint, folder: Path, rows: int
) -> None:
    """The running sync (its mapping folder as `make mappings-generate` wrote it, the signal
    table the stack's bootstrap creates, changes to `items` streaming); meanwhile step 1: the
    application creates `orders` in ``db`` and writes ``rows`` rows."""
    main_db = p.endpoints.mysql.database
    assert main(["mappings", "generate", "--database", main_db, "--out", str(folder)]) == 0
    admin = replace(mysql_admin, database=main_db)
    ensure_signal_table(admin, "mysql", f"{main_db}.mps_debezium_signal")
    with closing(p.consumer()) as running:
        mysql_exec(p.endpoints.mysql, ITEMS_INSERT, 1)
        drive(running, lambda: _pg_item_ids(p) == [1])
        mysql_admin_exec(mysql_admin, db, ORDERS_MYSQL)
        seed = [
            (
                f"c{i}",
                f"{i}.{i % 100:02d}",
                f"2024-01-{1 + i % 28:02d} 10:00:00.{i:06d}",
                None if i % 3 else f"note {i}",
            )
            for i in range(1, rows + 1)
        ]
        conn = mysql_connect(mysql_admin, autocommit=True)
        try:
            conn.cursor().executemany(ORDERS_INSERT.format(db=db), seed)
        finally:
            conn.close()
        # the sync goes on: the connector's stored position moves past the new table's DDL
        mysql_exec(p.endpoints.mysql, ITEMS_INSERT, 2)
        drive(running, lambda: _pg_item_ids(p) == [1, 2])


def _map_and_create_target(
    p: Pipeline,
    db: str,
    folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> MappingSet:
    """Steps 2 and 3: `make mappings-generate` (another database: ARGS="--database <db>"),
    `make ddl ARGS=--dry-run`, `make ddl`."""
    capsys.readouterr()
    assert main(["mappings", "generate", "--database", db, "--out", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"new table: {db}.orders" in out
    assert "set enabled: false in its entry (kept), not delete the file" in out
    mappings = load_mappings(folder)
    main_db = p.endpoints.mysql.database
    assert {m.name for m in mappings} == {f"{main_db}.items", f"{db}.orders"}
    assert mappings.by_source(f"{db}.orders").direction == "both"
    monkeypatch.setenv("MPS_PG_DATABASE", p.endpoints.postgres.database)
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    assert 'CREATE TABLE IF NOT EXISTS "public"."orders"' in capsys.readouterr().out
    assert main(["ddl", "--mappings", str(folder)]) == 0
    with p.pg() as pg:  # as the e2e tests do; see the default-identity test below
        pg.execute("ALTER TABLE public.orders REPLICA IDENTITY FULL")
    return mappings


def _add_table_to_running_sync(
    p: Pipeline,
    db: str,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = tmp_path / "mappings"
    _running_sync_gets_a_table(p, db, mysql_admin, folder, SEED_ROWS)
    mappings = _map_and_create_target(p, db, folder, monkeypatch, capsys)
    orders = mappings.by_source(f"{db}.orders")

    # Step 4: `connectors` apply (include lists re-rendered from the mappings), then `backfill`
    # with tables set to the new table.
    ctx = actions.ConnectorContext(p.endpoints, mappings, p.settings, timeout_s=120)
    results = actions.apply(ctx)
    assert [(r.updated, r.status.is_running) for r in results] == [(True, True), (True, True)]
    # made before the table's first change (items' may be among them, if its first echo from
    # PostgreSQL was not captured yet)
    assert set(_orders_topics(p, db)) <= {t for r in results for t in r.topics_created}
    backfill = captured_backfill(p.endpoints, mappings, tmp_path)
    summary = run_all(backfill, RunOptions(tables=(orders.name,), chunk_rows=100))
    assert list(summary["tables"]) == [orders.name]
    source, target = _orders(p, db)
    assert len(source) == SEED_ROWS
    assert target == source

    # The stream's next run loads the new mappings: live changes on both tables, both ways.
    with closing(replace(p, mappings=mappings).consumer()) as consumer:
        mysql = p.endpoints.mysql
        mysql_exec(mysql, ORDERS_INSERT.format(db=db), "late", "9.99", "2024-02-01 12:00", "new")
        mysql_exec(
            mysql, f"UPDATE `{db}`.orders SET total = total + 1, note = 'u' WHERE id % 7 = 0"
        )
        mysql_exec(mysql, f"DELETE FROM `{db}`.orders WHERE id % 11 = 0")
        mysql_exec(mysql, ITEMS_INSERT, 3)
        drive(consumer, lambda: _in_sync(p, db) and _pg_item_ids(p) == [1, 2, 3], timeout_s=120)
        with p.pg() as pg:
            pg.execute(
                "INSERT INTO public.orders (id, customer, total, placed_at, note)"
                " VALUES (100001, 'from pg', 1.50, now(), 'pg')"
            )
            pg.execute("UPDATE public.orders SET customer = 'pg upd' WHERE id % 5 = 0")
            pg.execute("DELETE FROM public.orders WHERE id % 13 = 0")
            want = pg_rows(p, "SELECT count(*) FROM public.orders")
        drive(
            consumer,
            lambda: (
                _in_sync(p, db) and mysql_rows(p, f"SELECT count(*) FROM `{db}`.orders") == want
            ),
            timeout_s=120,
        )
        # quiet: what the stream applied comes back only as dropped echoes
        assert consumer.run(max_seconds=3).applied == 0
    source, target = _orders(p, db)
    assert source == target
    assert any(row[1] == "pg upd" for row in source)
    assert (100001, "from pg") in {row[:2] for row in source}
    assert actions.health(ctx).healthy


def test_a_table_added_to_a_captured_database_syncs_both_ways(
    items: Pipeline,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = items.endpoints.mysql.database
    _add_table_to_running_sync(items, db, mysql_admin, tmp_path, monkeypatch, capsys)


def test_a_table_in_a_database_no_mapping_used_before_syncs_both_ways(
    unmapped_db: str,
    items: Pipeline,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`apply` first has the MySQL source re-read its schema (snapshot.mode=recovery): without
    it the first change to the table failed the whole source task."""
    _add_table_to_running_sync(items, unmapped_db, mysql_admin, tmp_path, monkeypatch, capsys)


def test_the_first_change_to_an_added_table_needs_no_topic_discovery(
    items: Pipeline,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`apply` makes the table's change topics, so the stream is assigned their partitions
    before the table's first change. Without them it found the topic Debezium made at that
    change only at its next metadata refresh (10 s) and a rebalance: the change came 9-12 s late
    (a bound on the time would not tell the two apart: the assignment does)."""
    db = items.endpoints.mysql.database
    folder = tmp_path / "mappings"
    _running_sync_gets_a_table(items, db, mysql_admin, folder, rows=0)
    mappings = _map_and_create_target(items, db, folder, monkeypatch, capsys)
    ctx = actions.ConnectorContext(items.endpoints, mappings, items.settings, timeout_s=120)
    assert all(r.status.is_running for r in actions.apply(ctx))
    topics = _orders_topics(items, db)
    admin = AdminClient({"bootstrap.servers": items.endpoints.kafka_bootstrap})
    assert set(topics) <= set(admin.list_topics(timeout=10).topics)
    assert _orders(items, db) == ([], [])  # no change to the table yet

    # the stream service's own metadata refresh (10 s), not the test harness's 1 s
    stream = replace(items, mappings=mappings).consumer(kafka_overrides=())
    caplog.clear()  # the running sync's consumer counted items' topics absent before `apply`
    with closing(stream), caplog.at_level(logging.INFO, logger=consumer_module.__name__):
        drive(stream, lambda: set(topics) <= {tp.topic for tp in stream.consumer.assignment()})
        written = time.monotonic()
        insert = ORDERS_INSERT.format(db=db)
        mysql_exec(items.endpoints.mysql, insert, "first", "1.00", "2024-03-01 08:00:00", None)
        drive(stream, lambda: len(_orders(items, db)[1]) == 1, timeout_s=60)
        print(f"first change to the added table applied {time.monotonic() - written:.1f} s later")
    assert _in_sync(items, db)
    assert "do not exist yet" not in caplog.text  # the consumer's count of absent topics


def test_apply_heals_a_source_that_failed_on_a_table_of_a_new_database(
    unmapped_db: str,
    items: Pipeline,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A source updated the way `apply` did before (a plain config update) fails on the first
    change to the new database's table; `apply` re-reads the schema and the change arrives."""
    folder = tmp_path / "mappings"
    _running_sync_gets_a_table(items, unmapped_db, mysql_admin, folder, rows=0)
    mappings = _map_and_create_target(items, unmapped_db, folder, monkeypatch, capsys)
    ctx = actions.ConnectorContext(items.endpoints, mappings, items.settings, timeout_s=120)
    client = ctx.client()
    [source] = [c for c in actions.render(ctx) if c.side == "mysql"]
    lifecycle.apply_connector(client, source, timeout_s=120)
    insert = ORDERS_INSERT.format(db=unmapped_db)
    mysql_exec(items.endpoints.mysql, insert, "first", "1.00", "2024-03-01 08:00:00", None)

    def failed_on_unknown_schema() -> bool:
        status = client.status(source.name)
        return status.is_failed and lifecycle.UNKNOWN_TABLE_SCHEMA in status.failure_trace()

    wait_until(failed_on_unknown_schema, timeout_s=60)

    assert all(r.status.is_running for r in actions.apply(ctx))
    with closing(replace(items, mappings=mappings).consumer()) as consumer:
        drive(
            consumer,
            lambda: _in_sync(items, unmapped_db) and len(_orders(items, unmapped_db)[1]) == 1,
        )
    assert actions.health(ctx).healthy
