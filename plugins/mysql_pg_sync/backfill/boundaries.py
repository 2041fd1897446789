"""Walk a table's key index on MySQL for real chunk boundaries.

Each step asks MySQL for the key ``chunk_rows`` rows past the previous boundary
(``WHERE key >= prev ORDER BY key LIMIT 1 OFFSET n``), so sparse or skewed keys still give chunks
of even row counts. The walk reads the key index once in total; boundaries are in MySQL's own
order and collation, the only order chunk predicates are ever evaluated in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mysql_pg_sync.backfill.keys import KeyValue
from mysql_pg_sync.backfill.plan import mysql_range_predicate
from mysql_pg_sync.dialects import mysql as my


def walk_boundaries(
    mysql_conn: Any, db: str, table: str, key_columns: Sequence[str], chunk_rows: int
) -> list[KeyValue]:
    """The first key of every chunk after the first, ascending in MySQL's order."""
    order = ", ".join(my.quote_ident(c) for c in key_columns)
    source = my.qualified(db, table)
    boundaries: list[KeyValue] = []
    cursor = mysql_conn.cursor()
    previous: KeyValue | None = None
    while True:
        where = mysql_range_predicate(key_columns, previous, None, my.quote_ident)
        cursor.execute(
            f"SELECT {order} FROM {source} WHERE {where} ORDER BY {order} "
            f"LIMIT 1 OFFSET {int(chunk_rows)}"
        )
        row = cursor.fetchone()
        if row is None:
            return boundaries
        previous = tuple(row)
        boundaries.append(previous)


def tail_rows(
    mysql_conn: Any,
    db: str,
    table: str,
    key_columns: Sequence[str],
    after: KeyValue | None,
    cap: int,
) -> int:
    """Rows at or past ``after`` (the last boundary walked; None: the whole table), counted up
    to ``cap``: the size of the last chunk, which the walk only knows to be under a chunk."""
    where = mysql_range_predicate(key_columns, after, None, my.quote_ident)
    cursor = mysql_conn.cursor()
    cursor.execute(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {my.qualified(db, table)} WHERE {where} "
        f"LIMIT {int(cap)}) AS tail"
    )
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def nullable_key_columns(
    mysql_conn: Any, db: str, table: str, key_columns: Sequence[str]
) -> list[str]:
    """The key columns MySQL lets hold NULL, in key order. A chunk's range predicate is never
    true for a NULL (``b >= 'x'`` is NULL), so a row whose key has one would be in no bounded
    chunk: left out of the copy without a word."""
    cursor = mysql_conn.cursor()
    cursor.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s AND IS_NULLABLE = 'YES'",
        (db, table),
    )
    nullable = {str(r[0]).lower() for r in cursor.fetchall()}
    return [c for c in key_columns if c.lower() in nullable]


def average_row_bytes(mysql_conn: Any, db: str, table: str) -> int:
    cursor = mysql_conn.cursor()
    cursor.execute(
        "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (db, table),
    )
    row = cursor.fetchone()
    return int(row[0] or 0) if row else 0
