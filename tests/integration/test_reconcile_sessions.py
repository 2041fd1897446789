"""The sessions reconcile scans with run the dialect's settings: on PostgreSQL no parallel
workers and no JIT inlining or optimisation (over ~1M rows these cost ~8 s of compiling per
process, see ADR 0008), and the settings hold for every query on the pooled connection."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable
from mysql_pg_sync.reconcile.run import open_source
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
