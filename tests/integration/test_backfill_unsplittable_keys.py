"""Keys the chunk planner cannot split safely are refused by name, before any copy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tests.integration.test_backfill import make_backfill, mapping_for, mysql_admin_exec, mysql_exec

from mysql_pg_sync.backfill.plan import PlanError
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_a_key_with_a_nullable_column_is_refused_not_copied_without_its_null_rows(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    # A hand-written mapping may name a unique key with a NULL-able column (MySQL allows many
    # NULLs there). A NULL never satisfies a chunk's range predicate, so rows (1, NULL) and
    # (2, NULL) were in no bounded chunk: the run finished "streaming" with 5 of 7 rows and a
    # count warning saying the stream replay would close the gap (it never does).
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (a int NOT NULL, b varchar(10) NULL, v int, UNIQUE KEY u (a, b))",
    )
    rows = [
        (1, None, 1),
        (1, "x", 2),
        (1, "y", 3),
        (2, None, 4),
        (2, "a", 5),
        (2, "b", 6),
        (3, "c", 7),
    ]
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        insert="INSERT INTO t VALUES (%s, %s, %s)",
        rows=rows,
    )
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.t (a int NOT NULL, b varchar(10), v int, UNIQUE (a, b))")
    mapping = mapping_for(
        mysql_db.database,
        "t",
        [("a", "int(11)", False), ("b", "varchar(10)", True), ("v", "int(11)", True)],
        ("a", "b"),
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    with pytest.raises(PlanError) as refused:
        bf.plan(RunOptions(chunk_rows=2))
    assert mapping.name in str(refused.value)
    assert "key column(s) b allow NULL" in str(refused.value)
    with pg_connect(pg_db) as conn:
        planned = conn.execute(
            "SELECT count(*) FROM mps_sync.backfill_chunks WHERE source_table = %s",
            (mapping.name,),
        ).fetchone()
    assert planned == (0,)


def test_a_key_whose_values_cannot_be_stored_names_the_table(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    # A DOUBLE primary key splits on MySQL, but its boundaries cannot be stored: the whole plan
    # (every table of the run) failed with "cannot store key value 1.0 of type float", naming
    # no table, and a dry run said nothing of it.
    mysql_admin_exec(
        mysql_admin, mysql_db.database, "CREATE TABLE f (k double NOT NULL PRIMARY KEY, v int)"
    )
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        insert="INSERT INTO f VALUES (%s, %s)",
        rows=[(i / 3, i) for i in range(10)],
    )
    mapping = mapping_for(
        mysql_db.database, "f", [("k", "double", False), ("v", "int(11)", True)], ("k",)
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    for dry_run in (True, False):
        with pytest.raises(PlanError, match=mapping.name.replace(".", r"\.")) as refused:
            bf.plan(RunOptions(chunk_rows=3, dry_run=dry_run))
        assert "k (double)" in str(refused.value)
