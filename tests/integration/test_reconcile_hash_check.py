"""What reconcile needs from each server's sessions. It refuses a server whose row hash is not
SHA-256 (a MySQL built without SSL returns NULL from SHA2()) instead of reporting every row as
different; its PostgreSQL sessions run without parallel workers and without JIT inlining or
optimisation (over ~1M rows these cost ~8 s of compiling per process, see ADR 0008)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql, postgres
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable
from mysql_pg_sync.reconcile.run import open_source
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


def test_postgres_checksum_sessions_run_without_parallel_workers_or_jit_optimisation(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint
) -> None:
    with ThreadPoolExecutor(2) as executor:
        source, close = open_source(TABLE, mysql_db, pg_db, executor, workers=2)
        try:
            for _ in range(2):  # a second query on the pooled connection sees them too
                with source.postgres.pool.connection() as conn:
                    settings = conn.execute(
                        "SELECT current_setting('max_parallel_workers_per_gather'), "
                        "current_setting('jit_inline_above_cost'), "
                        "current_setting('jit_optimize_above_cost')"
                    ).fetchone()
                    conn.commit()
                assert settings == ("0", "-1", "-1")
            with source.mysql.pool.connection() as conn:  # MySQL needs none; it still works
                cur = conn.cursor()
                cur.execute("SELECT 1")
                assert cur.fetchall() == ((1,),)
        finally:
            close()
