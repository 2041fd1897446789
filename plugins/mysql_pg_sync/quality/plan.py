"""Resolve checks against live facts into what Great Expectations runs, or skip them.

Pure: facts (source row counts, the source's newest change, which state tables exist) are
gathered elsewhere and passed in. Skipped checks carry their reason, so a report shows
"no data" instead of a silent pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from psycopg import sql

from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping, TargetTable
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
    query: str | None
    """None: the whole target table; else a query asset."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    target: TargetTable | None = None
    """The PostgreSQL table a whole-table check validates."""


@dataclass(frozen=True)
class SkippedCheck:
    spec: CheckSpec
    reason: str
    breach: bool = False
    """True when the check cannot run because something is wrong (it then counts as a breach)."""


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
        return PlannedCheck(spec, table_asset, None, bounds, mapping.target)
    if spec.asset == "set_members":
        col = postgres.quote_ident(spec.kwargs["column"])
        query = f"SELECT m AS {col} FROM {target} CROSS JOIN LATERAL unnest({col}) AS m"
        return PlannedCheck(spec, f"{table_asset}:members:{spec.column}", query, dict(spec.kwargs))
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
    return PlannedCheck(spec, table_asset, None, dict(spec.kwargs), mapping.target)
