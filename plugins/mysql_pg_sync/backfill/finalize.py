"""After a table's last chunk: deferred indexes/FKs, ANALYZE, sequences past the copied max,
and a row count on both sides (row checksums follow in :mod:`.verify`).

Foreign keys are added ``NOT VALID`` and then validated. The copy is not a snapshot across
tables (ADR 0002), so a child row copied after its parent's chunk can reference a parent row
that the parent's copy did not see. The stream's replay adds that parent later. Until then the
constraint stays ``NOT VALID``: PostgreSQL enforces it for the applications' new writes
(the stream's applier sessions skip FK checks, ADR 0006), and the operator validates it once
the stream has caught up (docs/backfill.md).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import psycopg

from mysql_pg_sync import ddl, pg_sequences
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
    # {constraint, error, validate, orphans} for each FK left NOT VALID
    unvalidated_foreign_keys: list[dict[str, str]] = field(default_factory=list)

    @property
    def counts_match(self) -> bool:
        return self.source_rows == self.target_rows


def deferred_sql(
    mapping: TableMapping, mappings: MappingSet
) -> tuple[list[str], list[ddl.ForeignKeyDdl]]:
    """Secondary indexes (named as ``ddl`` plans them over all mappings) and NOT VALID FKs."""
    indexes = ddl.index_sql(mapping, unique=False, names=ddl.index_names(mappings))
    return indexes, ddl.foreign_keys_ddl(mapping, mappings, not_valid=True)


def create_deferred(
    conn: psycopg.Connection[Any], mapping: TableMapping, mappings: MappingSet
) -> tuple[list[str], list[dict[str, str]]]:
    """Secondary indexes and foreign keys (deferred: cheaper once the rows are in); returns
    the statements applied and the FKs that could not be validated yet."""
    indexes, foreign_keys = deferred_sql(mapping, mappings)
    statements = indexes + [fk.add for fk in foreign_keys]
    if statements:
        ddl.apply_ddl(conn, statements)
    warn_skipped_indexes(conn, mapping, mappings)
    unvalidated = [u for fk in foreign_keys if (u := validate_foreign_key(conn, mapping, fk))]
    return statements, unvalidated


def validate_foreign_key(
    conn: psycopg.Connection[Any], mapping: TableMapping, fk: ddl.ForeignKeyDdl
) -> dict[str, str] | None:
    """Validate one FK; None when valid, else why it is left NOT VALID and how to finish it."""
    try:
        with conn.transaction():  # its own transaction: a failure undoes nothing else
            conn.execute(fk.validate.encode())
    except psycopg.errors.ForeignKeyViolation as exc:
        error = " ".join(filter(None, (exc.diag.message_primary, exc.diag.message_detail)))
        log.warning(
            "%s: foreign key %s on %s is left NOT VALID (enforced for new writes, not checked "
            "for the copied rows): %s. A child row was copied before its parent reached "
            "PostgreSQL; the stream's replay normally brings the parent. Once the stream has "
            "caught up, run: %s; if that still fails, the child rows without a parent are: %s",
            mapping.name,
            fk.name,
            mapping.target,
            error,
            fk.validate,
            fk.orphans,
        )
        return {
            "constraint": fk.name,
            "error": error,
            "validate": fk.validate,
            "orphans": fk.orphans,
        }
    return None


def unvalidated_foreign_keys(
    conn: psycopg.Connection[Any], mapping: TableMapping
) -> list[dict[str, str]]:
    """Every FK of the target table that is still NOT VALID, with the statement validating it."""
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    rows = conn.execute(
        "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated "
        "AND conrelid = to_regclass(%s) ORDER BY conname",
        (table,),
    ).fetchall()
    return [
        {
            "constraint": str(r[0]),
            "validate": f"ALTER TABLE {table} VALIDATE CONSTRAINT {pg.quote_ident(str(r[0]))}",
        }
        for r in rows
    ]


def warn_skipped_indexes(
    conn: psycopg.Connection[Any], mapping: TableMapping, mappings: MappingSet
) -> list[str]:
    """Warn about each secondary index that ``CREATE INDEX IF NOT EXISTS`` skipped because a
    relation no mapping knows (an application's own table, say) already has its name."""
    names = ddl.index_names(mappings)
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    present = {
        str(r[0])
        for r in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%s)",
            (table,),
        ).fetchall()
    }
    skipped = []
    for index in mapping.indexes:
        name = names[(mapping.target.schema, mapping.target.table, index.name)]
        if index.unique or name in present:
            continue
        skipped.append(name)
        log.warning(
            "%s: MySQL index %r was not created on %s: schema %s already has a relation "
            "named %s. Rename that relation, or create the index under another name "
            "(CREATE INDEX ... ON %s (%s))",
            mapping.name,
            index.name,
            mapping.target,
            mapping.target.schema,
            name,
            table,
            pg.column_list(mapping.column(c).pg_name for c in index.columns),
        )
    return skipped


def advance_sequences(conn: psycopg.Connection[Any], mapping: TableMapping) -> list[str]:
    """The table's sequences (serial, identity) past the copied maximum, so PostgreSQL inserts
    cannot collide: forward only, on the sequence's own step (an interleaving set up with
    ``INCREMENT BY 2`` keeps it), as the stream applier moves them (ADR 0013). Returns the
    sequences it looked at."""
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    owned = pg_sequences.owned_sequences(conn, table)
    if not owned.columns:
        return []
    maxima = conn.execute(
        f"SELECT {', '.join(f'max({pg.quote_ident(c)})' for c in owned.columns)} FROM {table}"
    ).fetchone()
    assert maxima is not None
    pg_sequences.advance(conn, owned, dict(zip(owned.columns, maxima, strict=True)))
    conn.commit()
    return list(owned.sequences)


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
        deferred, unvalidated = create_deferred(pg_conn, mapping, mappings)
        log.info("%s: %d deferred index/FK statement(s) applied", mapping.name, len(deferred))
        pg_conn.execute(f"ANALYZE {pg.qualified(mapping.target.schema, mapping.target.table)}")
        sequences = advance_sequences(pg_conn, mapping)
        target = pg_conn.execute(
            f"SELECT count(*) FROM {pg.qualified(mapping.target.schema, mapping.target.table)}"
        ).fetchone()
        return FinalizeResult(
            source.result(), int(target[0]) if target else 0, sequences, deferred, unvalidated
        )
