"""Where the two databases, Kafka and Kafka Connect live.

Values come from the environment (``MPS_*``), so the same code runs under Airflow (where
:mod:`mysql_pg_sync.airflow.endpoints` builds them from Airflow connections), the CLI and tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from mysql_pg_sync.errors import ConfigError


@dataclass(frozen=True)
class DatabaseEndpoint:
    """One database server and the database (MySQL) or database name (PostgreSQL) to use."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str

    def redacted(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class Endpoints:
    mysql: DatabaseEndpoint
    postgres: DatabaseEndpoint
    kafka_bootstrap: str
    connect_url: str
    schema_registry_url: str | None = None


def _get(env: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = env.get(name, default)
    if value is None or value == "":
        raise ConfigError(
            f"environment variable {name} is not set; export it or run through `make` "
            "(which loads stack/stack.env)"
        )
    return value


def _port(env: Mapping[str, str], name: str, default: str) -> int:
    raw = _get(env, name, default)
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a port number") from None


def endpoints_from_env(env: Mapping[str, str] | None = None) -> Endpoints:
    """Build endpoints from ``MPS_*`` variables; defaults match the embedded local stack."""
    env = os.environ if env is None else env
    return Endpoints(
        mysql=DatabaseEndpoint(
            host=_get(env, "MPS_MYSQL_HOST", "127.0.0.1"),
            port=_port(env, "MPS_MYSQL_PORT", "3307"),
            user=_get(env, "MPS_MYSQL_USER", "sync"),
            password=_get(env, "MPS_MYSQL_PASSWORD", "sync-local-only"),
            database=_get(env, "MPS_MYSQL_DATABASE", "legacy"),
        ),
        postgres=DatabaseEndpoint(
            host=_get(env, "MPS_PG_HOST", "127.0.0.1"),
            port=_port(env, "MPS_PG_PORT", "5433"),
            user=_get(env, "MPS_PG_USER", "sync"),
            password=_get(env, "MPS_PG_PASSWORD", "sync-local-only"),
            database=_get(env, "MPS_PG_DATABASE", "app"),
        ),
        kafka_bootstrap=_get(env, "MPS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        connect_url=_get(env, "MPS_CONNECT_URL", "http://127.0.0.1:8083"),
        schema_registry_url=env.get("MPS_SCHEMA_REGISTRY_URL") or None,
    )


def admin_endpoints(
    env: Mapping[str, str] | None = None,
) -> tuple[DatabaseEndpoint, DatabaseEndpoint]:
    """(MySQL, PostgreSQL) endpoints as the administrator: ``MPS_*_ADMIN_USER/PASSWORD`` on the
    same hosts and databases. Only setup work needs them (the demo's schema, benchmarks, tests);
    the sync itself runs as the sync user."""
    env = os.environ if env is None else env
    base = endpoints_from_env(env)
    mysql = replace(
        base.mysql,
        user=_get(env, "MPS_MYSQL_ADMIN_USER"),
        password=_get(env, "MPS_MYSQL_ADMIN_PASSWORD"),
    )
    postgres = replace(
        base.postgres,
        user=_get(env, "MPS_PG_ADMIN_USER"),
        password=_get(env, "MPS_PG_ADMIN_PASSWORD"),
    )
    return mysql, postgres


REPO = Path(__file__).resolve().parents[2]


def mappings_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MPS_MAPPINGS_DIR``, default ``<repo>/include/mappings``."""
    env = os.environ if env is None else env
    return Path(env.get("MPS_MAPPINGS_DIR") or REPO / "include" / "mappings")


def reports_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MPS_REPORTS_DIR``, default ``<repo>/.stack/reports``: run reports of every job."""
    env = os.environ if env is None else env
    return Path(env.get("MPS_REPORTS_DIR") or REPO / ".stack" / "reports")
