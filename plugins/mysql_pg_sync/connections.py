"""Open driver connections to the two databases from :class:`DatabaseEndpoint` values.

Sessions are normalised here once (UTC, utf8mb4) so every caller sees values the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import MySQLdb
import psycopg

from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def mysql_connect(
    endpoint: DatabaseEndpoint, *, autocommit: bool = False, use_unicode: bool = True, **kwargs: Any
) -> Any:
    """A mysqlclient connection in utf8mb4 with the session time zone at UTC (``use_unicode``
    False: text comes as bytes, for output that need not be valid UTF-8, such as the binlog's)."""
    return MySQLdb.connect(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        database=endpoint.database,
        charset="utf8mb4",
        use_unicode=use_unicode,
        autocommit=autocommit,
        connect_timeout=10,
        init_command="SET time_zone = '+00:00'",
        **kwargs,
    )


def side_connector(side: str, endpoints: Endpoints) -> Callable[[], Any]:
    """A function that opens a connection to ``side``'s database ("mysql" or "postgres"), so
    callers that serve either side never branch on the engine."""
    if side == "mysql":
        return lambda: mysql_connect(endpoints.mysql)
    return lambda: pg_connect(endpoints.postgres)


# ISO dates: reconcile's canonical text of a date is its text cast; floats in their shortest
# exact digits whatever the database or role sets (0 prints 15 digits); UTC for every
# comparison of a MySQL DATETIME with a timestamptz (data quality's freshness too)
PG_SESSION_OPTIONS = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3"


def pg_conninfo(endpoint: DatabaseEndpoint) -> str:
    return psycopg.conninfo.make_conninfo(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        password=endpoint.password,
        dbname=endpoint.database,
        connect_timeout=10,
        options=PG_SESSION_OPTIONS,
        application_name="mysql_pg_sync",
    )


def pg_connect(endpoint: DatabaseEndpoint, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A psycopg 3 connection with the session time zone at UTC, ISO dates and exact floats."""
    return psycopg.connect(pg_conninfo(endpoint), autocommit=autocommit)


class DatabaseUnreachable(SyncError):
    """A database refused or lost the connection; the message names the side, host, port and
    the settings to check."""


# client errors that mean "no (usable) connection", not "this query failed": can't connect,
# unknown host, gone away, lost connection, access denied (to the server or the database),
# unknown database, too many connections, host blocked or not allowed, SSL failed
_MYSQL_CONNECTION_ERRORS = {1040, 1044, 1045, 1049, 1129, 1130, 2002, 2003, 2005, 2006, 2013}
_MYSQL_CONNECTION_ERRORS |= {2026, 2055}
_ENV = {
    "MySQL": ("MPS_MYSQL_HOST", "MPS_MYSQL_PORT", "MPS_MYSQL_USER", "MPS_MYSQL_PASSWORD"),
    "PostgreSQL": ("MPS_PG_HOST", "MPS_PG_PORT", "MPS_PG_USER", "MPS_PG_PASSWORD"),
}
_DATABASE_ENV = {"MySQL": "MPS_MYSQL_DATABASE", "PostgreSQL": "MPS_PG_DATABASE"}


def _unreachable_side(exc: BaseException) -> tuple[str, str] | None:
    """("MySQL" or "PostgreSQL", the driver's reason) if ``exc`` is a connection failure."""
    if isinstance(exc, MySQLdb.OperationalError):
        code = exc.args[0] if exc.args else None
        if code in _MYSQL_CONNECTION_ERRORS:
            return "MySQL", f"({code}) {exc.args[1] if len(exc.args) > 1 else ''}".strip()
        return None
    if isinstance(exc, psycopg.OperationalError):
        # a failed connect or a dropped session has no SQLSTATE; a query the server refused
        # (a cancel, a lock timeout) has one and is not the connection's fault
        state = exc.sqlstate
        if state is None or state.startswith(("08", "28", "3D", "57P")):
            reason = re.sub(r"\s+", " ", str(exc)).strip()
            return "PostgreSQL", reason.removeprefix("connection failed: ")
    return None


def connection_failure(exc: BaseException, endpoints: Endpoints) -> DatabaseUnreachable | None:
    """``exc`` (or an exception it was raised from) as a :class:`DatabaseUnreachable` naming
    the database, or None if it is not a connection failure."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DatabaseUnreachable):
            return seen
        found = _unreachable_side(seen)
        if found is not None:
            side, reason = found
            endpoint: DatabaseEndpoint = endpoints.mysql if side == "MySQL" else endpoints.postgres
            return DatabaseUnreachable(
                f"cannot connect to {side} at {endpoint.host}:{endpoint.port} as "
                f"{endpoint.user!r}, database {endpoint.database!r}: {reason}; check that the "
                f"server runs and the settings {', '.join(_ENV[side])} and {_DATABASE_ENV[side]}"
            )
        # not __context__: an error raised while handling a lost connection is its own
        seen = seen.__cause__
    return None
