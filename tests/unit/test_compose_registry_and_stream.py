"""docker-compose runs the registry and the stream service as the local stack and the docs say:
Apicurio 2.4 on PostgreSQL (ADR 0010), the stream's metrics reachable and logged in like the DAGs,
and run reports on a volume every Airflow container shares."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yaml").read_text())


def test_registry_is_the_local_major_version_on_postgres_storage() -> None:
    compose = _compose()
    registry = compose["services"]["apicurio"]
    pom = (REPO / "stack" / "maven" / "registry" / "pom.xml").read_text()
    local = re.search(r"<apicurio.version>(\d+)\.", pom)
    assert local is not None
    tag = registry["image"].rpartition(":")[2]
    assert tag.split(".")[0] == local.group(1), f"compose runs {tag}, the stack {local.group(0)}"
    assert "registry-sql" in registry["image"]  # 2.x ships one image per storage
    env = registry["environment"]
    assert env["REGISTRY_DATASOURCE_URL"] == "jdbc:postgresql://postgres:5432/apicurio"
    assert "postgres" in registry["depends_on"]
    # its role and database are made by the postgres service's init, as the stack's bootstrap does
    init = {c["source"]: c["target"] for c in compose["services"]["postgres"]["configs"]}
    assert init["registry-db"].startswith("/docker-entrypoint-initdb.d/")
    content = compose["configs"]["registry-db"]["content"]
    assert f"CREATE ROLE {env['REGISTRY_DATASOURCE_USERNAME']} LOGIN" in content
    assert "CREATE DATABASE apicurio OWNER apicurio" in content
    assert env["REGISTRY_DATASOURCE_PASSWORD"] in content


def test_stream_service_serves_metrics_on_the_documented_port() -> None:
    stream = _compose()["services"]["stream"]
    args = stream["entrypoint"]
    port = args[args.index("--metrics-port") + 1]
    assert args[args.index("--metrics-addr") + 1] == "0.0.0.0"  # reachable from other containers
    assert stream["expose"] == [port]
    monitoring = (REPO / "docs" / "monitoring.md").read_text()
    readme = (REPO / "README.md").read_text()
    assert f"--metrics-port {port}" in monitoring
    assert f"stream --metrics-port {port}" in readme
    assert not set(re.findall(r"--metrics-port (\d+)", readme + monitoring)) - {port}


def test_stream_service_logs_in_with_the_dags_credentials() -> None:
    services = _compose()["services"]
    stream = services["stream"]["environment"]
    dags = services["airflow-worker"]["environment"]
    mysql_conn = re.match(r"mysql://([^:]+):([^@]+)@", dags["AIRFLOW_CONN_MYSQL_SOURCE"])
    pg_conn = re.match(r"postgres://([^:]+):([^@]+)@", dags["AIRFLOW_CONN_POSTGRES_TARGET"])
    assert mysql_conn
    assert pg_conn
    assert (stream["MPS_MYSQL_USER"], stream["MPS_MYSQL_PASSWORD"]) == mysql_conn.groups()
    assert (stream["MPS_PG_USER"], stream["MPS_PG_PASSWORD"]) == pg_conn.groups()
    assert "${SYNC_PASSWORD" in stream["MPS_PG_PASSWORD"]


def test_every_airflow_container_writes_reports_to_one_volume() -> None:
    compose = _compose()
    for name, service in compose["services"].items():
        if not name.startswith("airflow-") or name == "airflow-db":
            continue
        reports = service["environment"]["MPS_REPORTS_DIR"]
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        assert mounts.get(reports) == "sync-reports", name
    assert "sync-reports" in compose["volumes"]
