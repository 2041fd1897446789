"""A column the PostgreSQL app adds to a table synced both ways, on purpose: mapping drift (the
stream's summary and gauge, the status row yellow) until the table's entry lists it under
``postgres_only_columns``; after that nothing reports it, the stream goes on applying the
mapped columns both ways, and `ddl` and the backfill's target check leave it alone unless it
is misspelt or no row from MySQL could fill it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows
from tests.integration.test_stream_service_drift_status import _status

from mysql_pg_sync.backfill.target import TargetSchemaError, ensure_target
from mysql_pg_sync.cdc.consumer import RunSummary, StreamConsumer
from mysql_pg_sync.cdc.metrics import PrometheusMetrics
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.status.model import TableStatus, UnsyncedColumns

pytestmark = pytest.mark.integration

ITEMS_PG_EXTRA = ["ALTER TABLE public.items ADD COLUMN audit_note text"]  # the items fixture


def _write(path: Path, items: Pipeline, *postgres_only: str) -> None:
    entry = dump_yaml_entry(items.mappings.tables[0])
    if postgres_only:
        entry["postgres_only_columns"] = list(postgres_only)
    path.write_text(yaml.safe_dump([entry]))


def _consume_until(
    items: Pipeline, consumer: StreamConsumer, sql: str, expected: list[Any]
) -> RunSummary:
    """Run the consumer in short slices, one summary over all, until a MySQL query shows
    ``expected``."""
    summary = consumer.run(max_seconds=0.5)
    deadline = time.monotonic() + 90
    while mysql_rows(items, sql) != expected:
        assert time.monotonic() < deadline, f"not applied to MySQL: {sql}"
        summary = consumer.run(max_seconds=0.5, summary=summary)
    return summary


def _consumer(items: Pipeline, folder: Path, metrics: PrometheusMetrics) -> StreamConsumer:
    """A consumer of the pipeline's group, with the mappings the folder holds now."""
    return StreamConsumer(items.endpoints, load_mappings(folder), items.config, metrics)


def _pg_app_insert(items: Pipeline, key: int, name: str, audit_note: str) -> None:
    """A row as the PostgreSQL app writes it, with its own column."""
    with items.pg() as conn:
        conn.execute(
            "INSERT INTO items (id, name, qty, price, updated_at, note, audit_note) "
            "VALUES (%s, %s, 1, 1, now(), 'n', %s)",
            (key, name, audit_note),
        )


def _drift_rows(items: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(
        items,
        "SELECT incoming_side, unknown_columns, last_seen FROM mps_sync.mapping_drift "
        "ORDER BY incoming_side, last_seen",
    )


def test_a_postgres_only_column_is_drift_until_acknowledged(
    items: Pipeline, tmp_path: Path
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping_file = folder / "items.yaml"
    _write(mapping_file, items)
    table = items.mappings.tables[0].name
    metrics = PrometheusMetrics(registry=CollectorRegistry())

    # before: the PostgreSQL app writes its own column; the mapped ones reach MySQL
    _pg_app_insert(items, 1, "a", "pg only")
    consumer = _consumer(items, folder, metrics)
    try:
        summary = _consume_until(items, consumer, "SELECT id, name FROM items", [(1, "a")])
    finally:
        consumer.close()
    assert summary.drift == {f"{table} (postgres)": ["audit_note"]}
    assert metrics.drift.labels(table, "postgres")._value.get() == 1
    row = _status(items, folder)
    assert row.mapping_drift == (UnsyncedColumns("postgres", ("audit_note",)),)
    assert row.health == "warn"
    assert "list it under `postgres_only_columns` in the table's mapping" in row.reason
    (before,) = _drift_rows(items)
    assert before[:2] == ("postgres", ["audit_note"])

    # the acknowledgment: the status clears at once, with no batch since
    _write(mapping_file, items, "audit_note")
    row = _status(items, folder)
    assert row.mapping_drift == ()
    _stale_only(row)

    # after: the stream applies both ways and records no drift for the column
    _pg_app_insert(items, 2, "b", "pg only too")
    mysql_rows(items, "INSERT INTO items VALUES (3, 'c', 3, 3, NOW(6), 'from mysql')")
    consumer = _consumer(items, folder, metrics)
    try:
        summary = _consume_until(
            items, consumer, "SELECT id FROM items ORDER BY id", [(1,), (2,), (3,)]
        )
        deadline = time.monotonic() + 60
        while pg_rows(items, "SELECT count(*) FROM items") != [(3,)]:
            assert time.monotonic() < deadline, "MySQL's row did not reach PostgreSQL"
            summary = consumer.run(max_seconds=0.5, summary=summary)
    finally:
        consumer.close()
    assert summary.drift == {}
    assert metrics.drift.labels(table, "postgres")._value.get() == 0
    assert _drift_rows(items) == [before]  # not seen again
    assert pg_rows(items, "SELECT id, audit_note FROM items ORDER BY id") == [
        (1, "pg only"),
        (2, "pg only too"),
        (3, None),  # MySQL's insert leaves PostgreSQL's own column to its default
    ]
    row = _status(items, folder)
    assert row.mapping_drift == ()
    _stale_only(row)


def _stale_only(row: TableStatus) -> None:
    """No drift is left in the reason: the table is yellow only because it streams (no
    backfill state in this pipeline) while no stream consumer runs (this test's is closed)."""
    assert "postgres_only_columns" not in row.reason
    assert "(stale: no stream consumer running)" in row.stream_lag
    assert row.health == "warn"


# --- ddl and the backfill's target check, on an existing PostgreSQL table ------------------


def _invoices(folder: Path, *postgres_only: str) -> Path:
    folder.mkdir(exist_ok=True)
    entry = {
        "source": "legacy.invoices",
        "target": "public.invoices",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "int(11)", "nullable": False},
            {"name": "note", "column_type": "varchar(20)", "pg_name": "memo"},
        ],
        "postgres_only_columns": list(postgres_only),
    }
    path = folder / "legacy.invoices.yaml"
    path.write_text(yaml.safe_dump([entry]))
    return path


