"""Reconcile refuses a server whose row hash is not SHA-256 (a MySQL built without SSL returns
NULL from SHA2()), instead of reporting every row as different."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql, postgres
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

TABLE = ReconcileTable(
    "legacy.t",
    "legacy",
    "t",
    "public",
    "t",
    (CompareColumn("id", "id", "int", "integer", 0, 0),),
    ("id",),
)


def test_both_servers_hash_with_sha256(mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint) -> None:
    for side, dialect, connect in (
        ("mysql", mysql, lambda: mysql_connect(mysql_db)),
        ("postgres", postgres, lambda: pg_connect(pg_db)),
    ):
        pool = ConnectionPool(connect, 1)
        try:
            TableSide(side, dialect, TABLE, pool)._check_row_hash()  # type: ignore[arg-type]
        finally:
            pool.close()


def test_a_server_without_sha2_is_refused_with_the_reason(mysql_db: DatabaseEndpoint) -> None:
    # MariaDB as a server without SSL would answer: SHA2() gives NULL
    no_sha2 = SimpleNamespace(**vars(mysql))
    no_sha2.row_hash_sql = lambda texts, prefixed: "NULL"
    pool = ConnectionPool(lambda: mysql_connect(mysql_db), 1)
    try:
        side = TableSide("mysql", no_sha2, TABLE, pool)  # type: ignore[arg-type]
        with pytest.raises(ReconcileError, match=r"hashes 'a' to None.*built with SSL support"):
            side._check_row_hash()
    finally:
        pool.close()
