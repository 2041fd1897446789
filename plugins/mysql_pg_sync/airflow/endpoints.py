"""Build :class:`~mysql_pg_sync.settings.Endpoints` from the Airflow connections.

The only place that reads Airflow connections: ``mysql_source``, ``postgres_target``,
``kafka_default`` and ``kafka_connect`` (see include/airflow/connections.yaml). Call it inside a
task, never at DAG parse time.
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook

from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

MYSQL_CONN_ID = "mysql_source"
POSTGRES_CONN_ID = "postgres_target"
KAFKA_CONN_ID = "kafka_default"
CONNECT_CONN_ID = "kafka_connect"


def database_endpoint(conn: Any, conn_id: str) -> DatabaseEndpoint:
    """A database endpoint from an Airflow connection (schema = the database name)."""
    missing = [f for f in ("host", "port", "login", "schema") if not getattr(conn, f, None)]
    if missing:
        raise ConfigError(
            f"Airflow connection {conn_id} lacks {', '.join(missing)}; set them in the UI or "
            "your secrets backend (see include/airflow/connections.yaml)"
        )
    return DatabaseEndpoint(
        host=str(conn.host),
        port=int(conn.port),
        user=str(conn.login),
        password=str(conn.password or ""),
        database=str(conn.schema),
    )


def kafka_bootstrap(conn: Any) -> str:
    servers = (conn.extra_dejson or {}).get("bootstrap.servers")
    if not servers:
        raise ConfigError(
            f"Airflow connection {KAFKA_CONN_ID} has no bootstrap.servers in its extra; add it"
        )
    return str(servers)


def connect_url(conn: Any) -> str:
    if not conn.host:
        raise ConfigError(f"Airflow connection {CONNECT_CONN_ID} has no host; set the Connect URL")
    host = str(conn.host)
    if "://" in host:
        return host.rstrip("/")
    scheme = conn.schema or "http"
    port = f":{conn.port}" if conn.port else ""
    return f"{scheme}://{host}{port}"


def _connection(conn_id: str) -> Any:
    try:
        return BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends: name the fix
        raise ConfigError(
            f"Airflow connection {conn_id} is not defined ({exc}); create it as in "
            "include/airflow/connections.yaml (`stack/stack up airflow` imports them locally)"
        ) from exc


def endpoints_from_airflow() -> Endpoints:
    """Endpoints from the four Airflow connections; the schema registry from the Kafka extra
    (``schema.registry.url``) or ``MPS_SCHEMA_REGISTRY_URL``."""
    kafka = _connection(KAFKA_CONN_ID)
    registry = (kafka.extra_dejson or {}).get("schema.registry.url") or os.environ.get(
        "MPS_SCHEMA_REGISTRY_URL"
    )
    return Endpoints(
        mysql=database_endpoint(_connection(MYSQL_CONN_ID), MYSQL_CONN_ID),
        postgres=database_endpoint(_connection(POSTGRES_CONN_ID), POSTGRES_CONN_ID),
        kafka_bootstrap=kafka_bootstrap(kafka),
        connect_url=connect_url(_connection(CONNECT_CONN_ID)),
        schema_registry_url=registry or None,
    )
