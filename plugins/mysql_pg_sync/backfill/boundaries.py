"""Walk a table's key index on MySQL for real chunk boundaries.

Each step asks MySQL for the key ``chunk_rows`` rows past the previous boundary
(``WHERE key >= prev ORDER BY key LIMIT 1 OFFSET n``), so sparse or skewed keys still give chunks
of even row counts. The walk reads the key index once in total; boundaries are in MySQL's own
order and collation, the only order chunk predicates are ever evaluated in. An ENUM or SET key
column is read as its member number: MySQL sorts it by that number, but would compare it with
its member text in text order, and the walk would then only find boundaries among the
alphabetically last member's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from mysql_pg_sync.backfill.keys import KeyValue, MemberNumber
from mysql_pg_sync.backfill.plan import mysql_range_predicate
from mysql_pg_sync.dialects import mysql as my


def walk_boundaries(
    mysql_conn: Any, db: str, table: str, key_columns: Sequence[str], chunk_rows: int
) -> list[KeyValue]:
    """The first key of every chunk after the first, ascending in MySQL's order."""
    numbered = member_number_columns(mysql_conn, db, table, key_columns)
    types = [numbered.get(c.lower()) for c in key_columns]
    order = ", ".join(my.quote_ident(c) for c in key_columns)
    values = ", ".join(
        my.member_number_sql(my.quote_ident(c)) if t else my.quote_ident(c)
        for c, t in zip(key_columns, types, strict=True)
    )
    source = my.qualified(db, table)
    boundaries: list[KeyValue] = []
    cursor = mysql_conn.cursor()
    previous: KeyValue | None = None
    while True:
        where = mysql_range_predicate(key_columns, previous, None, my.quote_ident)
        cursor.execute(
            f"SELECT {values} FROM {source} WHERE {where} ORDER BY {order} "
            f"LIMIT 1 OFFSET {int(chunk_rows)}"
        )
        row = cursor.fetchone()
        if row is None:
            return boundaries
        previous = tuple(
            MemberNumber(t, int(v)) if t else v for v, t in zip(row, types, strict=True)
        )
        boundaries.append(previous)


def member_number_columns(
    mysql_conn: Any, db: str, table: str, key_columns: Sequence[str]
) -> dict[str, Literal["enum", "set"]]:
    """The ENUM and SET columns among the key columns (lower-cased name: its type)."""
    cursor = mysql_conn.cursor()
    cursor.execute(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (db, table),
    )
    wanted = {c.lower() for c in key_columns}
    found: dict[str, Literal["enum", "set"]] = {}
    for name, data_type in cursor.fetchall():
        kind = str(data_type).lower()
        if str(name).lower() in wanted and kind in ("enum", "set"):
            found[str(name).lower()] = "enum" if kind == "enum" else "set"
    return found


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
