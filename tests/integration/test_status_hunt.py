"""What an operator reads on the Sync status page, through the real Airflow api-server app (real
auth manager) on a fresh state database: a paused table, a direction that stopped days ago, a
table name and an error text that are HTML, an empty state database."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cdc.apply import BatchResult
from mysql_pg_sync.cdc.metrics import record_batch
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping, dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.status.read import SECTION_QUERIES

pytestmark = pytest.mark.integration
PREFIX = f"mps_sth_{uuid.uuid4().hex[:8]}"
ORDERS = f"legacy.{PREFIX}_orders"
NOTES = f"legacy.{PREFIX}_notes"


def _mapping(source: str, direction: str = "both") -> TableMapping:
    name = source.split(".")[1]
    return TableMapping.model_validate(
        {
            "source": source,
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
            "direction": direction,
        }
    )


@pytest.fixture(scope="module")
def airflow_app():  # type: ignore[no-untyped-def]  # the real api-server, our plugin mounted
    from airflow.api_fastapi.app import create_app  # noqa: TID251  (the real api-server app)
    from fastapi.testclient import TestClient

    return TestClient(create_app())


@pytest.fixture
def client(  # type: ignore[no-untyped-def]
    airflow_app,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    use_airflow_connections,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    entries = [dump_yaml_entry(_mapping(ORDERS)), dump_yaml_entry(_mapping(NOTES, "mysql_to_pg"))]
    (mappings / "legacy.yaml").write_text(yaml.safe_dump(entries))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    use_airflow_connections(endpoints.mysql, pg_db)
    airflow_app.cookies.clear()
    password_file = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    password = json.loads(Path(password_file).read_text())["admin"]
    token = airflow_app.post("/auth/token", json={"username": "admin", "password": password})
    assert token.status_code in (200, 201), token.text
    airflow_app.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    try:
        yield airflow_app
    finally:
        airflow_app.headers.pop("Authorization", None)


def _rows(client: Any) -> dict[str, dict[str, Any]]:
    response = client.get("/sync-status/api/tables")
    assert response.status_code == 200, response.text
    return {r["source"]: r for r in response.json()}


def _seed(pg: DatabaseEndpoint, *statements: str) -> None:
    with pg_connect(pg, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(  # a consumer running now
            "INSERT INTO mps_sync.stream_runs (run_id, started_at, heartbeat_at) "
            f"VALUES ('{PREFIX}_live', now() - interval '1 hour', now())"
        )
        for sql in statements:
            conn.execute(sql)


def test_a_table_left_paused_does_not_read_healthy(client, pg_db: DatabaseEndpoint) -> None:
    """`paused` is a state the stream holds (HELD_STATES): none of its changes is applied and
    Kafka deletes them after 7 days. The page showed it green with its last lag, as current."""
    _seed(
        pg_db,
        "INSERT INTO mps_sync.table_state (source_table, target_table, state, updated_at) VALUES "
        f"('{NOTES}', 'public.x', 'paused', now() - interval '6 days')",
        "INSERT INTO mps_sync.stream_metrics (source_table, incoming_side, last_lag_ms,"
        f" events_per_s, last_applied_at) VALUES ('{NOTES}', 'mysql', 300, 80, now())",
    )
    notes = _rows(client)[NOTES]
    assert notes["state"] == "paused"
    assert notes["health"] != "ok"
    assert "paused: the stream holds its changes back in Kafka" in notes["reason"]
    assert notes["stream_lag"].startswith("paused for 6 d: the stream holds its changes (before:")
    assert notes["throughput"] == "0 ev/s now (last batch 80.0 ev/s)"


def test_a_direction_that_stopped_days_ago_adds_no_rate(client, pg_db: DatabaseEndpoint) -> None:
    """A two-way table: MySQL's changes stopped 3 days ago at 1,000 ev/s, PostgreSQL's flow at
    2 ev/s. The page's throughput was their sum, 1,002 ev/s, 3 days on."""
    _seed(
        pg_db,
        "INSERT INTO mps_sync.table_state (source_table, target_table, state) VALUES "
        f"('{ORDERS}', 'public.x', 'streaming')",
        "INSERT INTO mps_sync.stream_metrics (source_table, incoming_side, last_lag_ms,"
        f" events_per_s, last_applied_at) VALUES ('{ORDERS}', 'mysql', 200, 1000,"
        f" now() - interval '3 days'), ('{ORDERS}', 'postgres', 400, 2, now())",
    )
    orders = _rows(client)[ORDERS]
    assert orders["throughput"] == "2.0 ev/s"
    assert orders["figures"]["stream_events_per_second"] == 2.0
    assert orders["stream_lag"].startswith("0.4 s, applied ")


