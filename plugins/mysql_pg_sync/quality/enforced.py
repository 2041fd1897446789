"""Checks a validated PostgreSQL constraint already enforces: passed without a scan.

``key_unique`` on a 50 GB table is two full sorts, ``not_null`` and ``range`` a full scan each,
for checks that cannot fail while the table's PRIMARY KEY, NOT NULL or CHECK holds. Such a
check is reported as passed, naming the constraint, and never sent to Great Expectations.

A constraint counts only when PostgreSQL guarantees every row holds it: a valid, non-partial
unique index on plain NOT NULL columns, a NOT NULL (PostgreSQL 18: not NOT VALID), an enum
type whose labels all are allowed values, or a validated CHECK whose definition, as
PostgreSQL normalises it, is exactly the check's own condition (built on a temporary probe
table with the same column types, and compared as PostgreSQL prints both). Anything else
(a declared range with other bounds, a CHECK that adds terms) is validated as before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import psycopg

from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.specs import CheckSpec

log = logging.getLogger(__name__)

_PROBE = "mps_dq_constraint_probe"

# A column is NOT NULL for sure when attnotnull is set and no NOT VALID not-null constraint
# (PostgreSQL 18's contype 'n') covers it; before 18 there are no such rows.
_COLUMNS_SQL = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull AND NOT EXISTS (
           SELECT 1 FROM pg_constraint k WHERE k.conrelid = a.attrelid AND k.contype = 'n'
             AND NOT k.convalidated AND a.attnum = ANY (k.conkey)),
       CASE WHEN t.typtype = 'e' THEN format_type(a.atttypid, NULL) END,
       CASE WHEN t.typtype = 'e' THEN ARRAY(
           SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = a.atttypid) END
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped
"""

_UNIQUE_SQL = """
SELECT coalesce(c.conname, i.indexrelid::regclass::text), c.contype,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[]))
FROM pg_index i
LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype IN ('p', 'u')
WHERE i.indrelid = to_regclass(%s) AND i.indisunique AND i.indisvalid AND i.indpred IS NULL
  AND 0 <> ALL (i.indkey::int2[])
ORDER BY c.contype NULLS LAST, 1
"""

_CHECKS_SQL = """
SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
WHERE conrelid = to_regclass(%s) AND contype = 'c' AND convalidated
"""

_KIND = {"p": "PRIMARY KEY", "u": "UNIQUE"}


def condition(spec: CheckSpec) -> tuple[str, str] | None:
    """(column, SQL condition) a CHECK must be for ``spec`` to hold on every row; None for a
    check no CHECK can stand for. NULL passes both the CHECK and the GE expectation."""
    kwargs = spec.kwargs
    column = kwargs.get("column")
    if not isinstance(column, str) or set(kwargs) - {
        "column",
        "value_set",
        "min_value",
        "max_value",
    }:
        return None
    col = postgres.quote_ident(column)
    if spec.check == "enum_values":
        values = ", ".join(postgres.quote_literal(str(v)) for v in kwargs["value_set"])
        return column, f"{col} IN ({values})"
    if spec.check == "set_values":
        members = ", ".join(postgres.quote_literal(str(v)) for v in kwargs["value_set"])
        return column, f"{col} <@ ARRAY[{members}]::text[]"
    if spec.check == "range":
        low, high = kwargs.get("min_value"), kwargs.get("max_value")
        terms = [f"{col} >= {low}"] if low is not None else []
        terms += [f"{col} <= {high}"] if high is not None else []
        return (column, " AND ".join(terms)) if terms else None
    return None


def enforced_checks(
    conn: psycopg.Connection[Any], mapping: TableMapping, specs: Sequence[CheckSpec]
) -> dict[str, str]:
    """check_id -> "enforced by ..." for the table's checks a validated constraint enforces."""
    relation = postgres.qualified(mapping.target.schema, mapping.target.table)
    rows = conn.execute(_COLUMNS_SQL, (relation,)).fetchall()
    if not rows:
        return {}
    types = {str(r[0]): str(r[1]) for r in rows}
    not_null = {str(r[0]) for r in rows if r[2]}
    enums = {str(r[0]): (str(r[3]), list(r[4])) for r in rows if r[3] is not None}
    found: dict[str, str] = {}
    conditions: dict[str, tuple[str, str]] = {}
    for spec in specs:
        column = spec.kwargs.get("column")
        if spec.check in ("not_null", "key_not_null") and column in not_null:
            found[spec.check_id] = f"enforced by the NOT NULL constraint of column {column!r}"
        elif spec.check == "key_unique":
            unique = _unique_by(conn, relation, spec, not_null)
            if unique is not None:
                found[spec.check_id] = unique
        elif spec.check == "enum_values" and isinstance(column, str) and column in enums:
            type_name, labels = enums[column]
            if set(labels) <= {str(v) for v in spec.kwargs["value_set"]}:
                found[spec.check_id] = (
                    f"enforced by the column's enum type {type_name} (labels {', '.join(labels)})"
                )
        elif (wanted := condition(spec)) is not None and wanted[0] in types:
            conditions[spec.check_id] = wanted
    if conditions:
        found.update(_checks_by(conn, relation, types, conditions))
    return {k: v + "; not scanned" for k, v in found.items()}


def _unique_by(
    conn: psycopg.Connection[Any], relation: str, spec: CheckSpec, not_null: set[str]
) -> str | None:
    key = spec.kwargs.get("column_list") or [spec.kwargs.get("column")]
    for name, contype, columns in conn.execute(_UNIQUE_SQL, (relation,)).fetchall():
        # unique on a subset of the key, and no NULL a unique index would let repeat
        if columns and set(columns) <= set(key) and set(columns) <= not_null:
            what = _KIND.get(str(contype)) if contype else None
            cols = ", ".join(columns)
            if what is None:
                return f"enforced by unique index {name} ({cols})"
            return f"enforced by constraint {name} ({what} ({cols}))"
    return None


def _checks_by(
    conn: psycopg.Connection[Any],
    relation: str,
    types: dict[str, str],
    conditions: dict[str, tuple[str, str]],
) -> dict[str, str]:
    """check_id -> "enforced by constraint X" where a validated CHECK of the table is, as
    PostgreSQL prints it, the check's condition on a probe table of the same column types."""
    defined = {str(d): str(n) for n, d in conn.execute(_CHECKS_SQL, (relation,)).fetchall()}
    if not defined:
        return {}
    columns = sorted({column for column, _ in conditions.values()})
    body = ", ".join(f"{postgres.quote_ident(c)} {types[c]}" for c in columns)
    found: dict[str, str] = {}
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(f"CREATE TEMP TABLE {_PROBE} ({body})".encode())
            for n, (check_id, (_, predicate)) in enumerate(conditions.items()):
                try:
                    with conn.transaction():
                        conn.execute(
                            f"ALTER TABLE {_PROBE} ADD CONSTRAINT c{n} CHECK ({predicate})".encode()
                        )
                except psycopg.Error:
                    continue  # no CHECK of this form can exist on the table either
                row = conn.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE conrelid = %s::regclass AND conname = %s",
                    (f"pg_temp.{_PROBE}", f"c{n}"),
                ).fetchone()
                if row is not None and str(row[0]) in defined:
                    found[check_id] = f"enforced by constraint {defined[str(row[0])]} {row[0]}"
    except psycopg.Error as exc:  # no TEMP privilege, say: the checks scan as before
        log.warning("%s: could not compare its CHECKs with the checks: %s", relation, exc)
        return {}
    return found
