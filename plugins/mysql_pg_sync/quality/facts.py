"""Gather the live facts checks are resolved against: source counts and newest changes (MySQL),
which ``mps_sync`` state tables exist and each table's latest reconcile (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import MySQLdb
from psycopg.rows import dict_row

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import for_side
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.enforced import enforced_checks
from mysql_pg_sync.quality.plan import ReconcileFacts, TableFacts
from mysql_pg_sync.quality.specs import CheckSpec
from mysql_pg_sync.quality.sync_state import (
    UNFINISHED_STATES,
    backfill_reason,
    backfill_stalled,
    hold_text,
)
from mysql_pg_sync.settings import Endpoints, reports_dir
from mysql_pg_sync.state.schema import STATE_SCHEMA, ensure_schema
from mysql_pg_sync.status.backfill_progress import read_backfill_progress
from mysql_pg_sync.status.gaps import open_gaps
from mysql_pg_sync.status.model import Row, lost_changes_text, unsettled_gap


def existing_state_tables(pg_conn: Any) -> frozenset[str]:
    rows = pg_conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (STATE_SCHEMA,),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def existing_target_tables(pg_conn: Any) -> frozenset[str]:
    """``schema.table`` of every PostgreSQL table and view the connection can see."""
    rows = pg_conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
    ).fetchall()
    return frozenset(r[0] for r in rows)


def target_columns(pg_conn: Any, targets: Sequence[str]) -> dict[str, frozenset[str]]:
    """``schema.table`` -> the names of its columns, for the tables in ``targets``."""
    rows = pg_conn.execute(
        "SELECT table_schema || '.' || table_name, column_name FROM information_schema.columns"
        " WHERE table_schema || '.' || table_name = ANY(%s)",
        (list(targets),),
    ).fetchall()
    found: dict[str, set[str]] = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return {table: frozenset(columns) for table, columns in found.items()}


# A lost or refused MySQL connection fails the run (the task retries); any other error (a
# missing table, a missing privilege) is that table's problem and is reported as its breach.
_CONNECTION_ERRORS = frozenset({2002, 2003, 2006, 2013, 2055})


def reconcile_facts(
    pg_conn: Any, tables: Sequence[str], up_to_run: int | None = None
) -> dict[str, ReconcileFacts]:
    """Each table's row in its latest finished reconcile run (at most ``up_to_run``: the run
    that triggered this validation), with the latest earlier run that did compare it, and when
    that row finished (its age by PostgreSQL's clock: ``reconcile_drift`` says which run it
    judged, and fails one older than ``reconcile_max_age_hours``)."""

    def latest(statuses_excluded: list[str]) -> dict[str, tuple[Any, ...]]:
        rows = pg_conn.execute(
            """
            SELECT DISTINCT ON (t.source_table) t.source_table, t.run_id, t.status, t.error,
                   t.drift_found - t.drift_repaired, r.report_html,
                   coalesce(t.finished_at, r.finished_at),
                   extract(epoch FROM now() - coalesce(t.finished_at, r.finished_at))::float8
            FROM mps_sync.reconcile_tables t
            JOIN mps_sync.reconcile_runs r USING (run_id)
            WHERE t.source_table = ANY(%s) AND t.status <> ALL(%s)
              AND (%s::bigint IS NULL OR t.run_id <= %s::bigint)
            ORDER BY t.source_table, t.run_id DESC
            """,
            (list(tables), statuses_excluded, up_to_run, up_to_run),
        ).fetchall()
        return {r[0]: r[1:] for r in rows}

    # a table skipped while backfilling was not compared: that run says nothing of its drift
    # nor of its age, so the latest run that did compare it (or failed to) is judged
    finished = latest(["running", "skipped"])
    good = latest(["running", "error", "skipped"])
    facts = {}
    for table, (run_id, status, error, unrepaired, report_html, at, age) in finished.items():
        earlier = good.get(table)
        if report_html is None:
            # Stored when the run finishes; until then, where the service writes it by default.
            report_html = str(reports_dir() / f"reconcile-{run_id}.html")
        facts[table] = ReconcileFacts(
            run_id=int(run_id),
            status=str(status),
            error=error,
            unrepaired=int(unrepaired),
            last_good_run_id=int(earlier[0]) if earlier else None,
            last_good_unrepaired=int(earlier[3]) if earlier else None,
            report_html=str(report_html),
            finished_at=at,
            age_seconds=float(age) if age is not None else None,
        )
    return facts


def unfinished_backfills(
    pg_conn: Any, tables: Sequence[str], state_tables: frozenset[str]
) -> dict[str, tuple[str, bool]]:
    """Table -> (why its row count, freshness and drift are not checked, whether its backfill
    stopped moving), for each table whose backfill has not finished
    (:func:`~mysql_pg_sync.quality.sync_state.backfill_reason`)."""
    if "table_state" not in state_tables:
        return {}
    rows = pg_conn.execute(
        "SELECT source_table, state FROM mps_sync.table_state "
        "WHERE source_table = ANY(%s) AND state = ANY(%s)",
        (list(tables), list(UNFINISHED_STATES)),
    ).fetchall()
    planned = {"backfill_tables", "backfill_chunks"} <= state_tables
    found = {}
    for table, state in rows:
        progress = read_backfill_progress(pg_conn, table) if planned else None
        found[table] = (
            backfill_reason(table, state, progress),
            backfill_stalled(state, progress),
        )
    return found


def stream_holds(pg_conn: Any, tables: Sequence[str]) -> dict[str, str]:
    """Table -> the stream's holds on it in words (:func:`.sync_state.hold_text`)."""
    with pg_conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            "SELECT source_table, incoming_side, reason, since FROM mps_sync.stream_holds "
            "WHERE source_table = ANY(%s) ORDER BY source_table, incoming_side",
            (list(tables),),
        )
        found: dict[str, list[Row]] = {}
        for row in cur.fetchall():
            found.setdefault(str(row["source_table"]), []).append(row)
    return {table: hold_text(rows) for table, rows in found.items()}