def test_echoes_of_a_one_way_flow_do_not_double_its_rate(pg_db: DatabaseEndpoint) -> None:
    """Writes only in MySQL, 100 ev/s applied to PostgreSQL: the PostgreSQL side reads them back
    as echoes (dropped, nothing applied). The table's rate read 200 ev/s."""
    table = f"legacy.{PREFIX}_echo"
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        applied = BatchResult()
        n = applied.counts(table, "mysql")
        n.events = n.applied = 100
        record_batch(conn, applied, {(table, "mysql"): 120}, 1.0)
        echoes = BatchResult()
        e = echoes.counts(table, "postgres")
        e.events = e.echoes = 100
        record_batch(conn, echoes, {}, 1.0)
        (rate,) = conn.execute(
            f"SELECT events_per_second FROM ({SECTION_QUERIES['stream']}) s"
        ).fetchone()
    assert float(rate) == 100.0
    # stopped for days: the newest batch's rate stays, for "0 ev/s now (last batch ...)"
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE mps_sync.stream_metrics SET last_applied_at = now() - interval '3 days'"
            " WHERE last_applied_at IS NOT NULL"
        )
        (rate,) = conn.execute(
            f"SELECT events_per_second FROM ({SECTION_QUERIES['stream']}) s"
        ).fetchone()
    assert float(rate) == 100.0


def test_html_in_a_table_name_and_an_error_is_escaped(client, pg_db: DatabaseEndpoint) -> None:
    """A dead letter's table name (no mapping lists it: its row stays) and a stream run's error
    come from the state tables: they must render as text, never as markup."""
    evil = f"{PREFIX}.<script>alert('t')</script>"
    error = 'ValueError: <img src=x onerror=alert(1)> & "quotes"'
    _seed(
        pg_db,
        "INSERT INTO mps_sync.dead_letters (source_table, error_class, error, dead_letter_topic)"
        f" VALUES ($${evil}$$, 'X', 'x', 'dlq')",
        "DELETE FROM mps_sync.stream_runs",
        "INSERT INTO mps_sync.stream_runs (run_id, started_at, finished_at, summary) VALUES "
        f"('{PREFIX}_failed', now() - interval '5 minutes', now() - interval '4 minutes', "
        f"jsonb_build_object('error', $${error}$$))",
        "INSERT INTO mps_sync.table_state (source_table, target_table, state) VALUES "
        f"('{ORDERS}', 'public.x', 'streaming')",
    )
    rows = _rows(client)
    assert rows[evil]["dead_letters"] == "1"
    page = client.get("/sync-status/")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page.text
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;" in page.text
    assert 'id="consumers">Stream consumer: failing: the last run failed' in page.text


def test_a_state_database_without_the_schema_renders(client, pg_db: DatabaseEndpoint) -> None:
    """A fresh target database: no mps_sync at all. Every section says no data; no 500."""
    page = client.get("/sync-status/")
    assert page.status_code == 200, page.text
    rows = _rows(client)
    assert {rows[t]["state"] for t in (ORDERS, NOTES)} == {"no data"}
    assert "stream: no data" in page.text
