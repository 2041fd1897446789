"""Resolve checks against live facts into what Great Expectations runs, or skip them.

Pure: facts (source row counts, the source's newest change, which state tables exist) are
gathered elsewhere and passed in. Skipped checks carry their reason, so a report shows
"no data" instead of a silent pass.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from psycopg import sql

from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.specs import CheckSpec, Severity, Thresholds
from mysql_pg_sync.quality.state_queries import STATE_QUERIES, render_row

# What a target with no value in the column reports as lag, so freshness fails instead of
# observing NULL; the result says "PostgreSQL has no value in <column>", not this number.
EMPTY_TARGET_LAG_SECONDS = 1e12

SMALL_TABLE_SHARE = 0.1
"""The row-count allowance is at most this share of MySQL's rows (but :data:`SMALL_TABLE_FLOOR`
rows at least): ``row_count_tolerance_rows`` alone (100) let a 100-row table lose every row."""
SMALL_TABLE_FLOOR = 5
"""Rows the allowance keeps on a tiny table, for a few changes in flight."""


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
    finished_at: datetime | None = None
    """When the run finished comparing the table (the run's end when the table's is unset)."""
    age_seconds: float | None = None
    """How long before this validation it finished (PostgreSQL's clock)."""

    def finished(self) -> str:
        """``finished 2026-11-26 02:14 UTC``."""
        if self.finished_at is None:
            return "finish time unknown"
        return f"finished {self.finished_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"

    def named(self) -> str:
        """``reconcile run 7 (finished 2026-11-26 02:14 UTC)``."""
        return f"reconcile run {self.run_id} ({self.finished()})"


@dataclass(frozen=True)
class TableFacts:
    """What the runner learned about one table before validating it."""

    source_rows: int | None = None
    source_newest: datetime | date | None = None
    state_tables: frozenset[str] = frozenset()
    target_exists: bool = True
    target_missing_columns: tuple[str, ...] = ()
    """Mapped (synced) columns the PostgreSQL table lacks: the mapping is ahead of ``ddl``."""
    target_unmapped: tuple[str, ...] = ()
    """Columns of the PostgreSQL table no mapping syncs: a table asset would show them to GE
    (``expect_table_columns_to_match_set``, say), so such a table is read through a view."""
    source_error: str | None = None
    """Why the MySQL table could not be read (missing, no privilege); None when it was."""
    freshness_error: str | None = None
    """Why MySQL's freshness column could not be read while its table could (MySQL lacks the
    column: renamed or dropped there); None when it was."""
    reconcile: ReconcileFacts | None = None
    lost_changes: str = ""
    """An unsettled capture gap in words, with the reconcile that repairs it from the side
    whose changes were lost (status.model.lost_changes_text); "" for none. Repair advice gives
    this instead of a repair from the mapping's side, which would copy stale rows over them."""
    enforced: dict[str, str] = field(default_factory=dict)
    """check_id -> which validated constraint enforces it (:mod:`.enforced`): passed unscanned."""
    backfill: str = ""
    """Why the table's row count, freshness and drift are not checked: its backfill has not
    finished (:func:`~mysql_pg_sync.quality.sync_state.backfill_reason`); "" once it has."""
    backfill_stalled: bool = False
    """Its backfill stopped moving: the row count's skip is a breach (it must not read as fine)."""
    held: str = ""
    """The stream holds the table's changes back (:func:`~mysql_pg_sync.quality.sync_state.
    hold_text`): its checks run, and a breach's hint names the hold; "" for none."""


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
    relation: tuple[str, str] | None = None
    """(schema, table) GE can validate as a table asset instead of ``query``: the target table
    when its name and every column's are lower-case identifiers (``query`` selects the columns
    under their own names then)."""
    scans: bool = False
    """``query`` returns a row per table row (or SET member). GE runs a query asset's query
    in full to learn its column names (psycopg2 then holds every row in memory), so such a
    query is validated through a view instead (:mod:`~mysql_pg_sync.quality.gx_runner`)."""
    note: str = ""
    """The detail of a passed result: what the check judged (which reconcile run, when)."""
    repair: str = ""
    """``row_count_parity``: the table's capture gap and the repair it needs, instead of the
    usual repair from the mapping's side (:attr:`TableFacts.lost_changes`)."""
    repair_side: str = ""
    """``row_count_parity``: the side a repair copies from, in words (:func:`repair_source`)."""
    held: str = ""
    """``row_count_parity``: the stream's hold on the table (:attr:`TableFacts.held`)."""
    empty_target: str = ""
    """``freshness``: the detail when PostgreSQL has no value in the column at all."""


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
    enforced: bool = False
    """True when a PostgreSQL constraint guarantees the check (``reason`` names it): passed."""


def column_aliases(mapping: TableMapping) -> dict[str, str]:
    """PostgreSQL column name -> a lower-case alias GE can address.

    GE folds column (and table) names to lower case, so ``"Name"`` or a table ``"Group"``
    cannot be validated directly; such a table is read through a view that aliases its columns
    (a table whose names all are their own aliases is validated as it is: :func:`plain_relation`).
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


_PLAIN_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def plain_relation(mapping: TableMapping, aliases: dict[str, str]) -> tuple[str, str] | None:
    """(schema, table) when GE can address the target table and all its columns by name.

    GE reflects a table asset's columns from the catalog; a query asset's it learns by running
    the query whole. Lower-case names need no alias, so most tables are table assets."""
    names = [mapping.target.schema, mapping.target.table, *aliases]
    if all(_PLAIN_IDENTIFIER.match(n) for n in names) and all(k == v for k, v in aliases.items()):
        return mapping.target.schema, mapping.target.table
    return None


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
    """(min, max) target rows: MySQL's count plus or minus the allowance.

    The allowance is the larger of the two tolerances (rows in flight on a busy table). With the
    default tolerances it is at most :data:`SMALL_TABLE_SHARE` of MySQL's rows (at least
    :data:`SMALL_TABLE_FLOOR`), so a small table cannot lose most of its rows within it; tolerances
    set in the expectations file are taken as they are. A table of more than
    :data:`SMALL_TABLE_FLOOR` rows in MySQL needs at least one in PostgreSQL, and an empty MySQL
    table tolerates only the floor (or the configured rows) in flight."""
    defaults = Thresholds()
    by_default = (tolerance_rows, tolerance_ratio) == (
        defaults.row_count_tolerance_rows,
        defaults.row_count_tolerance_ratio,
    )
    if source_rows <= 0:
        return 0, SMALL_TABLE_FLOOR if by_default else tolerance_rows
    slack = max(tolerance_rows, math.ceil(source_rows * tolerance_ratio))
    if by_default:
        slack = min(slack, max(SMALL_TABLE_FLOOR, math.ceil(source_rows * SMALL_TABLE_SHARE)))
    least = 1 if source_rows > SMALL_TABLE_FLOOR else 0
    return max(least, source_rows - slack), source_rows + slack


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
# Checks a table whose backfill has not finished would fail for rows its copy has not reached
# (reconcile skips such a table too: reconcile/backfilling.py); its key and schema checks run.
_BACKFILL_SKIPPED = ("row_count_parity", "freshness", "reconcile_drift")


def _report_ref(rec: ReconcileFacts) -> str:
    return f"; its report: {rec.report_html}" if rec.report_html else ""


_SIDE_NAMES = {"mysql": "MySQL", "postgres": "PostgreSQL"}


def repair_source(mapping: TableMapping) -> str:
    """The side a reconcile repair of ``mapping`` copies from, in words.

    Repairs copy from ``reconcile.authoritative`` whatever the direction (a row on both sides
    under last_writer_wins or version goes to the side the rule favours): on a table synced
    pg_to_mysql with authoritative mysql, that copies MySQL's rows over PostgreSQL's, the side
    the table is written on, so the hint says so and names the override."""
    side = mapping.reconcile.authoritative
    text = f"a repair copies {_SIDE_NAMES[side]}'s rows (reconcile.authoritative: {side})"
    if mapping.conflict.rule in ("last_writer_wins", "version"):
        text += f", a row on both sides the side {mapping.conflict.rule} favours"
    if mapping.direction == "pg_to_mysql" and side == "mysql":
        text += (
            "; note: this table syncs pg_to_mysql, so PostgreSQL is the side it is written on "
            "and a repair from MySQL copies MySQL's rows over PostgreSQL's: if PostgreSQL "
            'holds the right rows, repair with Params authoritative = "postgres" '
            "(`--authoritative postgres`)"
        )
    return text


def repair_how(table: str, side: str = "") -> str:
    """The reconcile run, as Params and as a command, that repairs ``table``; ``side``: the
    side it copies from (:func:`repair_source`)."""
    how = (
        f'trigger the reconcile DAG with Params tables = ["{table}"], repair on and dry_run off, '
        f"or `python -m mysql_pg_sync reconcile --tables {table} --repair --no-dry-run`"
    )
    return f"{how}; {side}" if side else how


def reconcile_drift_hint(
    table: str, rec: ReconcileFacts, lost_changes: str = "", side: str = "", held: str = ""
) -> str:
    """Which reconcile run found the drift, where its report is, and how to repair it (from
    the side whose changes a capture gap lost, when the table has one). ``side``: the side
    the mapping's repair copies from; ``held``: the stream's hold on the table."""
    where = f"drift left by reconcile run {rec.run_id}{_report_ref(rec)}"
    if held:
        where += f"; {held}"
    if lost_changes:
        return f"{where}; the table {lost_changes}"
    if rec.status == "repair_refused":
        # The same max_repairs would refuse the table's repairs again.
        return (
            f"{where}; its repairs were refused as over max_repairs: trigger the reconcile DAG "
            f'with Params tables = ["{table}"], repair on, dry_run off and a higher '
            f"max_repairs, or `python -m mysql_pg_sync reconcile --tables {table} --repair "
            "--no-dry-run --max-repairs <n>`" + (f"; {side}" if side else "")
        )
    return f"{where}; to repair it {repair_how(table, side)}"


def dead_letters_hint(table: str) -> str:
    """How to recover the table's open dead letters."""
    return (
        f'open dead letters: changes not applied; `make cli ARGS="dead-letters list --table '
        f'{table}"` shows them, fix the cause each error names, then `dead-letters retry '
        f"--table {table}` (or `dead-letters resolve --id N --note ...` for a fix by hand)"
    )


