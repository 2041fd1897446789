"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from tests.integration.airflow_api import start_airflow_ui
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    items_mapping,
    pipeline,
)

from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


@pytest.fixture
def items(
    request: pytest.FixtureRequest,
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    """The `items` table streamed both ways by real connectors. A test module adds PostgreSQL
    statements after the table's DDL with a module-level ``ITEMS_PG_EXTRA`` list."""
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [items_mapping(mysql_db.database)],
        [ITEMS_MYSQL],
        [ITEMS_PG, *getattr(request.module, "ITEMS_PG_EXTRA", ())],
    ) as p:
        yield p


@pytest.fixture(scope="module")
def airflow_ui() -> str:
    """The running api-server (scheduler and all), started when it is not up yet, with the
    mysql_pg_sync plugin mounted."""
    url = start_airflow_ui()
    if requests.get(f"{url}/sync-status/", timeout=30).status_code == 404:
        pytest.fail(
            "the api-server runs without the mysql_pg_sync plugin (started before it "
            "existed?); restart it: stack/stack down airflow-ui && stack/stack up airflow-ui"
        )
    return url