def _pg_columns(pg: DatabaseEndpoint) -> list[str]:
    with pg_connect(pg) as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = 'invoices' ORDER BY ordinal_position"
        ).fetchall()
    return [r[0] for r in rows]


def _target_error(path: Path, pg: DatabaseEndpoint) -> str:
    mappings = load_mappings(path.parent)
    with pg_connect(pg) as conn, pytest.raises(TargetSchemaError) as err:
        ensure_target(conn, mappings.by_source("legacy.invoices"), mappings, create=True)
    return str(err.value)


def test_ddl_and_the_backfill_check_leave_an_acknowledged_column_alone_and_name_mistakes(
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.invoices (id integer PRIMARY KEY, memo varchar(20), "
            "audit_note text)"
        )
        conn.execute("INSERT INTO public.invoices VALUES (1, 'm', 'kept')")
    folder = tmp_path / "m"

    path = _invoices(folder, "audit_note")
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert "audit_note" not in capsys.readouterr().err
    assert _pg_columns(pg_db) == ["id", "memo", "audit_note"]
    mappings = load_mappings(folder)
    with pg_connect(pg_db) as conn:
        assert not ensure_target(
            conn, mappings.by_source("legacy.invoices"), mappings, create=False
        )

    # a misspelt name would acknowledge nothing: ddl and the backfill name table, column, file
    path = _invoices(folder, "audit_notes")
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert (
        f"ddl: legacy.invoices: the existing PostgreSQL table does not match the mapping "
        f"(mapping file {path})"
    ) in err
    assert (
        'column \'audit_notes\' is listed in postgres_only_columns, but "public"."invoices" '
        "has no such column: fix its spelling, or remove it from postgres_only_columns"
    ) in err
    message = _target_error(path, pg_db)
    assert "legacy.invoices: target table public.invoices is incompatible with the mapping" in (
        message
    )
    assert "column 'audit_notes' is listed in postgres_only_columns" in message
    assert f"mapping file {path}" in message

    # NOT NULL without a default: no row from MySQL could fill it; refused before any copy
    path = _invoices(folder, "audit_note")
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.invoices ALTER COLUMN audit_note SET NOT NULL")
    fix = (
        "column 'audit_note' (text) is PostgreSQL-only (postgres_only_columns) but NOT NULL "
        "without a default, so neither the backfill's rows nor the stream's inserts from MySQL "
        'can fill it (give it a default: ALTER TABLE "public"."invoices" ALTER COLUMN '
        '"audit_note" SET DEFAULT <value>; or DROP NOT NULL)'
    )
    assert main(["ddl", "--mappings", str(folder)]) == 1
    assert fix in capsys.readouterr().err
    message = _target_error(path, pg_db)
    assert fix in message
    assert f"mapping file {path}" in message
    assert _pg_columns(pg_db) == ["id", "memo", "audit_note"]  # nothing dropped or changed
