"""A reproducible synthetic dataset in MariaDB for the backfill benchmark.

Rows come from MariaDB's SEQUENCE engine with deterministic expressions of the row number, so
the same size gives the same bytes on every run without shipping files. Three tables with the
types of the mapping matrix (integers, unsigned, decimal, datetime(6), timestamp, tinyint(1),
text with tabs/newlines/backslashes/emoji, '' and NULL, double, date, json, enum, set,
varbinary) share ``total_rows`` as 60% / 20% / 20%.
"""

from __future__ import annotations

from typing import Any

import yaml

from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.settings import DatabaseEndpoint

BENCH_DB = "mps_bench"
SHARES = {"orders": 0.6, "customers": 0.2, "events": 0.2}

TABLES: dict[str, tuple[str, str]] = {
    "orders": (
        """CREATE TABLE orders (
  id bigint NOT NULL PRIMARY KEY, customer_id int NOT NULL, sku varchar(64) NOT NULL,
  amount decimal(12,2) NOT NULL, created_at datetime(6) NOT NULL, paid tinyint(1) NOT NULL,
  note text NULL, weight double NULL, ship_date date NULL, coupon varchar(32) NULL
) ENGINE=InnoDB""",
        """SELECT seq, seq % 100003,
  CONCAT('SKU-', LPAD(seq % 99991, 6, '0'), '-', HEX(seq % 4096)),
  (seq % 1000003) / 100, TIMESTAMP('2019-01-01') + INTERVAL (seq * 17) SECOND
    + INTERVAL (seq % 1000000) MICROSECOND,
  seq % 2,
  CASE seq % 10 WHEN 0 THEN NULL WHEN 1 THEN ''
    WHEN 2 THEN CONCAT('tab', CHAR(9), 'nl', CHAR(10), 'bs\\\\', seq)
    WHEN 3 THEN CONCAT('emoji 😀 ', seq) ELSE CONCAT(REPEAT('lorem ipsum ', 6), MD5(seq)) END,
  IF(seq % 7 = 0, NULL, seq / 3.0), DATE('2020-01-01') + INTERVAL (seq % 2000) DAY,
  IF(seq % 3 = 0, NULL, CONCAT('C', seq % 977))
FROM seq_1_to_{n}""",
    ),
    "customers": (
        """CREATE TABLE customers (
  id int unsigned NOT NULL PRIMARY KEY, name varchar(100) NOT NULL, email varchar(120) NULL,
  status enum('new','active','blocked') NOT NULL, tags set('vip','b2b','test') NOT NULL,
  signup timestamp(6) NULL, balance decimal(14,4) NULL, score float NULL
) ENGINE=InnoDB""",
        """SELECT seq * 3, CONCAT('Customer ', seq, IF(seq % 5 = 0, ' Ünïcödé', '')),
  IF(seq % 4 = 0, NULL, CONCAT('c', seq, '@example.org')),
  ELT(1 + seq % 3, 'new', 'active', 'blocked'), ELT(1 + seq % 4, '', 'vip', 'vip,b2b', 'test'),
  TIMESTAMP('2018-01-01') + INTERVAL (seq * 29) SECOND, (seq % 100000) / 7, (seq % 1000) / 8
FROM seq_1_to_{n}""",
    ),
    "events": (
        """CREATE TABLE events (
  id bigint unsigned NOT NULL PRIMARY KEY, kind varchar(20) NOT NULL, payload json NULL,
  counter bigint unsigned NOT NULL, digest varbinary(16) NOT NULL, happened datetime NOT NULL
) ENGINE=InnoDB""",
        """SELECT seq * 7 + (seq % 5) * 1000000000, ELT(1 + seq % 4, 'click', 'view', 'buy', 'ret'),
  IF(seq % 9 = 0, NULL, JSON_OBJECT('n', seq, 'tag', CONCAT('t', seq % 50), 'ok', seq % 2 = 0)),
  18446744073709551615 - seq, UNHEX(MD5(seq)), TIMESTAMP('2021-01-01') + INTERVAL seq SECOND
FROM seq_1_to_{n}""",
    ),
}

COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "orders": [
        ("id", "bigint(20)", False),
        ("customer_id", "int(11)", False),
        ("sku", "varchar(64)", False),
        ("amount", "decimal(12,2)", False),
        ("created_at", "datetime(6)", False),
        ("paid", "tinyint(1)", False),
        ("note", "text", True),
        ("weight", "double", True),
        ("ship_date", "date", True),
        ("coupon", "varchar(32)", True),
    ],
    "customers": [
        ("id", "int(10) unsigned", False),
        ("name", "varchar(100)", False),
        ("email", "varchar(120)", True),
        ("status", "enum('new','active','blocked')", False),
        ("tags", "set('vip','b2b','test')", False),
        ("signup", "timestamp(6)", True),
        ("balance", "decimal(14,4)", True),
        ("score", "float", True),
    ],
    "events": [
        ("id", "bigint(20) unsigned", False),
        ("kind", "varchar(20)", False),
        ("payload", "json", True),
        ("counter", "bigint(20) unsigned", False),
        ("digest", "varbinary(16)", False),
        ("happened", "datetime", False),
    ],
}


def rows_per_table(total_rows: int) -> dict[str, int]:
    return {t: int(total_rows * share) for t, share in SHARES.items()}


def generate(admin: DatabaseEndpoint, total_rows: int) -> dict[str, int]:
    """(Re)create ``mps_bench`` with ``total_rows`` rows; skipped when it already has them."""
    counts = rows_per_table(total_rows)
    conn = mysql_connect(admin, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {BENCH_DB} CHARACTER SET utf8mb4")
        cur.execute(f"USE {BENCH_DB}")
        for table, n in counts.items():
            if _count(cur, table) == n:
                continue
            ddl, select = TABLES[table]
            cur.execute(f"DROP TABLE IF EXISTS {table}")
            cur.execute(ddl)
            cur.execute(f"INSERT INTO {table} " + select.replace("{n}", str(n)))
        for host in ("127.0.0.1", "localhost"):
            cur.execute(f"GRANT SELECT ON {BENCH_DB}.* TO 'sync'@'{host}'")
    finally:
        conn.close()
    return counts


def _count(cur: Any, table: str) -> int | None:
    try:
        cur.execute(f"SELECT COUNT(*) FROM {table}")
    except Exception:
        return None
    return int(cur.fetchone()[0])


def mapping_entries(pg_schema: str = "bench") -> list[dict[str, Any]]:
    return [
        {
            "source": f"{BENCH_DB}.{table}",
            "target": f"{pg_schema}.{table}",
            "key": ["id"],
            "direction": "mysql_to_pg",
            "columns": [{"name": n, "column_type": t, "nullable": null} for n, t, null in cols],
        }
        for table, cols in COLUMNS.items()
    ]


def write_mappings(path: str, pg_schema: str = "bench") -> None:
    with open(path, "w", encoding="utf-8") as out:
        yaml.safe_dump({"tables": mapping_entries(pg_schema)}, out, sort_keys=False)
