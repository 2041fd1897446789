"""After a table's last chunk: deferred indexes/FKs, ANALYZE, sequences past the copied max,
and a row count on both sides (row checksums follow in :mod:`.verify`)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from mysql_pg_sync import ddl
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalizeResult:
    source_rows: int
    target_rows: int
    sequences: list[str]
    deferred: list[str]

    @property
    def counts_match(self) -> bool:
        return self.source_rows == self.target_rows


def create_deferred(
    conn: psycopg.Connection[Any], mapping: TableMapping, mappings: MappingSet
) -> list[str]:
    """Secondary indexes and foreign keys (deferred: cheaper once the rows are in)."""
    statements = ddl.index_sql(mapping, unique=False) + ddl.foreign_key_sql(mapping, mappings)
    if statements:
        ddl.apply_ddl(conn, statements)
    return statements


def advance_sequences(conn: psycopg.Connection[Any], mapping: TableMapping) -> list[str]:
    """Auto-increment sequences past the copied maximum, so PostgreSQL inserts cannot collide."""
    statements = ddl.sync_identity_sql(mapping)
    if statements:
        ddl.apply_ddl(conn, statements)
    return statements


def mysql_row_count(mysql_conn: Any, mapping: TableMapping) -> int:
    cursor = mysql_conn.cursor()
    cursor.execute(f"SELECT COUNT(*) FROM {my.qualified(mapping.source.db, mapping.source.table)}")
    return int(cursor.fetchone()[0])


def finalize_table(
    pg_conn: psycopg.Connection[Any], mysql_conn: Any, mapping: TableMapping, mappings: MappingSet
) -> FinalizeResult:
    # MySQL counts its rows while PostgreSQL builds, analyzes and counts: the last table's
    # finalize is on the run's critical path
    with ThreadPoolExecutor(1) as mysql_side:
        source = mysql_side.submit(mysql_row_count, mysql_conn, mapping)
        deferred = create_deferred(pg_conn, mapping, mappings)
        log.info("%s: %d deferred index/FK statement(s) applied", mapping.name, len(deferred))
        pg_conn.execute(f"ANALYZE {pg.qualified(mapping.target.schema, mapping.target.table)}")
        sequences = advance_sequences(pg_conn, mapping)
        target = pg_conn.execute(
            f"SELECT count(*) FROM {pg.qualified(mapping.target.schema, mapping.target.table)}"
        ).fetchone()
        return FinalizeResult(source.result(), int(target[0]) if target else 0, sequences, deferred)
