"""Shared fixtures. Integration tests talk to the real local stack (`make stack-up`)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.settings import (
    DatabaseEndpoint,
    Endpoints,
    admin_endpoints,
    endpoints_from_env,
)

REPO = Path(__file__).resolve().parents[1]
ORIGIN_FUNCTIONS = (
    "pg_replication_origin_session_setup(text)",
    "pg_replication_origin_session_reset()",
    "pg_replication_origin_session_is_setup()",
    "pg_replication_origin_oid(text)",
    "pg_replication_origin_create(text)",
)


def _load_stack_env() -> None:
    for line in (REPO / "stack" / "stack.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            os.environ.setdefault(name, value)


_load_stack_env()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by their folder: unit/, integration/ or dags/ (dags also count as integration)."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts[0] == "unit":
            item.add_marker(pytest.mark.unit)
        elif parts[0] == "integration":
            item.add_marker(pytest.mark.integration)
        elif parts[0] == "dags":
            item.add_marker(pytest.mark.dags)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def endpoints() -> Endpoints:
    return endpoints_from_env()


@pytest.fixture(scope="session")
def mysql_admin(endpoints: Endpoints) -> DatabaseEndpoint:
    return admin_endpoints()[0]


@pytest.fixture(scope="session")
def pg_admin(endpoints: Endpoints) -> DatabaseEndpoint:
    return admin_endpoints()[1]


def unique_name(prefix: str = "mps_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def mysql_db(mysql_admin: DatabaseEndpoint, endpoints: Endpoints) -> Iterator[DatabaseEndpoint]:
    """A fresh MySQL database named mps_test_*; yields the *sync* user's endpoint to it."""
    name = unique_name()
    admin = replace(mysql_admin, database="mysql")
    conn = mysql_connect(admin, autocommit=True)
    try:
        conn.cursor().execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        # As stack/conf/mariadb-bootstrap.sql does for the synced database (the sync user has
        # no CREATE there): the stream applier's exactly-once fence.
        conn.cursor().execute(mysql_dialect.applied_offsets_ddl(name))
    finally:
        conn.close()
    yield replace(endpoints.mysql, database=name)
    # a new connection: the chaos runs restart MariaDB while the test holds the database
    conn = mysql_connect(admin, autocommit=True)
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        conn.close()


@pytest.fixture
def pg_db(pg_admin: DatabaseEndpoint, endpoints: Endpoints) -> Iterator[DatabaseEndpoint]:
    """A fresh PostgreSQL database owned by the sync user; yields the sync user's endpoint."""
    name = unique_name()
    admin = replace(pg_admin, database="postgres")
    with pg_connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{endpoints.postgres.user}"')
    # As stack/conf/postgres-app-bootstrap.sql does for the target database: function grants
    # are per database, and the appliers tag their sessions with replication origins.
    with pg_connect(replace(pg_admin, database=name), autocommit=True) as db:
        for fn in ORIGIN_FUNCTIONS:
            db.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{endpoints.postgres.user}"')
    yield replace(endpoints.postgres, database=name)
    # a new connection: the chaos runs restart PostgreSQL while the test holds the database
    with pg_connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def airflow_connection_env(endpoints: Endpoints) -> dict[str, str]:
    """AIRFLOW_CONN_* variables pointing the DAGs' connections at these endpoints.

    Airflow reads connections from the environment before its metadata database, so a DAG test
    can aim a real DAG run at its own fresh databases.
    """
    import json

    def database(conn_type: str, ep: DatabaseEndpoint) -> str:
        return json.dumps(
            {
                "conn_type": conn_type,
                "host": ep.host,
                "port": ep.port,
                "login": ep.user,
                "password": ep.password,
                "schema": ep.database,
            }
        )

    host, _, port = endpoints.connect_url.rpartition("://")[2].partition(":")
    return {
        "AIRFLOW_CONN_MYSQL_SOURCE": database("mysql", endpoints.mysql),
        "AIRFLOW_CONN_POSTGRES_TARGET": database("postgres", endpoints.postgres),
        "AIRFLOW_CONN_KAFKA_DEFAULT": json.dumps(
            {"conn_type": "kafka", "extra": {"bootstrap.servers": endpoints.kafka_bootstrap}}
        ),
        "AIRFLOW_CONN_KAFKA_CONNECT": json.dumps(
            {"conn_type": "http", "host": host, "port": int(port or 80), "schema": "http"}
        ),
    }


@pytest.fixture
def use_airflow_connections(monkeypatch: pytest.MonkeyPatch, endpoints: Endpoints):  # type: ignore[no-untyped-def]
    """Call with (mysql_endpoint, pg_endpoint) to aim the DAGs' Airflow connections at them."""

    def aim(mysql: DatabaseEndpoint, postgres: DatabaseEndpoint) -> None:
        target = replace(endpoints, mysql=mysql, postgres=postgres)
        for name, value in airflow_connection_env(target).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MPS_MYSQL_DATABASE", mysql.database)
        monkeypatch.setenv("MPS_PG_DATABASE", postgres.database)

    return aim
