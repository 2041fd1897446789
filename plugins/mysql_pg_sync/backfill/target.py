"""The PostgreSQL target table: create it when missing, refuse it when it does not fit.

Tables are created by :mod:`mysql_pg_sync.ddl` (schema, enum types, table, key, unique indexes;
secondary indexes and foreign keys wait for :mod:`.finalize`). The compatibility check lets
PostgreSQL itself normalise the mapping's types (a temporary table built from the same column
types the DDL uses), so ``timestamptz(6)`` and ``timestamp(6) with time zone`` compare equal.
It also wants a unique index on exactly the mapping's key: the copy itself never needs one,
but the stream's ``INSERT ... ON CONFLICT (key)`` fails on every change without it.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg

from mysql_pg_sync import ddl
from mysql_pg_sync.backfill import binary_copy, readers
from mysql_pg_sync.backfill.conversion import convert_batch
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.errors import PreflightError, SyncError
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping

log = logging.getLogger(__name__)


class TargetSchemaError(SyncError):
    """The existing PostgreSQL table cannot take the mapped columns; nothing was copied."""


def existing_columns(
    conn: psycopg.Connection[Any], schema: str, table: str
) -> dict[str, tuple[str, bool, bool]] | None:
    """{column: (formatted type, not null, has default)} or None when the table is missing."""
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped",
        (schema, table),
    ).fetchall()
    if not rows:
        exists = conn.execute(
            "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname = %s",
            (schema, table),
        ).fetchone()
        return {} if exists else None
    return {r[0]: (r[1], bool(r[2]), bool(r[3])) for r in rows}


@dataclass(frozen=True)
class UniqueIndex:
    """A unique index (or primary key / unique constraint) of the existing target table."""

    name: str
    columns: tuple[str, ...]  # key columns in index order (an expression as its text); no INCLUDE
    primary: bool = False
    deferrable: bool = False
    partial: bool = False
    expressions: bool = False
    valid: bool = True

    def unusable(self) -> str | None:
        """Why ``ON CONFLICT`` cannot take this index as its arbiter, or None."""
        reasons = [
            why
            for why, bad in (
                ("it is DEFERRABLE", self.deferrable),
                ("it is partial (WHERE ...)", self.partial),
                ("it indexes expressions", self.expressions),
                ("it is not valid (a failed CREATE INDEX CONCURRENTLY)", not self.valid),
            )
            if bad
        ]
        return " and ".join(reasons) or None


def unique_indexes(conn: psycopg.Connection[Any], schema: str, table: str) -> list[UniqueIndex]:
    """Every unique index of the table, primary key first."""
    rows = conn.execute(
        "SELECT ic.relname, i.indisprimary, NOT i.indimmediate, i.indpred IS NOT NULL, "
        "i.indexprs IS NOT NULL, i.indisvalid, "
        "ARRAY(SELECT COALESCE(a.attname::text, pg_get_indexdef(i.indexrelid, k.n::int, true)) "
        "FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n) "
        "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
        "ORDER BY k.n) "
        "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisunique "
        "ORDER BY i.indisprimary DESC, ic.relname",
        (pg.qualified(schema, table),),
    ).fetchall()
    return [
        UniqueIndex(
            name=str(r[0]),
            columns=tuple(str(c) for c in r[6]),
            primary=bool(r[1]),
            deferrable=bool(r[2]),
            partial=bool(r[3]),
            expressions=bool(r[4]),
            valid=bool(r[5]),
        )
        for r in rows
    ]


def key_problem(mapping: TableMapping, indexes: Sequence[UniqueIndex]) -> str | None:
    """Why the stream could not upsert into the existing table by the mapping's key (pure).

    ``ON CONFLICT (key)`` needs a non-deferrable, non-partial unique index on exactly the key's
    columns, in any order; one on more or fewer columns does not count."""
    missing = missing_key(mapping, indexes)
    if missing is None:
        return None
    reason, fix = missing
    return f"{reason}; add one before the backfill: {fix}"


def missing_key(mapping: TableMapping, indexes: Sequence[UniqueIndex]) -> tuple[str, str] | None:
    """(why the stream could not upsert by the mapping's key, the SQL that fixes it), or None
    when a usable unique index covers exactly the key (see :func:`key_problem`)."""
    key = mapping.pg_key
    matching = [i for i in indexes if set(i.columns) == set(key) and len(i.columns) == len(key)]
    if any(i.unusable() is None for i in matching):
        return None
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    columns = pg.column_list(key)
    if any(i.primary for i in indexes):
        fix = f"CREATE UNIQUE INDEX ON {table} ({columns})"
    else:
        fix = f"ALTER TABLE {table} ADD PRIMARY KEY ({columns})"
    found = "; ".join(
        f"{'primary key' if i.primary else 'unique index'} {i.name} on ({', '.join(i.columns)})"
        + (f" cannot be used: {i.unusable()}" if i in matching else "")
        for i in indexes
    )
    reason = (
        f"no primary key or unique index on exactly the key ({', '.join(key)})"
        + (f" (found: {found})" if found else "")
        + f": the copy would load, but the stream's INSERT ... ON CONFLICT ({columns}) would "
        "fail on the first change"
    )
    return reason, fix


def mapped_types(
    conn: psycopg.Connection[Any], mapping: TableMapping, only: Collection[str] | None = None
) -> dict[str, str]:
    """The mapping's PostgreSQL types as PostgreSQL formats them (of the ``only`` columns:
    a column still to be added may need an enum type that does not exist yet); a
    TargetSchemaError naming each column whose pg_type PostgreSQL refuses."""
    types, problems = probe_types(conn, mapping, only)
    if problems:
        raise TargetSchemaError(
            f"{mapping.name}: the mapping's pg_type is not valid in PostgreSQL:\n  - "
            + "\n  - ".join(problems)
        )
    return types


def probe_types(
    conn: psycopg.Connection[Any], mapping: TableMapping, only: Collection[str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """({column: type as PostgreSQL formats it}, one problem per column whose pg_type
    PostgreSQL refuses, naming the column). PostgreSQL's own message names the type but not
    the column, so when the probe of all columns fails each is probed alone."""
    columns = [c for c in mapping.synced_columns() if only is None or c.pg_name in only]
    try:
        return _probe(conn, mapping, columns), []
    except psycopg.Error:
        pass
    types: dict[str, str] = {}
    problems = []
    for column in columns:
        try:
            types.update(_probe(conn, mapping, [column]))
        except psycopg.Error as exc:
            problems.append(_type_problem(mapping, column, exc))
    return types, problems


def _probe(
    conn: psycopg.Connection[Any], mapping: TableMapping, columns: Sequence[ColumnMapping]
) -> dict[str, str]:
    probe = "mps_backfill_type_probe"
    body = ", ".join(
        f"{pg.quote_ident(c.pg_name)} {ddl._column_type_sql(mapping, c)}" for c in columns
    )
    with conn.transaction(force_rollback=True):
        conn.execute(f"CREATE TEMP TABLE {probe} ({body})".encode())
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (f"pg_temp.{probe}",),
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def _type_problem(mapping: TableMapping, column: ColumnMapping, exc: psycopg.Error) -> str:
    reason = exc.diag.message_primary or str(exc)
    if ddl.is_enum_type(column):
        ref = pg.qualified(*ddl.enum_type_ref(mapping, column))
        return (
            f"column {column.pg_name!r}: the mapping's enum type {ref} is not usable ({reason}); "
            f"`ddl --tables {mapping.name}` creates it"
        )
    return (
        f"column {column.pg_name!r}: pg_type {column.pg_type!r} is not a type PostgreSQL has "
        f"here ({reason}); fix the column's pg_type in the mapping (or create the type, if an "
        "extension or a domain should provide it)"
    )


def incompatibilities(
    mapping: TableMapping,
    wanted: dict[str, str],
    existing: dict[str, tuple[str, bool, bool]],
    indexes: Sequence[UniqueIndex],
    *,
    missing_ok: bool = False,
) -> list[str]:
    """Every reason the existing table cannot take the copy, or the stream after it (pure).
    ``missing_ok``: a mapped column the table lacks is not one (``ddl`` adds it). A column of
    ``postgres_only_columns`` must exist (a misspelt one would acknowledge nothing), and is
    otherwise left alone unless no row from MySQL could fill it."""
    problems = []
    for col in mapping.synced_columns():
        have = existing.get(col.pg_name)
        if have is None:
            if not missing_ok:
                problems.append(
                    f"column {col.pg_name!r} ({wanted[col.pg_name]}) is missing (`ddl` adds it)"
                )
        elif have[0] != wanted[col.pg_name]:
            table = pg.qualified(mapping.target.schema, mapping.target.table)
            problems.append(
                f"column {col.pg_name!r} is {have[0]} but the mapping says {wanted[col.pg_name]} "
                f"(after checking the rows fit: ALTER TABLE {table} "
                f"{ddl.retype_sql(mapping, col, have[0], wanted[col.pg_name], have[2])}; or set "
                "the column's pg_type in the mapping)"
            )
    mapped = {c.pg_name for c in mapping.synced_columns()}
    own = set(mapping.postgres_only_columns)
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    for name, (pg_type, not_null, has_default) in existing.items():
        if name in own and not_null and not has_default:
            problems.append(
                f"column {name!r} ({pg_type}) is PostgreSQL-only (postgres_only_columns) but "
                "NOT NULL without a default, so neither the backfill's rows nor the stream's "
                f"inserts from MySQL can fill it (give it a default: ALTER TABLE {table} ALTER "
                f"COLUMN {pg.quote_ident(name)} SET DEFAULT <value>; or DROP NOT NULL)"
            )
        elif name not in mapped and not_null and not has_default:
            problems.append(
                f"column {name!r} ({pg_type}) is NOT NULL without a default and not in the "
                f"mapping, so rows from MySQL cannot fill it (ALTER TABLE {table} ALTER COLUMN "
                f"{pg.quote_ident(name)} DROP NOT NULL, or give it a DEFAULT; if MySQL dropped "
                "the column, drop it here too once the PostgreSQL app no longer uses it)"
            )
    for name in mapping.postgres_only_columns:
        if name not in existing:
            problems.append(
                f"column {name!r} is listed in postgres_only_columns, but {table} has no such "
                "column: fix its spelling, or remove it from postgres_only_columns (if the "
                "PostgreSQL app's migration that adds it has not run yet, run it first)"
            )
    key = key_problem(mapping, indexes)
    if key is not None:
        problems.append(key)
    return problems


def ensure_target(
    conn: psycopg.Connection[Any], mapping: TableMapping, mappings: MappingSet, *, create: bool
) -> bool:
    """Check the target table, creating it when missing and allowed; True when created."""
    schema, table = mapping.target.schema, mapping.target.table
    existing = existing_columns(conn, schema, table)
    if existing is None:
        if not create:
            raise TargetSchemaError(
                f"{mapping.name}: target table {mapping.target} does not exist; "
                "run with mode=create_missing (or `ddl`) first"
            )
        ddl.apply_ddl(conn, ddl.plan_ddl(mappings, [mapping]))
        refuse_misread_copy(conn, mapping, mappings)
        return True
    indexes = unique_indexes(conn, schema, table)
    problems = incompatibilities(mapping, mapped_types(conn, mapping), existing, indexes)
    if problems:
        origin = mappings.file_of(mapping)
        raise TargetSchemaError(
            f"{mapping.name}: target table {mapping.target} is incompatible with the mapping "
            "(nothing was copied):\n  - "
            + "\n  - ".join(problems)
            + "\nfix the table (or the mapping's pg_type), or drop it and use "
            "mode=create_missing" + (f"; mapping file {origin}" if origin else "")
        )
    refuse_misread_copy(conn, mapping, mappings)
    for warning in exact_unique_indexes(mapping, mappings, indexes):
        log.warning("%s", warning)
    return False


def refuse_misread_copy(
    conn: psycopg.Connection[Any], mapping: TableMapping, mappings: MappingSet
) -> None:
    """A TargetSchemaError naming each column whose PostgreSQL type would read the binary
    COPY's bytes as other values (:mod:`.binary_copy`): a hand-set pg_type of another kind."""
    converted = convert_batch(mapping, readers.empty_batch(mapping)).schema
    receivers = binary_copy.target_receivers(conn, mapping.target.schema, mapping.target.table)
    problems = binary_copy.problems(mapping, converted, receivers)
    if problems:
        origin = mappings.file_of(mapping)
        raise TargetSchemaError(
            f"{mapping.name}: the backfill cannot copy into {mapping.target} as mapped "
            "(nothing was copied):\n  - "
            + "\n  - ".join(problems)
            + (f"\nmapping file {origin}" if origin else "")
        )


