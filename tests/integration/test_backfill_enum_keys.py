"""A key that starts with an ENUM column is walked in one order and compared in another."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.integration.test_backfill import (
    make_backfill,
    mapping_for,
    mysql_admin_exec,
    mysql_exec,
    run_all,
)

from mysql_pg_sync.backfill.boundaries import walk_boundaries
from mysql_pg_sync.backfill.plan import chunks_from_boundaries, mysql_range_predicate
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects.mysql import quote_ident
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_an_enum_key_gives_chunks_of_even_size(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    # MySQL sorts an ENUM by its member index ('pending' < 'active' < 'closed') but compares it
    # with the chunk predicates' string literals as text ('active' < 'closed' < 'pending'). The
    # walk (ORDER BY the key, filtered by the predicate) only ever finds boundaries among the
    # 'pending' rows, so chunk 0 (key < first boundary, as text) takes every 'active' and
    # 'closed' row: 6,500 rows in a chunk planned as 500. Nothing is lost, but a large table
    # with such a key copies almost all of it in one transaction, with no parallelism, its
    # retry starts over, and the plan's estimates (progress, ETA) are wrong.
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (status enum('pending','active','closed') NOT NULL, id int NOT NULL, "
        "v int, PRIMARY KEY (status, id))",
    )
    rows = [(s, n, n) for s in ("pending", "active", "closed") for n in range(3000)]
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        insert="INSERT INTO t VALUES (%s, %s, %s)",
        rows=rows,
    )
    mapping = mapping_for(
        mysql_db.database,
        "t",
        [
            ("status", "enum('pending','active','closed')", False),
            ("id", "int(11)", False),
            ("v", "int(11)", True),
        ],
        ("status", "id"),
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions(chunk_rows=500, strict_counts=True))
    with pg_connect(pg_db) as conn:
        sizes = [
            int(r[0])
            for r in conn.execute(
                "SELECT rows FROM mps_sync.backfill_chunks WHERE source_table = %s ORDER BY seq",
                (mapping.name,),
            ).fetchall()
        ]
        copied = conn.execute("SELECT count(*) FROM public.t").fetchone()
    assert copied == (len(rows),)  # complete: the chunk ranges still cover every key
    assert max(sizes) <= 500, f"chunk sizes {sizes} for a target of 500 rows"


def _chunk_counts(
    endpoint: DatabaseEndpoint, table: str, key: list[str], chunk_rows: int
) -> tuple[list[int], int, list[str]]:
    """(rows per planned chunk, rows in the table, EXPLAIN access type per chunk query)."""
    conn = mysql_connect(endpoint, autocommit=True)
    try:
        boundaries = walk_boundaries(conn, endpoint.database, table, key, chunk_rows)
        chunks = chunks_from_boundaries(table, boundaries, strategy="keyset")
        cur = conn.cursor()
        sizes, access = [], []
        for chunk in chunks:
            where = mysql_range_predicate(key, chunk.lower, chunk.upper, quote_ident)
            cur.execute(f"SELECT COUNT(*) FROM {quote_ident(table)} WHERE {where}")
            sizes.append(int(cur.fetchone()[0]))
            cur.execute(f"EXPLAIN SELECT * FROM {quote_ident(table)} WHERE {where}")
            access.append(str(cur.fetchone()[3]))
        cur.execute(f"SELECT COUNT(*) FROM {quote_ident(table)}")
        return sizes, int(cur.fetchone()[0]), access
    finally:
        conn.close()


def test_enum_chunks_are_range_scans_and_keep_invalid_and_appended_members(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    # ~20k rows, as the optimizer sees a real table: every chunk query is an index range scan
    # (MySQL and MariaDB do none for <, > or BETWEEN on an ENUM, only for = and IN)
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE e (status enum('pending','active','closed') NOT NULL, id int NOT NULL, "
        "pad char(100) NOT NULL DEFAULT 'x', PRIMARY KEY (status, id))",
        "SET SESSION sql_mode = ''",  # the invalid value '' (member index 0) sorts first
        "INSERT INTO e (status, id) VALUES ('bogus', 1), ('bogus', 2)",
        "INSERT INTO e (status, id) SELECT ELT(1 + s.seq, 'pending', 'active', 'closed'), n.seq "
        "FROM seq_0_to_2 s CROSS JOIN seq_0_to_6999 n",
        "ANALYZE TABLE e",
    )
    admin = replace(mysql_admin, database=mysql_db.database)
    sizes, total, access = _chunk_counts(admin, "e", ["status", "id"], 2000)
    assert sum(sizes) == total == 21002
    assert max(sizes) <= 2002, sizes
    assert set(access) == {"range"}, access
    # a member appended after the plan (an instant ALTER) still falls in the open last chunk
    conn = mysql_connect(admin, autocommit=True)
    try:
        boundaries = walk_boundaries(conn, mysql_db.database, "e", ["status", "id"], 2000)
        mysql_admin_exec(
            mysql_admin,
            mysql_db.database,
            "ALTER TABLE e MODIFY status enum('pending','active','closed','archived') NOT NULL",
            "INSERT INTO e (status, id) VALUES ('archived', 1), ('archived', 2)",
        )
        chunks = chunks_from_boundaries("e", boundaries, strategy="keyset")
        cur = conn.cursor()
        counts = []
        for chunk in chunks:
            where = mysql_range_predicate(["status", "id"], chunk.lower, chunk.upper, quote_ident)
            cur.execute(f"SELECT COUNT(*) FROM e WHERE {where}")
            counts.append(int(cur.fetchone()[0]))
    finally:
        conn.close()
    assert sum(counts) == 21004
    assert counts[-1] == sizes[-1] + 2


def test_a_set_key_gives_chunks_of_even_size(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    # a SET sorts by its member bits ('x' < 'y' < 'x,y' < 'z'), compared with a string as text
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE s (tags set('x','y','z') NOT NULL, id int NOT NULL, PRIMARY KEY (tags, id))",
        "INSERT INTO s SELECT MAKE_SET(b.seq, 'x', 'y', 'z'), n.seq "
        "FROM seq_0_to_7 b CROSS JOIN seq_0_to_999 n",
    )
    sizes, total, _ = _chunk_counts(
        replace(mysql_admin, database=mysql_db.database), "s", ["tags", "id"], 500
    )
    assert sum(sizes) == total == 8000
    assert sizes == [500] * 16, sizes
