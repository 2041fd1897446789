"""Time `mappings generate` on a wide schema: 250 tables by default (not a test; prints figures).

    bash stack/stack exec -- python -m bench.mappings_generate [--tables 250] [--runs 3]

Creates a throw-away MySQL database mps_bench_wide, generates into a temporary folder (first
run: every file new; later runs: the merge path with nothing to write), and drops the database.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.introspect import read_tables
from mysql_pg_sync.settings import admin_endpoints, endpoints_from_env

DB = "mps_bench_wide"


def create_schema(tables: int) -> None:
    endpoints = endpoints_from_env()
    admin = replace(admin_endpoints()[0], database="mysql")
    conn = mysql_connect(admin, autocommit=True)
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {DB}")
    cur.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4")
    cur.execute(f"GRANT SELECT ON {DB}.* TO '{endpoints.mysql.user}'@'127.0.0.1'")
    for i in range(tables):
        cur.execute(
            f"CREATE TABLE {DB}.t{i:04d} (id bigint unsigned AUTO_INCREMENT PRIMARY KEY,"
            " a int NOT NULL, b varchar(64), c decimal(12,2), d datetime(6), e enum('x','y'),"
            " f json, g tinyint(1) NOT NULL DEFAULT 0, h text, i double, j date,"
            " k timestamp(6) NULL,"
            " UNIQUE KEY uq_a (a), KEY ix_d (d))"
        )
    conn.close()


def drop_schema() -> None:
    admin = replace(admin_endpoints()[0], database="mysql")
    conn = mysql_connect(admin, autocommit=True)
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {DB}")
    conn.close()


def timed(fn: object, *args: object) -> float:
    started = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - started


def run(tables: int, runs: int) -> None:
    create_schema(tables)
    try:
        endpoint = replace(endpoints_from_env().mysql, database=DB)
        introspect = [timed(read_tables, endpoint, [DB]) for _ in range(runs)]
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "mappings"
            args = ["mappings", "generate", "--database", DB, "--out", str(out)]
            first = timed(main, args)
            again = [timed(main, args) for _ in range(runs)]
        print(f"tables: {tables}")
        print(f"information_schema read (5 queries): median {statistics.median(introspect):.3f} s")
        print(f"generate, first run (all files new): {first:.2f} s")
        print(
            f"generate, re-run (merge, nothing to write): median {statistics.median(again):.2f} s"
        )
    finally:
        drop_schema()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--tables", type=int, default=250)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    run(options.tables, options.runs)