def exact_unique_indexes(
    mapping: TableMapping, mappings: MappingSet, indexes: Sequence[UniqueIndex]
) -> list[str]:
    """A warning for each unique index of the existing table that ``ddl`` would now create
    with case folded (MySQL ignores case there) but that compares its plain columns: created
    before, it is less strict than MySQL, and ``ddl`` never replaces an index (pure)."""
    existing = {i.name: i for i in indexes}
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    warnings = []
    for planned in ddl.indexes_ddl(mapping, unique=True, names=ddl.index_names(mappings)):
        found = existing.get(planned.name)
        if not planned.folded or found is None or found.expressions:
            continue
        index = pg.qualified(mapping.target.schema, planned.name)
        warnings.append(
            f"{mapping.name}: unique index {planned.name} on {table} compares "
            f"{', '.join(planned.folded)} as written, but MySQL ignores case there: the "
            "PostgreSQL app can insert a value that differs from another only in case, and "
            f"MySQL then refuses it. Replace it: DROP INDEX {index}; then "
            f"`ddl --tables {mapping.name}` creates it with case folded"
        )
    return warnings


def target_row_count(conn: psycopg.Connection[Any], mapping: TableMapping) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {pg.qualified(mapping.target.schema, mapping.target.table)}"
    ).fetchone()
    return int(row[0]) if row else 0


