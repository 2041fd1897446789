"""The "Sync status" app inside the real Airflow api-server app (real auth manager, real DB)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping, dump_yaml_entry
from mysql_pg_sync.quality.persist import save_run
from mysql_pg_sync.quality.results import CheckResult, QualityRun
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema

NOW = datetime.now(UTC)


def _mapping(name: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
    )


def _result(table: str, check_id: str, outcome: str, severity: str) -> CheckResult:
    return CheckResult(table, check_id, check_id.split(":")[0], severity, outcome, "Expect")  # type: ignore[arg-type]


def _seed(pg: DatabaseEndpoint, reports: Path) -> None:
    with pg_connect(pg, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO mps_sync.table_state (source_table, target_table, state) VALUES "
            "('legacy.orders', 'public.orders', 'streaming'), "
            "('legacy.customers', 'public.customers', 'backfilling')"
        )
        conn.execute(
            "INSERT INTO mps_sync.backfill_tables (source_table, target_table, key_columns, "
            "strategy, reader, chunk_rows) VALUES "
            "('legacy.customers', 'public.customers', '{id}', 'integer', 'connectorx', 100)"
        )
        for seq, state in enumerate(["done", "done", "done", "failed", "planned"]):
            conn.execute(
                "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, rows) "
                "VALUES ('legacy.customers', %s, %s, 100)",
                (seq, state),
            )
        conn.execute(
            "INSERT INTO mps_sync.stream_metrics (source_table, incoming_side, last_lag_ms,"
            " events_per_s, last_applied_at) VALUES ('legacy.orders', 'mysql', 1500, 40.5, now()),"
            " ('legacy.orders', 'postgres', 250, 2, now())"
        )
        conn.execute(  # a consumer running now: it stamped its heartbeat a moment ago
            "INSERT INTO mps_sync.stream_runs (run_id, started_at, heartbeat_at) "
            "VALUES ('live', now() - interval '1 hour', now())"
        )
        for _ in range(2):
            conn.execute(
                "INSERT INTO mps_sync.conflicts (source_table, target_table, key, incoming_side,"
                " winner, rule, kind) VALUES ('legacy.orders', 'public.orders', '[1]', 'mysql',"
                " 'mysql', 'mysql_wins', 'update_update')"
            )
        conn.execute(
            "INSERT INTO mps_sync.dead_letters (source_table, error_class, error,"
            " dead_letter_topic) VALUES ('legacy.customers', 'ConversionError', 'x', 'dlq')"
        )
        report = reports / "reconcile" / "r1.html"
        report.parent.mkdir(parents=True)
        report.write_text("<html><body>reconcile r1</body></html>")
        run_id = conn.execute(
            "INSERT INTO mps_sync.reconcile_runs (trigger, status, finished_at, report_html) "
            "VALUES ('test', 'drift', now(), %s) RETURNING run_id",
            (str(report),),
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status,"
            " drift_found, drift_repaired, finished_at) VALUES "
            "(%s, 'legacy.orders', 'public.orders', 'repaired', 4, 3, now())",
            (run_id,),
        )
        dq_report = reports / "quality" / "runs" / "dq1" / "report.html"
        dq_report.parent.mkdir(parents=True)
        dq_report.write_text("<html><body>dq</body></html>")
        save_run(
            conn,
            QualityRun(
                "dq1",
                NOW - timedelta(minutes=1),
                NOW,
                (
                    _result("legacy.orders", "key_unique:id", "passed", "fail"),
                    _result("legacy.orders", "freshness:ts", "failed", "warn"),
                    _result("legacy.customers", "key_unique:id", "failed", "fail"),
                ),
                report_path=str(dq_report),
            ),
        )


@pytest.fixture(scope="module")
def airflow_app():  # the real api-server application, with our plugin mounted
    from airflow.api_fastapi.app import create_app  # noqa: TID251  (the real api-server app)
    from fastapi.testclient import TestClient

    return TestClient(create_app())


@pytest.fixture
def client(
    airflow_app,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    use_airflow_connections,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    entries = [dump_yaml_entry(_mapping(n)) for n in ("customers", "orders", "products")]
    (mappings / "legacy.yaml").write_text(yaml.safe_dump(entries))
    reports = tmp_path / "reports"
    _seed(pg_db, reports)
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(mappings))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(reports))
    # The page reads the DAGs' Airflow connections, not MPS_* variables: aim only those.
    use_airflow_connections(endpoints.mysql, pg_db)
    monkeypatch.setenv("MPS_PG_DATABASE", "not_the_state_database")
    airflow_app.cookies.clear()
    return airflow_app


def _token(client) -> str:
    path = os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"]
    password = json.loads(Path(path).read_text())["admin"]
    response = client.post("/auth/token", json={"username": "admin", "password": password})
    assert response.status_code in (200, 201), response.text
    return response.json()["access_token"]


@pytest.mark.parametrize(
    "path",
    [
        "/sync-status/",
        "/sync-status/api/tables",
        "/sync-status/reports/quality/runs/dq1/report.html",
    ],
)
def test_anonymous_and_forged_requests_are_refused(client, path: str) -> None:
    assert client.get(path).status_code == 401
    forged = client.get(path, headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code in (401, 403)
    client.cookies.set("_token", "not-a-jwt")
    assert client.get(path).status_code in (401, 403)


def test_rows_match_the_state_tables(client, pg_db: DatabaseEndpoint) -> None:
    headers = {"Authorization": f"Bearer {_token(client)}"}
    rows = {r["source"]: r for r in client.get("/sync-status/api/tables", headers=headers).json()}
    assert sorted(rows) == ["legacy.customers", "legacy.orders", "legacy.products"]

    with pg_connect(pg_db) as conn:
        states = dict(conn.execute("SELECT source_table, state FROM mps_sync.table_state"))
        done, total = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'done'), count(*) FROM mps_sync.backfill_chunks"
        ).fetchone()
        found, repaired = conn.execute(
            "SELECT drift_found, drift_repaired FROM mps_sync.reconcile_tables"
        ).fetchone()
    for name, row in rows.items():
        assert row["state"] == states.get(name, "no data")
    customers, orders, products = (rows[f"legacy.{n}"] for n in ("customers", "orders", "products"))
    # 3 chunks of 100 rows done just now: 300 rows in the 5-minute rate window; no estimate of
    # what is left (est_rows NULL), so no time left
    assert customers["backfill"] == f"{done}/{total} chunks (60%), 300 rows, 1 rows/s, 1 failed"
    assert customers["quality"] == "failed"
    assert customers["health"] == "failed"
    assert orders["reconcile"].startswith(f"drift {found}, repaired {repaired}")
    assert orders["quality"] == "warn"
    assert orders["stream_lag"].startswith("1.5 s, applied ")
    assert orders["stream_lag"].endswith(" s ago")  # fresh: not stale
    assert orders["throughput"] == "42.5 ev/s"
    assert (orders["conflicts_24h"], orders["dead_letters"]) == ("2", "0")
    assert (customers["conflicts_24h"], customers["dead_letters"]) == ("0", "1")
    assert [link["label"] for link in orders["links"]] == ["DQ report", "reconcile report"]
    assert (products["state"], products["backfill"], products["quality"]) == ("no data",) * 3

    # Links resolve to files served behind the same login; nothing escapes the reports folder.
    for link in orders["links"]:
        served = client.get("/sync-status/" + link["href"].split("#")[0], headers=headers)
        assert served.status_code == 200
        assert "<html>" in served.text
    listing = client.get("/sync-status/reports/", headers=headers)
    assert listing.status_code == 200
    assert 'href="reconcile/r1.html"' in listing.text
    assert 'href="quality/runs/dq1/report.html"' in listing.text
    escape = client.get("/sync-status/reports/..%2F..%2Fetc/passwd", headers=headers)
    assert escape.status_code == 404

    client.cookies.set("_token", headers["Authorization"].split()[1])  # the UI's cookie works too
    page = client.get("/sync-status/")
    assert page.status_code == 200
    assert page.text.count('class="table-row') == 3
    assert 'data-table="legacy.orders"' in page.text
    assert '<div class="meta" id="consumers">Stream consumer: 1 running</div>' in page.text


def test_a_streaming_table_without_a_running_consumer_is_flagged(
    client, pg_db: DatabaseEndpoint
) -> None:
    """The consumer died without ending its run (no heartbeat for 10 min) and no run followed:
    the lag the last batch left looks healthy, so the page must say nothing applies changes."""
    headers = {"Authorization": f"Bearer {_token(client)}"}
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "UPDATE mps_sync.stream_runs SET heartbeat_at = now() - interval '10 minutes' "
            "WHERE run_id = 'live'"
        )
    try:
        rows = {
            r["source"]: r for r in client.get("/sync-status/api/tables", headers=headers).json()
        }
        orders = rows["legacy.orders"]
        assert orders["stream_lag"].endswith(" s ago (stale: no stream consumer running)")
        assert orders["health"] == "warn"
        assert rows["legacy.customers"]["stream_lag"] == "paused for the backfill"  # not stale
        client.cookies.set("_token", headers["Authorization"].split()[1])
        page = client.get("/sync-status/").text
        assert (
            '<div class="error" id="consumers">Stream consumer: none running (the last one '
            "stopped without finishing its run): changes wait in Kafka; unpause the stream DAG "
            "or start the stream service</div>"
        ) in page
    finally:
        with pg_connect(pg_db, autocommit=True) as conn:
            conn.execute(
                "UPDATE mps_sync.stream_runs SET heartbeat_at = now() WHERE run_id = 'live'"
            )


def test_unreachable_state_database_renders_a_note_not_a_500(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_TARGET", "postgres://sync:x@127.0.0.1:1/app")
    client.cookies.set("_token", _token(client))
    page = client.get("/sync-status/")
    assert page.status_code == 200
    assert 'id="state-error"' in page.text
    assert "state database unreachable: sync@127.0.0.1:1/app" in page.text
    api = client.get("/sync-status/api/tables")
    assert api.status_code == 200
    assert {row["state"] for row in api.json()} == {"no data"}


def test_mapping_drift_shows_on_the_page_until_the_mapping_lists_the_column(
    client, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    """The stream recorded that products' changes carry `ref_code`, which the mapping lacks."""
    headers = {"Authorization": f"Bearer {_token(client)}"}
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO mps_sync.mapping_drift (source_table, incoming_side, unknown_columns)"
            " VALUES ('legacy.products', 'mysql', '{ref_code}')"
        )
    rows = {r["source"]: r for r in client.get("/sync-status/api/tables", headers=headers).json()}
    products = rows["legacy.products"]
    assert products["health"] == "warn"
    # another reason may come first (a fresh stack has no connector: "no connector captures it")
    assert (
        "mapping drift: columns not synced: ref_code (mysql); run `make mappings-generate`"
        in products["reason"]
    )
    client.cookies.set("_token", headers["Authorization"].split()[1])
    page = client.get("/sync-status/").text
    assert '<small class="drift">mapping drift: not synced: ref_code (mysql)</small>' in page

    # `mappings generate` listed the column: the page clears although the row stays
    entries = [dump_yaml_entry(_mapping(n)) for n in ("customers", "orders", "products")]
    entries[2]["columns"].append({"name": "ref_code", "column_type": "varchar(20)"})
    (tmp_path / "mappings" / "legacy.yaml").write_text(yaml.safe_dump(entries))
    rows = {r["source"]: r for r in client.get("/sync-status/api/tables", headers=headers).json()}
    assert rows["legacy.products"]["mapping_drift"] == []
    assert "mapping drift" not in rows["legacy.products"]["reason"]
    assert 'class="drift"' not in client.get("/sync-status/").text
