"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
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