def _age(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours / 24:.1f} days" if hours >= 48 else f"{hours:.1f} hours"


def _stale_reconcile(
    spec: CheckSpec, mapping: TableMapping, rec: ReconcileFacts
) -> SkippedCheck | None:
    """A breach when the reconcile run to judge is older than ``reconcile_max_age_hours``.

    Reconcile runs nightly: a table's latest run from weeks ago means reconcile stopped
    comparing it, and "no drift" then would be that old run's word, not today's."""
    max_hours = spec.params.get("max_age_hours")
    if max_hours is None or rec.age_seconds is None or rec.age_seconds <= max_hours * 3600:
        return None
    limit = spec.kwargs.get("max_value")
    over = ""
    if limit is not None and rec.unrepaired > limit:
        over = f", more than the {limit} allowed"
    reason = (
        f"the latest {rec.named()} that compared {mapping.name} is {_age(rec.age_seconds)} old, "
        f"older than reconcile_max_age_hours ({max_hours:g} h): it left {rec.unrepaired} "
        f"unrepaired drift row(s){over}, but the drift since is unknown. Check that the "
        f"reconcile DAG runs and covers the table, or trigger it with Params tables = "
        f'["{mapping.name}"] (`python -m mysql_pg_sync reconcile --tables {mapping.name}`)'
        f"{_report_ref(rec)}"
    )
    return SkippedCheck(spec, reason, breach=True, observed=rec.unrepaired)


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
        return _stale_reconcile(spec, mapping, rec)
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
        f"the latest reconcile run {rec.run_id} failed on this table ({error}); it "
        f"{rec.finished()}; {earlier}. "
        f"Fix the cause and run reconcile again (its report has the details){_report_ref(rec)}"
    )
    return SkippedCheck(spec, reason, breach=True, observed=rec.last_good_unrepaired)


