"""Fixtures shared by the integration tests."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
import requests
from tests.integration.airflow_api import start_airflow_ui
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    PipelineFactory,
    items_mapping,
    pipeline,
)

from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


@pytest.fixture
def make_pipeline(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> PipelineFactory:
    """``make_pipeline(mappings, mysql_ddl, pg_ddl, **options)``: tables of the test's own
    streamed by real connectors, on the test's databases (see :func:`pipeline`)."""
    return functools.partial(pipeline, endpoints, mysql_db, pg_db, mysql_admin, pg_admin)


@pytest.fixture
def make_items(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> Any:
    """``make_items(rule, column, pg_extra)``: the `items` table under a conflict rule of the
    test's choice, with extra PostgreSQL statements (``REPLICA IDENTITY FULL``, a CHECK)."""

    def make(
        rule: str = "mysql_wins", column: str | None = None, pg_extra: tuple[str, ...] = ()
    ) -> Any:
        return make_pipeline(
            [items_mapping(mysql_db.database, rule, column)], [ITEMS_MYSQL], [ITEMS_PG, *pg_extra]
        )

    return make


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


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """A local Slack-style webhook the notifier is pointed at; yields the posted bodies."""
    posted: list[dict[str, Any]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            posted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    # the Variable (read before the environment) as Airflow's env secrets backend serves it
    monkeypatch.setenv("AIRFLOW_VAR_MPS_ALERTS", json.dumps({"webhook_url": url}))
    try:
        yield posted
    finally:
        server.shutdown()
        server.server_close()
