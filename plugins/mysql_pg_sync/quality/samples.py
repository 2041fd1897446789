"""The keys of the rows behind a failed NULL check's sample values.

Great Expectations reports a NOT NULL breach as ``e.g. None``, which says nothing about which
row to look at. Asking GE for row keys (``unexpected_index_column_names``) is one setting for
the whole checkpoint, whose tables have different keys, and costs an extra scan for every
column check that passes; instead, only the failed NULL checks are looked up here, one bounded
query each. Other checks' samples stay values only: their conditions live in GE.
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
from mysql_pg_sync.settings import DatabaseEndpoint

log = logging.getLogger(__name__)

MAX_KEYS = 5
"""As many as :func:`~mysql_pg_sync.quality.results.describe` shows samples."""

_NULL_CHECKS = ("not_null", "key_not_null")


def wants_keys(r: CheckResult, mapping: TableMapping) -> bool:
    """A failed derived NULL check whose key says more than the NULL column itself."""
    if r.outcome != "failed" or r.check not in _NULL_CHECKS or r.column is None:
        return False
    return list(mapping.pg_key) != [r.column]


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


def add_row_keys(
    endpoint: DatabaseEndpoint,
    results: Sequence[CheckResult],
    mappings: Mapping[str, TableMapping],
) -> tuple[CheckResult, ...]:
    """``results`` with ``sample_keys`` filled in where :func:`wants_keys`; a lookup that fails
    leaves its result as it was (the breach is reported either way)."""
    todo = [i for i, r in enumerate(results) if wants_keys(r, mappings[r.table])]
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
                keys = null_row_keys(conn, mappings[r.table], r.column or "")
            except psycopg.Error as exc:
                log.warning("%s %s: could not read the rows' keys: %s", r.table, r.check_id, exc)
                continue
            out[i] = replace(r, sample_keys=keys)
    return tuple(out)
