"""Shared fixtures. Integration tests talk to the real local stack (`make stack-up`)."""

from __future__ import annotations

import os
import queue
import threading
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


def _create_pg_database(pg_admin: DatabaseEndpoint, owner: str) -> str:
    """A new, empty database owned by ``owner``, set up as the stack's target database is."""
    name = unique_name()
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')
    # As stack/conf/postgres-app-bootstrap.sql does for the target database: function grants
    # are per database, and the appliers tag their sessions with replication origins.
    with pg_connect(replace(pg_admin, database=name), autocommit=True) as db:
        for fn in ORIGIN_FUNCTIONS:
            db.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{owner}"')
    return name


def _drop_pg_database(pg_admin: DatabaseEndpoint, name: str) -> None:
    # a new connection each time: the chaos runs restart PostgreSQL while a test holds one
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SparePgDatabases:
    """Fresh databases made one test ahead, in a background thread.

    CREATE DATABASE copies and fsyncs the ~8 MB template: about a quarter second, times the
    ~340 tests that ask for a database. Made while the previous test waits on Kafka, it costs
    a test nothing. Each database is still made for one test only and dropped after it; what
    is left at the end of the session is dropped then.
    """

    def __init__(self, pg_admin: DatabaseEndpoint, owner: str) -> None:
        self.pg_admin, self.owner = pg_admin, owner
        self._ready: queue.Queue[str] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="spare-pg-databases", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        while not self._stop.is_set():
            try:
                name = _create_pg_database(self.pg_admin, self.owner)
            except Exception:  # PostgreSQL restarting (chaos runs): take() makes its own
                self._stop.wait(1)
                continue
            while not self._stop.is_set():
                try:
                    self._ready.put(name, timeout=0.5)
                    break
                except queue.Full:
                    pass
            else:
                _drop_pg_database(self.pg_admin, name)

    def take(self) -> str:
        """A database no test has used; made here if none is ready within a few seconds."""
        try:
            return self._ready.get(timeout=5)
        except queue.Empty:
            return _create_pg_database(self.pg_admin, self.owner)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(60)
        while not self._ready.empty():
            _drop_pg_database(self.pg_admin, self._ready.get_nowait())


@pytest.fixture(scope="session")
def spare_pg_databases(
    pg_admin: DatabaseEndpoint, endpoints: Endpoints
) -> Iterator[SparePgDatabases]:
    spares = SparePgDatabases(pg_admin, endpoints.postgres.user)
    try:
        yield spares
    finally:
        spares.close()


@pytest.fixture
def pg_db(
    pg_admin: DatabaseEndpoint, endpoints: Endpoints, spare_pg_databases: SparePgDatabases
) -> Iterator[DatabaseEndpoint]:
    """A fresh PostgreSQL database owned by the sync user; yields the sync user's endpoint."""
    name = spare_pg_databases.take()
    yield replace(endpoints.postgres, database=name)
    _drop_pg_database(pg_admin, name)


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
