"""The keys of the rows behind a failed check's sample values.

Great Expectations reports a NOT NULL breach as ``e.g. None``, which says nothing about which
row to look at. Asking GE for row keys (``unexpected_index_column_names``) is one setting for
the whole checkpoint, whose tables have different keys, and costs an extra scan for every
column check that passes; instead, only failed checks are looked up here, one bounded query
each: the NULL checks, and checks whose verdict on a row depends on that row's value in one
column alone (:data:`VALUE_EXPECTATIONS`), looked up by their sample values. Any other check's
condition lives in GE (a row's neighbours, a ``row_condition``, an aggregate), so its samples
stay values only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import psycopg

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.gx_runner import jsonable
from mysql_pg_sync.quality.results import CheckResult
from mysql_pg_sync.quality.specs import CheckSpec
from mysql_pg_sync.settings import DatabaseEndpoint

log = logging.getLogger(__name__)

MAX_KEYS = 5
"""As many as :func:`~mysql_pg_sync.quality.results.describe` shows samples."""

_NULL_CHECKS = ("not_null", "key_not_null")

VALUE_EXPECTATIONS = frozenset(
    {
        "ExpectColumnValuesToBeInSet",
        "ExpectColumnValuesToNotBeInSet",
        "ExpectColumnValuesToBeBetween",
        "ExpectColumnValuesToMatchRegex",
        "ExpectColumnValuesToNotMatchRegex",
        "ExpectColumnValuesToMatchRegexList",
        "ExpectColumnValuesToNotMatchRegexList",
        "ExpectColumnValuesToMatchLikePattern",
        "ExpectColumnValuesToNotMatchLikePattern",
        "ExpectColumnValuesToMatchLikePatternList",
        "ExpectColumnValuesToNotMatchLikePatternList",
        "ExpectColumnValueLengthsToBeBetween",
        "ExpectColumnValueLengthsToEqual",
    }
)
"""Every row that holds an unexpected value of these broke the check, so rows found by value
are the rows behind the sample."""

# Checks whose rows are the table's own (set_values validates the array's members instead).
_VALUE_CHECKS = ("enum_values", "range", "custom")


def wants_keys(r: CheckResult, mapping: TableMapping, spec: CheckSpec | None = None) -> bool:
    """A failed check whose rows can be found cheaply and whose key says more than the column.

    ``spec``: the check's spec; a custom one with a ``row_condition`` is not looked up."""
    if r.outcome != "failed" or r.column is None or list(mapping.pg_key) == [r.column]:
        return False
    if r.check in _NULL_CHECKS:
        return True
    return (
        r.check in _VALUE_CHECKS
        and r.expectation in VALUE_EXPECTATIONS
        and bool(sample_values(r))
        and not (spec is not None and spec.kwargs.get("row_condition"))
    )


def sample_values(r: CheckResult) -> list[str]:
    """The sample as text, compared with the column cast to text: a value whose text differs
    (a float's) finds no row, which leaves the keys out rather than naming wrong ones."""
    return [str(v) for v in r.sample[:MAX_KEYS] if isinstance(v, str | int | float)]


def value_keys_query(mapping: TableMapping, column: str, limit: int = MAX_KEYS) -> str:
    """Keys of rows whose ``column`` holds one of the values bound to ``%s`` (a text list)."""
    keys = postgres.column_list(mapping.pg_key)
    table = postgres.qualified(mapping.target.schema, mapping.target.table)
    return (
        f"SELECT {keys} FROM {table} WHERE {postgres.quote_ident(column)}::text = ANY(%s) "
        f"ORDER BY {keys} LIMIT {int(limit)}"
    )


def null_keys_query(mapping: TableMapping, column: str, limit: int = MAX_KEYS) -> str:
    keys = postgres.column_list(mapping.pg_key)
    table = postgres.qualified(mapping.target.schema, mapping.target.table)
    return (
        f"SELECT {keys} FROM {table} WHERE {postgres.quote_ident(column)} IS NULL "
        f"ORDER BY {keys} LIMIT {int(limit)}"
    )


def null_row_keys(
    pg_conn: Any, mapping: TableMapping, column: str, limit: int = MAX_KEYS
) -> list[dict[str, Any]]:
    rows = pg_conn.execute(null_keys_query(mapping, column, limit)).fetchall()
    return [dict(zip(mapping.pg_key, jsonable(list(row)), strict=True)) for row in rows]


def row_keys(pg_conn: Any, mapping: TableMapping, r: CheckResult) -> list[dict[str, Any]]:
    """Keys of up to :data:`MAX_KEYS` rows behind a result that :func:`wants_keys`."""
    if r.check in _NULL_CHECKS:
        return null_row_keys(pg_conn, mapping, r.column or "")
    query = value_keys_query(mapping, r.column or "")
    rows = pg_conn.execute(query, (sample_values(r),)).fetchall()
    return [dict(zip(mapping.pg_key, jsonable(list(row)), strict=True)) for row in rows]


def add_row_keys(
    endpoint: DatabaseEndpoint,
    results: Sequence[CheckResult],
    mappings: Mapping[str, TableMapping],
    specs: Sequence[CheckSpec] = (),
) -> tuple[CheckResult, ...]:
    """``results`` with ``sample_keys`` filled in where :func:`wants_keys`; a lookup that fails
    leaves its result as it was (the breach is reported either way).

    ``specs``: the checks in the order of ``results``, when known."""
    spec_of: list[CheckSpec | None] = list(specs) if len(specs) == len(results) else []
    todo = [
        i
        for i, r in enumerate(results)
        if wants_keys(r, mappings[r.table], spec_of[i] if spec_of else None)
    ]
    out = list(results)
    if not todo:
        return tuple(out)
    try:
        conn = pg_connect(endpoint, autocommit=True)
    except psycopg.Error as exc:
        log.warning("could not read the keys of rows that broke a check: %s", exc)
        return tuple(out)
    with conn:
        for i in todo:
            r = out[i]
            try:
                keys = row_keys(conn, mappings[r.table], r)
            except psycopg.Error as exc:
                log.warning("%s %s: could not read the rows' keys: %s", r.table, r.check_id, exc)
                continue
            out[i] = replace(r, sample_keys=keys)
    return tuple(out)