def target_has_rows(conn: psycopg.Connection[Any], mapping: TableMapping) -> bool:
    row = conn.execute(
        f"SELECT EXISTS (SELECT 1 FROM {pg.qualified(mapping.target.schema, mapping.target.table)})"
    ).fetchone()
    return bool(row and row[0])


def referencing_foreign_keys(
    conn: psycopg.Connection[Any], mapping: TableMapping
) -> list[tuple[str, str, str]]:
    """(schema, table, constraint) of every other table's foreign key to the target table:
    each one makes PostgreSQL refuse to TRUNCATE the target unless its table is emptied too."""
    rows = conn.execute(
        "SELECT n.nspname, r.relname, c.conname FROM pg_constraint c "
        "JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace "
        "WHERE c.contype = 'f' AND c.confrelid = to_regclass(%s) AND c.conrelid <> c.confrelid "
        "ORDER BY 1, 2, 3",
        (pg.qualified(mapping.target.schema, mapping.target.table),),
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def truncate_targets(
    conn: psycopg.Connection[Any], mappings: Sequence[TableMapping], origins: Sequence[str] = ()
) -> None:
    """Empty the target tables in one statement: a parent and the children that reference it
    can only be truncated together. Inside the caller's transaction, tagged with the first free
    replication origin of ``origins`` (the backfill's pool): PostgreSQL's capture sends a
    TRUNCATE, which the source's transform then drops and the stream takes for an echo, where
    an application's TRUNCATE is a dead letter. The caller closes the connection after its
    commit, which releases the origin."""
    tables = ", ".join(pg.qualified(m.target.schema, m.target.table) for m in mappings)
    # the commit record carries the session's origin: it stays set until the caller's
    # connection closes (a reset before the commit left the TRUNCATE untagged)
    _lease_origin(conn, origins)
    conn.execute(f"TRUNCATE {tables}")


def _lease_origin(conn: psycopg.Connection[Any], origins: Sequence[str]) -> bool:
    """Tag the session with the first origin of ``origins`` no other session holds; False when
    there are none to try. Each try in a savepoint: a refused one must not end the transaction."""
    for name in origins:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_replication_origin_session_setup(%s)", (name,))
            return True
        except psycopg.errors.ObjectInUse:
            continue
        except psycopg.errors.UndefinedObject:  # a pool name no copy has created yet
            with conn.transaction():
                conn.execute("SELECT pg_replication_origin_create(%s)", (name,))
                conn.execute("SELECT pg_replication_origin_session_setup(%s)", (name,))
            return True
    if origins:
        raise PreflightError(
            f"all {len(origins)} replication origins {origins[0]}[_N] are in use by other "
            "sessions, so the reload's TRUNCATE could not be tagged as the backfill's; lower "
            "the backfill's max parallel chunks or stop idle appliers, then try again"
        )
    return False


@dataclass(frozen=True)
class ExistingTargets:
    """What ``ddl`` finds in PostgreSQL before it plans: per mapping name, the columns of its
    target table where it exists, and what about that table ``ddl`` will not change."""

    columns: dict[str, set[str]]
    problems: dict[str, list[str]]
    # CHECKs still NOT VALID: a validation of an earlier ``ddl`` failed or was interrupted
    unvalidated: dict[str, list[str]] = field(default_factory=dict)
    # our CHECKs in an older form than the mapping gives now (an enum gained a member)
    stale_checks: dict[str, list[str]] = field(default_factory=dict)
    # our CHECKs an existing mapped column lacks (the mapping turned two-way, say)
    missing_checks: dict[str, list[str]] = field(default_factory=dict)
    # the replica identity (relreplident: 'f' is FULL) of each existing table
    replica_identities: dict[str, str] = field(default_factory=dict)


def read_existing(conn: psycopg.Connection[Any], chosen: Sequence[TableMapping]) -> ExistingTargets:
    """The existing target tables of ``chosen`` and every problem of each (a retyped column, an
    unmapped NOT NULL column without a default, no unique index on the key, a NOT NULL column
    to add that no value fills in the rows there), and of any chosen table a pg_type PostgreSQL
    refuses (also for a table to create); a mapped column a table lacks is not a problem,
    ``ddl`` adds it."""
    columns: dict[str, set[str]] = {}
    problems: dict[str, list[str]] = {}
    unvalidated: dict[str, list[str]] = {}
    stale_found: dict[str, list[str]] = {}
    missing_found: dict[str, list[str]] = {}
    for mapping in chosen:
        schema, table = mapping.target.schema, mapping.target.table
        existing = existing_columns(conn, schema, table)
        to_create = _enum_types_to_create(conn, mapping)  # ddl creates them: nothing to probe
        skipped = {c.pg_name for c in to_create}
        wanted, found = probe_types(
            conn, mapping, [c.pg_name for c in mapping.synced_columns() if c.pg_name not in skipped]
        )
        if existing is None:
            if found:
                problems[mapping.name] = found
            continue
        columns[mapping.name] = set(existing)
        found += _absent_enum_types(mapping, existing, to_create)
        if pending := unvalidated_checks(conn, schema, table):
            unvalidated[mapping.name] = pending
        stale, missing = check_drift(conn, mapping, existing)
        if stale:
            stale_found[mapping.name] = stale
        if missing:
            missing_found[mapping.name] = missing
        # a mapped column whose type is reported above is left out of the comparison
        mapped = {c.pg_name for c in mapping.synced_columns()}
        comparable = {n: v for n, v in existing.items() if n in wanted or n not in mapped}
        found += incompatibilities(
            mapping, wanted, comparable, unique_indexes(conn, schema, table), missing_ok=True
        )
        unfilled = ddl.unfilled_columns(mapping, existing)
        if unfilled and _has_rows(conn, mapping):
            found += unfilled
        if found:
            problems[mapping.name] = found
    identities = _replica_identities(conn, [m for m in chosen if m.name in columns])
    return ExistingTargets(columns, problems, unvalidated, stale_found, missing_found, identities)


def _replica_identities(
    conn: psycopg.Connection[Any], mappings: Sequence[TableMapping]
) -> dict[str, str]:
    if not mappings:
        return {}
    relations = [pg.qualified(m.target.schema, m.target.table) for m in mappings]
    found = dict(conn.execute(pg.replica_identities_sql(), (relations,)).fetchall())
    return {m.name: found.get(r) or "" for m, r in zip(mappings, relations, strict=True)}


def _constraint_defs(conn: psycopg.Connection[Any], relation: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'c'",
        (relation,),
    ).fetchall()
    return {str(r[0]): str(r[1]).removesuffix(" NOT VALID") for r in rows}


def check_drift(
    conn: psycopg.Connection[Any],
    mapping: TableMapping,
    existing: Mapping[str, tuple[str, bool, bool]],
) -> tuple[list[str], list[str]]:
    """(stale, missing): our CHECKs on the existing table's mapped columns whose definition
    differs from the one the mapping gives now, and those the table lacks. PostgreSQL
    normalises both definitions: the mapping's are built on a temporary table with the same
    column types, and the two compared as PostgreSQL prints them. A column whose type differs
    is reported elsewhere (a retype), not here."""
    wanted = ddl.checks_by_column(mapping)
    columns = [c for c in mapping.synced_columns() if c.pg_name in existing]
    ours = {n for c in columns for n in wanted.get(c.pg_name, {})}
    if not ours:
        return [], []
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    defined = _constraint_defs(conn, table)
    missing = sorted(ours - set(defined))
    have = {n: d for n, d in defined.items() if n in ours}
    if not have:
        return [], missing
    probe = "mps_ddl_check_probe"
    body = [f"{pg.quote_ident(c.pg_name)} {existing[c.pg_name][0]}" for c in columns]
    body += [
        clause for c in columns for n, clause in wanted.get(c.pg_name, {}).items() if n in have
    ]
    with conn.transaction(force_rollback=True):
        try:
            conn.execute(f"CREATE TEMP TABLE {probe} ({', '.join(body)})".encode())
        except psycopg.Error as exc:
            log.warning("%s: could not compare its CHECKs: %s", mapping.name, exc)
            return [], missing
        new = _constraint_defs(conn, f"pg_temp.{probe}")
    return sorted(n for n, definition in have.items() if new.get(n) != definition), missing


def _enum_types_to_create(
    conn: psycopg.Connection[Any], mapping: TableMapping
) -> list[ColumnMapping]:
    """The mapping's enum-typed columns whose type does not exist yet (``ddl`` creates it)."""
    found = []
    for column in mapping.synced_columns():
        if ddl.is_enum_type(column):
            ref = pg.qualified(*ddl.enum_type_ref(mapping, column))
            row = conn.execute("SELECT to_regtype(%s)", (ref,)).fetchone()
            if row is None or row[0] is None:
                found.append(column)
    return found


def _absent_enum_types(
    mapping: TableMapping,
    existing: Mapping[str, tuple[str, bool, bool]],
    to_create: Sequence[ColumnMapping],
) -> list[str]:
    """An existing column the mapping now gives an enum type that does not exist yet
    (``to_create``): a retype (from text, say), reported with the statements to run."""
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    found = []
    for column in to_create:
        if column.pg_name not in existing:
            continue
        ref = pg.qualified(*ddl.enum_type_ref(mapping, column))
        col = pg.quote_ident(column.pg_name)
        create = ddl.enum_type_sql(mapping, column)[0]
        # a text default cannot be cast on its own: dropped, then the mapping's set again
        alter = [
            f"ALTER COLUMN {col} DROP DEFAULT",
            f"ALTER COLUMN {col} TYPE {ref} USING {col}::text::{ref}",
        ]
        default = ddl.plan_default(mapping, column).sql
        if default is not None:
            alter.append(f"ALTER COLUMN {col} SET DEFAULT {default}")
        found.append(
            f"column {column.pg_name!r} is {existing[column.pg_name][0]} but the mapping says "
            f"the enum type {ref}, which does not exist yet (after checking that every value "
            f"is a member: {create}; ALTER TABLE {table} {', '.join(alter)}; or set the "
            "column's pg_type in the mapping)"
        )
    return found


def unvalidated_checks(conn: psycopg.Connection[Any], schema: str, table: str) -> list[str]:
    """Names of the table's CHECK constraints that are NOT VALID."""
    rows = conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) "
        "AND contype = 'c' AND NOT convalidated ORDER BY conname",
        (pg.qualified(schema, table),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def _has_rows(conn: psycopg.Connection[Any], mapping: TableMapping) -> bool:
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    return conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone() == (True,)
