"""Endpoints from Airflow connection objects (no metadata database needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mysql_pg_sync.airflow.endpoints import connect_url, database_endpoint, kafka_bootstrap
from mysql_pg_sync.errors import ConfigError


def conn(**fields: object) -> SimpleNamespace:
    base = {"host": None, "port": None, "login": None, "password": None, "schema": None}
    return SimpleNamespace(**{**base, "extra_dejson": {}, **fields})


def test_database_endpoint_uses_schema_as_the_database() -> None:
    endpoint = database_endpoint(
        conn(host="db", port=3307, login="sync", password="pw", schema="legacy"), "mysql_source"
    )
    assert endpoint.redacted() == "sync@db:3307/legacy"
    assert endpoint.password == "pw"


def test_missing_fields_name_the_connection() -> None:
    with pytest.raises(ConfigError, match="postgres_target lacks port, schema"):
        database_endpoint(conn(host="db", login="sync"), "postgres_target")


def test_connect_url_and_kafka_bootstrap() -> None:
    assert connect_url(conn(host="127.0.0.1", port=8083, schema="http")) == "http://127.0.0.1:8083"
    assert connect_url(conn(host="https://connect.example/")) == "https://connect.example"
    assert kafka_bootstrap(conn(extra_dejson={"bootstrap.servers": "k:9092"})) == "k:9092"
    with pytest.raises(ConfigError, match=r"bootstrap\.servers"):
        kafka_bootstrap(conn())
