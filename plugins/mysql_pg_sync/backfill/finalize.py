"""After a table's last chunk: deferred indexes/FKs, ANALYZE, sequences past the copied max,
and a row count on both sides."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.mapping.models import TableMapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalizeResult:
    source_rows: int
    target_rows: int
    sequences: dict[str, int]
    deferred: str

    @property
    def counts_match(self) -> bool:
        return self.source_rows == self.target_rows


def create_deferred(conn: psycopg.Connection[Any], mapping: TableMapping) -> str:
    """Secondary indexes and foreign keys, through the DDL module when it is installed."""
    try:
        ddl = importlib.import_module("mysql_pg_sync.ddl")
    except ModuleNotFoundError:
        return "skipped: mysql_pg_sync.ddl is not installed (no secondary indexes/FKs created)"
    create = getattr(ddl, "create_deferred", None)
    if create is None:
        return "skipped: mysql_pg_sync.ddl has no create_deferred(conn, mapping)"
    create(conn, mapping)
    return "created by mysql_pg_sync.ddl.create_deferred"


def advance_sequences(conn: psycopg.Connection[Any], mapping: TableMapping) -> dict[str, int]:
    """setval() every sequence owned by a target column to the column's max (identity/serial)."""
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    moved: dict[str, int] = {}
    for col in mapping.synced_columns():
        row = conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table, col.pg_name)).fetchone()
        if not row or row[0] is None:
            continue
        top = conn.execute(f"SELECT max({pg.quote_ident(col.pg_name)}) FROM {table}").fetchone()
        if top and top[0] is not None:
            conn.execute("SELECT setval(%s, %s, true)", (row[0], int(top[0])))
            moved[row[0]] = int(top[0])
    return moved


def mysql_row_count(mysql_conn: Any, mapping: TableMapping) -> int:
    cursor = mysql_conn.cursor()
    cursor.execute(f"SELECT COUNT(*) FROM {my.qualified(mapping.source.db, mapping.source.table)}")
    return int(cursor.fetchone()[0])


def finalize_table(
    pg_conn: psycopg.Connection[Any], mysql_conn: Any, mapping: TableMapping
) -> FinalizeResult:
    deferred = create_deferred(pg_conn, mapping)
    log.info("%s: deferred indexes/FKs: %s", mapping.name, deferred)
    pg_conn.execute(f"ANALYZE {pg.qualified(mapping.target.schema, mapping.target.table)}")
    sequences = advance_sequences(pg_conn, mapping)
    target = pg_conn.execute(
        f"SELECT count(*) FROM {pg.qualified(mapping.target.schema, mapping.target.table)}"
    ).fetchone()
    return FinalizeResult(
        mysql_row_count(mysql_conn, mapping), int(target[0]) if target else 0, sequences, deferred
    )
