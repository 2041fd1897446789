"""Open driver connections to the two databases from :class:`DatabaseEndpoint` values.

Sessions are normalised here once (UTC, utf8mb4) so every caller sees values the same way.
"""

from __future__ import annotations

from typing import Any

import MySQLdb
import psycopg

from mysql_pg_sync.settings import DatabaseEndpoint


def mysql_connect(endpoint: DatabaseEndpoint, *, autocommit: bool = False, **kwargs: Any) -> Any:
    """A mysqlclient connection in utf8mb4 with the session time zone at UTC."""
    return MySQLdb.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        database=endpoint.database,
        charset="utf8mb4",
        use_unicode=True,
        autocommit=autocommit,
        connect_timeout=10,
        init_command="SET time_zone = '+00:00'",
        **kwargs,
    )


def pg_conninfo(endpoint: DatabaseEndpoint) -> str:
    return psycopg.conninfo.make_conninfo(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        dbname=endpoint.database,
        connect_timeout=10,
        # ISO dates: reconcile's canonical text of a date is its text cast
        options="-c TimeZone=UTC -c DateStyle=ISO,YMD",
        application_name="mysql_pg_sync",
    )


def pg_connect(endpoint: DatabaseEndpoint, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A psycopg 3 connection with the session time zone at UTC and ISO dates."""
    return psycopg.connect(pg_conninfo(endpoint), autocommit=autocommit)
