"""Operator review, on the real servers: a zero date that arrived as NULL is no NOT NULL breach,
a NULL breach names its rows' keys, and unrepaired drift names its reconcile run, the run's
report and the repair, in the summary, the HTML report and the JSON."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema


def _products(db: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.products",
            "target": "public.products",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "sku", "column_type": "varchar(20)", "nullable": False},
                {"name": "updated_at", "column_type": "datetime", "nullable": False},
            ],
            "values": {"zero_dates": "null"},
        }
    )


@pytest.fixture
def products(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint, endpoints
) -> tuple[Endpoints, MappingSet]:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = ''")  # let the zero date in, as legacy apps did
    cur.execute(
        "CREATE TABLE products (id int PRIMARY KEY, sku varchar(20) NOT NULL,"
        " updated_at datetime NOT NULL)"
    )
    cur.execute(
        "INSERT INTO products VALUES (1, 'A-1', '2026-01-01 10:00:00'),"
        " (2, 'B-2', '0000-00-00 00:00:00'), (3, 'C-3', '2026-01-02 10:00:00'),"
        " (4, 'D-4', '2026-01-03 10:00:00')"
    )
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:
        # As ddl creates it under zero_dates: null: updated_at NULLable, NULL for the zero date.
        pg.execute(
            "CREATE TABLE public.products (id integer PRIMARY KEY, sku varchar(20),"
            " updated_at timestamp)"
        )
        pg.execute(
            "INSERT INTO public.products VALUES (1, 'A-1', '2026-01-01 10:00'),"
            " (2, 'B-2', NULL), (3, NULL, '2026-01-02 10:00'), (4, NULL, '2026-01-03 10:00')"
        )
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), MappingSet((_products(db),))


def _drift_run(endpoint: DatabaseEndpoint, table: str, report_html: str | None) -> int:
    with pg_connect(endpoint, autocommit=True) as conn:
        ensure_schema(conn)
        run_id = conn.execute(
            "INSERT INTO mps_sync.reconcile_runs (status, report_html) VALUES ('drift', %s)"
            " RETURNING run_id",
            (report_html,),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status,"
            " drift_found, drift_repaired, finished_at)"
            " VALUES (%s, %s, 'public.products', 'drift', 1, 0, now())",
            (run_id, table),
        )
    return int(run_id)


def test_zero_date_passes_null_breach_has_keys_and_drift_says_what_to_do(
    products, tmp_path: Path
) -> None:
    endpoints, mappings = products
    table = f"{endpoints.mysql.database}.products"
    report = "/reports/reconcile-x.html"
    run_id = _drift_run(endpoints.postgres, table, report)

    run = run_quality(
        endpoints, mappings, load_quality_config(tmp_path / "none"), "manual__z1", reports=tmp_path
    )
    by_id = {r.check_id: r for r in run.results}

    assert "not_null:updated_at" not in by_id
    assert not any(r.column == "updated_at" and r.breached for r in run.results)
    assert by_id["row_count_parity"].outcome == "passed"

    sku = by_id["not_null:sku"]
    assert (sku.outcome, sku.unexpected_count, sku.sample) == ("failed", 2, [None, None])
    assert sku.sample_keys == [{"id": 3}, {"id": 4}]

    drift = by_id["reconcile_drift"]
    assert (drift.outcome, drift.observed) == ("failed", 1)
    command = f"python -m mysql_pg_sync reconcile --tables {table} --repair --no-dry-run"
    assert drift.detail == (
        f"expected at most 0; drift left by reconcile run {run_id}; its report: {report}; "
        f'to repair it trigger the reconcile DAG with Params tables = ["{table}"], repair on '
        f"and dry_run off, or `{command}`; a repair copies MySQL's rows "
        "(reconcile.authoritative: mysql)"
    )

    summary = run.summary()
    assert (
        f"[fail] {table} not_null:sku: 2 unexpected value(s); e.g. None, None at key id=3, id=4"
        in summary
    )
    assert f"reconcile run {run_id}; its report: {report}" in summary
    assert command in summary
    html = Path(run.report_path or "").read_text(encoding="utf-8")
    assert "e.g. None, None at key id=3, id=4" in html
    assert f"reconcile run {run_id}; its report: {report}" in html
    assert command in html
    saved = json.loads((tmp_path / "quality/runs/manual__z1/results.json").read_text())
    (saved_sku,) = [r for r in saved["results"] if r["check_id"] == "not_null:sku"]
    assert saved_sku["sample_keys"] == [{"id": 3}, {"id": 4}]
    with pg_connect(endpoints.postgres) as conn:
        (stored,) = conn.execute(
            "SELECT detail FROM mps_sync.dq_results WHERE run_id = 'manual__z1'"
            " AND check_id = 'reconcile_drift'"
        ).fetchone()
    assert stored == drift.detail


def test_a_run_still_writing_its_report_points_where_it_will_be(
    products, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoints, mappings = products
    table = f"{endpoints.mysql.database}.products"
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    run_id = _drift_run(endpoints.postgres, table, None)

    run = run_quality(
        endpoints,
        mappings,
        load_quality_config(tmp_path / "none"),
        "manual__z2",
        tables=[table],
        reports=tmp_path,
    )
    (drift,) = [r for r in run.results if r.check == "reconcile_drift"]
    assert f"its report: {tmp_path / 'reports' / f'reconcile-{run_id}.html'}" in drift.detail


def test_drift_after_a_capture_gap_says_to_repair_from_the_side_that_lost_changes(
    products, tmp_path: Path
) -> None:
    """products is mysql_wins: a repair from the mapping's side would copy MySQL's stale rows
    over the PostgreSQL changes the capture gap lost. Both hints name postgres instead."""
    endpoints, mappings = products
    table = f"{endpoints.mysql.database}.products"
    run_id = _drift_run(endpoints.postgres, table, "/reports/reconcile-g.html")
    with pg_connect(endpoints.postgres, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO mps_sync.stream_gaps (source_table, incoming_side, kind, reason)"
            " VALUES (%s, 'postgres', 'capture', 'replication slot lost')",
            (table,),
        )
        conn.execute(  # rows the other side never got: parity breached too
            "INSERT INTO public.products SELECT i, 'X', now() FROM generate_series(5, 404) i"
        )

    run = run_quality(
        endpoints, mappings, load_quality_config(tmp_path / "none"), "manual__g1", reports=tmp_path
    )
    by_id = {r.check_id: r for r in run.results}
    drift = by_id["reconcile_drift"].detail
    assert f"drift left by reconcile run {run_id}" in drift
    assert "the table lost the changes its connector never captured" in drift
    assert "dry_run off and authoritative postgres" in drift
    assert "--repair --no-dry-run`" not in drift  # not the repair from the mapping's side
    parity = by_id["row_count_parity"]
    assert parity.outcome == "failed"
    assert "authoritative postgres" in parity.detail
    assert "the rows are in flight" not in parity.detail
