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
from mysql_pg_sync.quality.specs import CheckSpec, Severity
from mysql_pg_sync.quality.state_queries import STATE_QUERIES, render_row

# What a target with no rows reports as lag, so freshness fails instead of observing NULL.
EMPTY_TARGET_LAG_SECONDS = 1e12


@dataclass(frozen=True)
class ReconcileFacts:
    """The table's row in the latest finished reconcile run (up to the triggering one)."""

    run_id: int
    status: str
    error: str | None = None
    unrepaired: int = 0
    last_good_run_id: int | None = None
    """The latest earlier run that did compare the table (status other than ``error``)."""
    last_good_unrepaired: int | None = None
    report_html: str | None = None
    """The run's HTML report: the path the run stored, else where it writes it by default."""


@dataclass(frozen=True)
class TableFacts:
    """What the runner learned about one table before validating it."""

    source_rows: int | None = None
    source_newest: datetime | date | None = None
    state_tables: frozenset[str] = frozenset()
    target_exists: bool = True
    target_missing_columns: tuple[str, ...] = ()
    """Mapped (synced) columns the PostgreSQL table lacks: the mapping is ahead of ``ddl``."""
    source_error: str | None = None
    """Why the MySQL table could not be read (missing, no privilege); None when it was."""
    reconcile: ReconcileFacts | None = None


@dataclass(frozen=True)
class PlannedCheck:
    spec: CheckSpec
    asset_name: str
    query: str
    """What GE validates: the table through :func:`table_query`, or a derived query."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    breach_hint: str = ""
    """Added to the detail of a failed result: where to look and what to do."""
    source_rows: int | None = None
    """MySQL's row count, for ``row_count_parity``: its failure names both counts."""


@dataclass(frozen=True)
class SkippedCheck:
    spec: CheckSpec
    reason: str
    breach: bool = False
    """True when the check cannot run because something is wrong (it then counts as a breach)."""
    observed: Any = None
    """The last value known, when there is one (a failed reconcile's earlier drift)."""
    severity: Severity | None = None
    """Overrides the check's severity: a table that cannot be read is not a tunable warning."""


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


# Longest reconcile error quoted in a check's detail: the reconcile report has the rest.
_MAX_ERROR_CHARS = 300

# Checks that compare with the MySQL table, so cannot run when it cannot be read.
_SOURCE_CHECKS = ("row_count_parity", "freshness")


def _report_ref(rec: ReconcileFacts) -> str:
    return f"; its report: {rec.report_html}" if rec.report_html else ""


def repair_how(table: str) -> str:
    """The reconcile run, as Params and as a command, that repairs ``table``."""
    return (
        f'trigger the reconcile DAG with Params tables = ["{table}"], repair on and dry_run off, '
        f"or `python -m mysql_pg_sync reconcile --tables {table} --repair --no-dry-run`"
    )


def reconcile_drift_hint(table: str, rec: ReconcileFacts) -> str:
    """Which reconcile run found the drift, where its report is, and how to repair it."""
    where = f"drift left by reconcile run {rec.run_id}{_report_ref(rec)}"
    if rec.status == "repair_refused":
        # The same max_repairs would refuse the table's repairs again.
        return (
            f"{where}; its repairs were refused as over max_repairs: trigger the reconcile DAG "
            f'with Params tables = ["{table}"], repair on, dry_run off and a higher '
            f"max_repairs, or `python -m mysql_pg_sync reconcile --tables {table} --repair "
            "--no-dry-run --max-repairs <n>`"
        )
    return f"{where}; to repair it {repair_how(table)}"


def dead_letters_hint(table: str) -> str:
    """How to recover the table's open dead letters."""
    return (
        f'open dead letters: changes not applied; `make cli ARGS="dead-letters list --table '
        f'{table}"` shows them, fix the cause each error names, then `dead-letters retry '
        f"--table {table}` (or `dead-letters resolve --id N --note ...` for a fix by hand)"
    )


