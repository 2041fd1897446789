"""Resolve checks against live facts into what Great Expectations runs, or skip them.

Pure: facts (source row counts, the source's newest change, which state tables exist) are
gathered elsewhere and passed in. Skipped checks carry their reason, so a report shows
"no data" instead of a silent pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from psycopg import sql

from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.specs import CheckSpec
from mysql_pg_sync.quality.state_queries import STATE_QUERIES, render_row

# What a target with no rows reports as lag, so freshness fails instead of observing NULL.
EMPTY_TARGET_LAG_SECONDS = 1e12


@dataclass(frozen=True)
class TableFacts:
    """What the runner learned about one table before validating it."""

    source_rows: int | None = None
    source_newest: datetime | date | None = None
    state_tables: frozenset[str] = frozenset()
    target_exists: bool = True


@dataclass(frozen=True)
class PlannedCheck:
    spec: CheckSpec
    asset_name: str
    query: str
    """What GE validates: the table through :func:`table_query`, or a derived query."""
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedCheck:
    spec: CheckSpec
    reason: str
    breach: bool = False
    """True when the check cannot run because something is wrong (it then counts as a breach)."""


def column_aliases(mapping: TableMapping) -> dict[str, str]:
    """PostgreSQL column name -> a lower-case alias GE can address.

    GE folds column (and table) names to lower case, so ``"Name"`` or a table ``"Group"``
    cannot be validated directly; every table is read through a query that aliases its columns.
    """
    aliases: dict[str, str] = {}
    used: set[str] = set()
    for column in mapping.synced_columns():
        base = re.sub(r"[^a-z0-9_]", "_", column.pg_name.lower()) or "col"
        base = f"c_{base}" if base[0].isdigit() else base
        alias, n = base, 2
        while alias in used:
            alias, n = f"{base}_{n}", n + 1
        used.add(alias)
        aliases[column.pg_name] = alias
    return aliases


def table_query(mapping: TableMapping, aliases: dict[str, str]) -> str:
    columns = ", ".join(
        f"{postgres.quote_ident(name)} AS {postgres.quote_ident(alias)}"
        for name, alias in aliases.items()
    )
    return (
        f"SELECT {columns} FROM {postgres.qualified(mapping.target.schema, mapping.target.table)}"
    )


_COLUMN_KWARGS = ("column", "column_A", "column_B")


def aliased_kwargs(kwargs: dict[str, Any], aliases: dict[str, str]) -> dict[str, Any]:
    """Expectation kwargs with column names replaced by their aliases."""
    out = dict(kwargs)
    for key in _COLUMN_KWARGS:
        if isinstance(out.get(key), str):
            out[key] = aliases.get(out[key], out[key])
    if isinstance(out.get("column_list"), list):
        out["column_list"] = [aliases.get(c, c) for c in out["column_list"]]
    return out


def row_count_bounds(
    source_rows: int, tolerance_rows: int, tolerance_ratio: float
) -> tuple[int, int]:
    """(min, max) target rows: the source count plus or minus the larger tolerance."""
    slack = max(tolerance_rows, math.ceil(source_rows * tolerance_ratio))
    return max(0, source_rows - slack), source_rows + slack


def _freshness_query(target: str, column: str, kind: str, newest: datetime | date) -> str:
    col = postgres.quote_ident(column)
    text = newest.isoformat(sep=" ") if isinstance(newest, datetime) else newest.isoformat()
    literal = sql.Literal(text).as_string(None)
    if kind == "date":
        lag = f"(DATE {literal} - max({col})) * 86400.0"
    elif kind == "timestamp":  # MySQL TIMESTAMP read in a UTC session -> timestamptz
        lag = f"EXTRACT(EPOCH FROM (({literal} || '+00')::timestamptz - max({col})))"
    else:
        lag = f"EXTRACT(EPOCH FROM (TIMESTAMP {literal} - max({col})))"
    return f"SELECT coalesce({lag}, {EMPTY_TARGET_LAG_SECONDS}) AS lag_seconds FROM {target}"


def plan_check(
    spec: CheckSpec, mapping: TableMapping, facts: TableFacts
) -> PlannedCheck | SkippedCheck:
    target = postgres.qualified(mapping.target.schema, mapping.target.table)
    table_asset = str(mapping.target)
    aliases = column_aliases(mapping)
    if not facts.target_exists and spec.asset != "state":
        reason = f"PostgreSQL table {table_asset} does not exist; create it with `make ddl`"
        return SkippedCheck(spec, reason, breach=True)
    if spec.check == "row_count_parity":
        if facts.source_rows is None:
            return SkippedCheck(spec, "source row count unavailable")
        low, high = row_count_bounds(
            facts.source_rows, spec.params["tolerance_rows"], spec.params["tolerance_ratio"]
        )
        bounds: dict[str, Any] = {"min_value": low, "max_value": high}
        return PlannedCheck(spec, table_asset, table_query(mapping, aliases), bounds)
    if spec.asset == "set_members":
        col = postgres.quote_ident(spec.kwargs["column"])
        alias = aliases[spec.kwargs["column"]]
        query = (
            f"SELECT m AS {postgres.quote_ident(alias)} "
            f"FROM {target} CROSS JOIN LATERAL unnest({col}) AS m"
        )
        return PlannedCheck(
            spec,
            f"{table_asset}:members:{spec.column}",
            query,
            aliased_kwargs(spec.kwargs, aliases),
        )
    if spec.asset == "freshness":
        if facts.source_newest is None:
            return SkippedCheck(spec, f"source has no value in {spec.params['mysql_column']}")
        query = _freshness_query(
            target, spec.column or "", spec.params["kind"], facts.source_newest
        )
        return PlannedCheck(spec, f"{table_asset}:freshness", query, dict(spec.kwargs))
    if spec.asset == "state":
        needed = STATE_QUERIES[spec.check].needs
        if needed not in facts.state_tables:
            return SkippedCheck(spec, f"no data: mps_sync.{needed} does not exist yet")
        query = render_row(facts.state_tables, mapping.name, str(mapping.target))
        state_kwargs: dict[str, Any] = {**spec.kwargs, "column": spec.check}
        return PlannedCheck(spec, f"{table_asset}:state", query, state_kwargs)
    kwargs = aliased_kwargs(spec.kwargs, aliases)
    return PlannedCheck(spec, table_asset, table_query(mapping, aliases), kwargs)