def plan_check(
    spec: CheckSpec, mapping: TableMapping, facts: TableFacts
) -> PlannedCheck | SkippedCheck:
    target = postgres.qualified(mapping.target.schema, mapping.target.table)
    table_asset = str(mapping.target)
    aliases = column_aliases(mapping)
    # GE sees exactly the mapped columns, under names it can address, either way
    relation = None if facts.target_unmapped else plain_relation(mapping, aliases)
    # a check that cannot read its table is no tunable warning: it fails, whatever its severity
    if not facts.target_exists and spec.asset != "state":
        reason = f"PostgreSQL table {table_asset} does not exist; create it with `make ddl`"
        return SkippedCheck(spec, reason, breach=True, severity="fail")
    if facts.target_missing_columns and spec.asset != "state":
        # every check reads the table through a query naming all mapped columns
        missing = ", ".join(facts.target_missing_columns)
        reason = (
            f"PostgreSQL table {table_asset} lacks mapped column(s) {missing}, so none of its "
            "checks ran; add them with `make ddl` (`ARGS=--dry-run` to see the ALTER first)"
        )
        return SkippedCheck(spec, reason, breach=True, severity="fail")
    if spec.check_id in facts.enforced:
        return SkippedCheck(spec, facts.enforced[spec.check_id], enforced=True)
    if spec.check in _SOURCE_CHECKS and facts.source_error is not None:
        reason = (
            f"MySQL table {mapping.source} could not be read ({facts.source_error}); create it, "
            "grant the sync user SELECT on it, or disable its mapping"
        )
        # fail, whatever the check's severity: this used to crash (and so fail) the whole run
        return SkippedCheck(spec, reason, breach=True, severity="fail")
    if spec.check == "freshness" and facts.freshness_error is not None:
        # the table was read (its row count stands): only this column is missing in MySQL
        column = spec.params["mysql_column"]
        reason = (
            f"MySQL column {column} of {mapping.source} could not be read "
            f"({facts.freshness_error}); if MySQL renamed or dropped it, review the mapping "
            "(`make mappings-generate` reports the change) and the table's freshness_column "
            "in include/expectations"
        )
        return SkippedCheck(spec, reason, breach=True, severity="fail")
    if facts.backfill and spec.check in _BACKFILL_SKIPPED:
        if facts.backfill_stalled and spec.check == "row_count_parity":  # one breach a table
            return SkippedCheck(spec, facts.backfill, breach=True, severity="fail")
        return SkippedCheck(spec, facts.backfill)
    if spec.check == "row_count_parity":
        if facts.source_rows is None:
            return SkippedCheck(spec, "source row count unavailable")
        low, high = row_count_bounds(
            facts.source_rows, spec.params["tolerance_rows"], spec.params["tolerance_ratio"]
        )
        bounds: dict[str, Any] = {"min_value": low, "max_value": high}
        return PlannedCheck(
            spec,
            table_asset,
            table_query(mapping, aliases),
            bounds,
            relation=relation,
            scans=True,
            source_rows=facts.source_rows,
            repair=facts.lost_changes,
            repair_side=repair_source(mapping),
            held=facts.held,
            # the runner replaces it with both counts (parity.parity_passed) once GE counted
            note=f"MySQL has {facts.source_rows:,} rows; tolerated {low:,} to {high:,}",
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
            scans=True,
        )
    if spec.asset == "freshness":
        if facts.source_newest is None:
            return SkippedCheck(spec, f"source has no value in {spec.params['mysql_column']}")
        query = _freshness_query(
            target, spec.column or "", spec.params["kind"], facts.source_newest
        )
        # a passed result says what its number is: GE's "observed 0.0" alone has no unit
        note = (
            f"observed: seconds PostgreSQL's newest {spec.column} is behind MySQL's newest "
            f"{spec.params['mysql_column']} ({facts.source_newest}); at most "
            f"{spec.kwargs.get('max_value')} s allowed"
        )
        empty = (
            f"PostgreSQL has no value in {spec.column}, while MySQL's newest "
            f"{spec.params['mysql_column']} is {facts.source_newest}: a fail whatever the "
            "check's severity"
        )
        return PlannedCheck(
            spec,
            f"{table_asset}:freshness",
            query,
            dict(spec.kwargs),
            facts.held,
            note=note,
            empty_target=f"{empty}; {facts.held}" if facts.held else empty,
        )
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
        hint = note = ""
        if spec.check == "reconcile_drift" and facts.reconcile is not None:
            hint = reconcile_drift_hint(
                mapping.name,
                facts.reconcile,
                facts.lost_changes,
                repair_source(mapping),
                facts.held,
            )
            note = f"judged {facts.reconcile.named()}"
        if spec.check == "dead_letters":
            hint = dead_letters_hint(mapping.name)
        return PlannedCheck(spec, f"{table_asset}:state", query, state_kwargs, hint, note=note)
    kwargs = aliased_kwargs(spec.kwargs, aliases)
    return PlannedCheck(
        spec,
        table_asset,
        table_query(mapping, aliases),
        kwargs,
        relation=relation,
        scans=True,
    )