def _reconcile_skip(
    spec: CheckSpec, mapping: TableMapping, facts: TableFacts
) -> SkippedCheck | None:
    """Why ``reconcile_drift`` cannot be judged from the table's latest reconcile, if so.

    A run that errored on the table stores drift_found = 0: reading that as "no drift" would
    hide both the failure and the drift an earlier run left, so it is a breach that says so.
    """
    rec = facts.reconcile
    if rec is None:
        return SkippedCheck(
            spec, f"no data: no finished reconcile run has compared {mapping.name} yet"
        )
    if rec.status != "error":
        return None
    error = (rec.error or "no error stored").strip()
    if len(error) > _MAX_ERROR_CHARS:
        error = error[:_MAX_ERROR_CHARS] + "..."
    if rec.last_good_run_id is None:
        earlier = "no earlier run compared it, so its drift is unknown"
    else:
        earlier = (
            f"the last run that compared it, {rec.last_good_run_id}, left "
            f"{rec.last_good_unrepaired} unrepaired drift row(s)"
        )
    reason = (
        f"the latest reconcile run {rec.run_id} failed on this table ({error}); {earlier}. "
        f"Fix the cause and run reconcile again (its report has the details){_report_ref(rec)}"
    )
    return SkippedCheck(spec, reason, breach=True, observed=rec.last_good_unrepaired)


def plan_check(
    spec: CheckSpec, mapping: TableMapping, facts: TableFacts
) -> PlannedCheck | SkippedCheck:
    target = postgres.qualified(mapping.target.schema, mapping.target.table)
    table_asset = str(mapping.target)
    aliases = column_aliases(mapping)
    if not facts.target_exists and spec.asset != "state":
        reason = f"PostgreSQL table {table_asset} does not exist; create it with `make ddl`"
        return SkippedCheck(spec, reason, breach=True)
    if facts.target_missing_columns and spec.asset != "state":
        # every check reads the table through a query naming all mapped columns
        missing = ", ".join(facts.target_missing_columns)
        reason = (
            f"PostgreSQL table {table_asset} lacks mapped column(s) {missing}, so none of its "
            "checks ran; add them with `make ddl` (`ARGS=--dry-run` to see the ALTER first)"
        )
        return SkippedCheck(spec, reason, breach=True)
    if spec.check in _SOURCE_CHECKS and facts.source_error is not None:
        reason = (
            f"MySQL table {mapping.source} could not be read ({facts.source_error}); create it, "
            "grant the sync user SELECT on it, or disable its mapping"
        )
        # fail, whatever the check's severity: this used to crash (and so fail) the whole run
        return SkippedCheck(spec, reason, breach=True, severity="fail")
    if spec.check == "row_count_parity":
        if facts.source_rows is None:
            return SkippedCheck(spec, "source row count unavailable")
        low, high = row_count_bounds(
            facts.source_rows, spec.params["tolerance_rows"], spec.params["tolerance_ratio"]
        )
        bounds: dict[str, Any] = {"min_value": low, "max_value": high}
        return PlannedCheck(
            spec, table_asset, table_query(mapping, aliases), bounds, source_rows=facts.source_rows
        )
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
        if spec.check == "reconcile_drift":
            skipped = _reconcile_skip(spec, mapping, facts)
            if skipped is not None:
                return skipped
        reconcile_run = facts.reconcile.run_id if facts.reconcile is not None else None
        query = render_row(facts.state_tables, mapping.name, str(mapping.target), reconcile_run)
        state_kwargs: dict[str, Any] = {**spec.kwargs, "column": spec.check}
        hint = ""
        if spec.check == "reconcile_drift" and facts.reconcile is not None:
            hint = reconcile_drift_hint(mapping.name, facts.reconcile)
        if spec.check == "dead_letters":
            hint = dead_letters_hint(mapping.name)
        return PlannedCheck(spec, f"{table_asset}:state", query, state_kwargs, hint)
    kwargs = aliased_kwargs(spec.kwargs, aliases)
    return PlannedCheck(spec, table_asset, table_query(mapping, aliases), kwargs)