# MySQL's "Unknown column": the table was read, the freshness column is not in it.
_UNKNOWN_COLUMN = 1054


def source_facts(mysql_conn: Any, mapping: TableMapping, specs: Sequence[CheckSpec]) -> TableFacts:
    """Row count and newest freshness value of the MySQL table, for the checks that need them.

    A freshness column MySQL lacks is that check's error only: the row count still stands."""
    dialect = for_side("mysql")
    table = dialect.qualified(mapping.source.db, mapping.source.table)
    wanted = {s.check for s in specs}
    cursor = mysql_conn.cursor()
    rows: int | None = None
    newest = None
    try:
        if "row_count_parity" in wanted:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            rows = int(cursor.fetchone()[0])
        fresh = next((s for s in specs if s.check == "freshness"), None)
        if fresh is not None:
            column = dialect.quote_ident(fresh.params["mysql_column"])
            try:
                cursor.execute(f"SELECT MAX({column}) FROM {table}")
            except MySQLdb.Error as exc:
                if not exc.args or exc.args[0] != _UNKNOWN_COLUMN:
                    raise
                return TableFacts(source_rows=rows, freshness_error=_mysql_error(exc))
            newest = cursor.fetchone()[0]
    finally:
        cursor.close()
    return TableFacts(source_rows=rows, source_newest=newest)


def _mysql_error(exc: MySQLdb.Error) -> str:
    code = exc.args[0] if exc.args else None
    message = exc.args[1] if len(exc.args) > 1 else str(exc)
    return f"MySQL error {code}: {message}"


def _source_facts_or_error(
    mysql_conn: Any, mapping: TableMapping, specs: Sequence[CheckSpec]
) -> TableFacts:
    try:
        return source_facts(mysql_conn, mapping, specs)
    except MySQLdb.Error as exc:
        if exc.args and exc.args[0] in _CONNECTION_ERRORS:
            raise
        return TableFacts(source_error=_mysql_error(exc))


def gather_facts(
    endpoints: Endpoints,
    mappings: Sequence[TableMapping],
    specs: Sequence[CheckSpec],
    reconcile_run: int | None = None,
) -> dict[str, TableFacts]:
    """Facts for every table, keyed by mapping name; one connection per database.

    ``reconcile_run``: the reconcile run that triggered this validation; later runs are not
    looked at, so the checks judge what that run found."""
    with pg_connect(endpoints.postgres, autocommit=True) as pg:
        if existing_state_tables(pg):
            ensure_schema(pg)  # the state queries read the current columns of their tables
        state_tables = existing_state_tables(pg)
        targets = existing_target_tables(pg)
        columns = target_columns(pg, [str(m.target) for m in mappings])
        reconciled = (
            reconcile_facts(pg, [m.name for m in mappings], reconcile_run)
            if "reconcile_tables" in state_tables
            else {}
        )
        by_table: dict[str, list[CheckSpec]] = {}
        for spec in specs:
            by_table.setdefault(spec.table, []).append(spec)
        enforced = {
            m.name: enforced_checks(pg, m, by_table.get(m.name, []))
            for m in mappings
            if str(m.target) in targets
        }
        names = [m.name for m in mappings]
        gaps = open_gaps(pg, names) if "stream_gaps" in state_tables else {}
        backfills = unfinished_backfills(pg, names, state_tables)
        holds = stream_holds(pg, names) if "stream_holds" in state_tables else {}
    facts: dict[str, TableFacts] = {}
    conn = mysql_connect(endpoints.mysql, autocommit=True)
    try:
        for mapping in mappings:
            found = _source_facts_or_error(conn, mapping, by_table.get(mapping.name, []))
            facts[mapping.name] = TableFacts(
                source_rows=found.source_rows,
                source_newest=found.source_newest,
                source_error=found.source_error,
                freshness_error=found.freshness_error,
                state_tables=state_tables,
                target_exists=str(mapping.target) in targets,
                target_missing_columns=tuple(
                    c.pg_name
                    for c in mapping.synced_columns()
                    if str(mapping.target) in targets
                    and c.pg_name not in columns.get(str(mapping.target), frozenset())
                ),
                target_unmapped=tuple(
                    sorted(
                        columns.get(str(mapping.target), frozenset())
                        - {c.pg_name for c in mapping.synced_columns()}
                    )
                ),
                reconcile=reconciled.get(mapping.name),
                lost_changes=lost_changes_text(unsettled_gap(gaps.get(mapping.name), mapping)),
                enforced=enforced.get(mapping.name, {}),
                backfill=backfills.get(mapping.name, ("", False))[0],
                backfill_stalled=backfills.get(mapping.name, ("", False))[1],
                held=holds.get(mapping.name, ""),
            )
    finally:
        conn.close()
    return facts
