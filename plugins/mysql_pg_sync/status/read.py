"""Read the ``mps_sync`` state tables (and Kafka Connect) into a :class:`StateSnapshot`.

Each section is read on its own: a state table another feature has not created yet, or a
service that does not answer, leaves that section ``None`` ("no data") with a note, and the
page still renders everything else.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from mysql_pg_sync.cdc.connect_client import ConnectClient, ConnectorNotFound
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cdc.heartbeat import ALIVE_WITHIN_S
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.quality.results import outcome_of
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.status.backfill_progress import BACKFILL_PROGRESS_SQL
from mysql_pg_sync.status.gaps import LOST_CHANGES_SQL
from mysql_pg_sync.status.model import (
    STALE_AFTER_S,
    ConnectorState,
    Row,
    StateSnapshot,
    combined_state,
)

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 3.0

SECTION_QUERIES: dict[str, str] = {
    "table_state": """
        SELECT source_table, state, updated_at,
               extract(epoch FROM now() - updated_at)::float8 AS age_seconds
        FROM mps_sync.table_state""",
    "backfill": BACKFILL_PROGRESS_SQL,
    # The lag of the newest batch that applied rows, with that batch's age: taking each
    # column's max over both directions paired one direction's old lag with the other's age.
    # The rate adds up the directions whose last batch that applied rows is as recent as the
    # newest one's (within STALE_AFTER_S): a direction that stopped days ago kept its last
    # batch's rate, which was added to the other's as if it still flowed (and a direction of
    # only dropped echoes doubled a one-way flow).
    "stream": f"""
        SELECT DISTINCT ON (source_table) source_table, last_lag_ms / 1000.0 AS lag_seconds,
               coalesce(
                   sum(events_per_s) FILTER (
                       WHERE last_applied_at
                             >= newest - interval '{int(STALE_AFTER_S)} seconds')
                       OVER (PARTITION BY source_table),
                   sum(events_per_s) OVER (PARTITION BY source_table)) AS events_per_second,
               last_applied_at AS updated_at,
               extract(epoch FROM now() - last_applied_at)::float8 AS age_seconds
        FROM (SELECT *, max(last_applied_at) OVER (PARTITION BY source_table) AS newest
              FROM mps_sync.stream_metrics) m
        ORDER BY source_table, last_applied_at DESC NULLS LAST""",
    "reconcile": """
        SELECT DISTINCT ON (t.source_table) t.source_table, t.run_id, t.status, t.started_at,
               t.finished_at, t.drift_found, t.drift_repaired, r.report_html AS report_path
        FROM mps_sync.reconcile_tables t
        JOIN mps_sync.reconcile_runs r USING (run_id)
        -- skipped: not compared (backfilling), so no reading of the table at all
        WHERE t.status NOT IN ('running', 'skipped')
        ORDER BY t.source_table, t.run_id DESC""",
    "holds": """
        SELECT source_table, incoming_side, reason, since FROM mps_sync.stream_holds""",
    # changes Kafka deleted before the stream applied them, or a connector never captured (its
    # lost position was reset), that no reconcile of the table started since has found in
    # sync, or repaired from the side that kept them (the gap's own side)
    "lost_changes": LOST_CHANGES_SQL,
    # one row: runs stamping a heartbeat now, and how long ago the last run ended
    "consumers": f"""
        SELECT count(*) FILTER (
                   WHERE finished_at IS NULL AND coalesce(heartbeat_at, started_at)
                         > now() - interval '{int(ALIVE_WITHIN_S)} seconds') AS running,
               extract(epoch FROM now() - max(finished_at))::float8 AS finished_age_seconds,
               extract(epoch FROM now() - max(started_at))::float8 AS started_age_seconds,
               (SELECT summary->>'error' FROM mps_sync.stream_runs
                ORDER BY started_at DESC LIMIT 1) AS last_error
        FROM mps_sync.stream_runs""",
    # the newest drift per direction, beside the direction's last batch that applied rows:
    # status.model.unsynced_columns decides whether it still holds
    "mapping_drift": """
        SELECT DISTINCT ON (d.source_table, d.incoming_side) d.source_table, d.incoming_side,
               d.unknown_columns, d.last_seen, m.last_applied_at
        FROM mps_sync.mapping_drift d
        LEFT JOIN mps_sync.stream_metrics m USING (source_table, incoming_side)
        ORDER BY d.source_table, d.incoming_side, d.last_seen DESC""",
    "conflicts_24h": """
        SELECT source_table, count(*) AS n FROM mps_sync.conflicts
        WHERE decided_at > now() - interval '24 hours' GROUP BY source_table""",
    # open ones, of any age: a dead letter is a change not applied until retried or resolved
    "dead_letters": """
        SELECT source_table, count(*) AS n FROM mps_sync.dead_letters
        WHERE resolved_at IS NULL GROUP BY source_table""",
    "quality": """
        SELECT r.source_table, r.run_id, r.check_id, r.outcome, r.severity, q.report_path,
               q.data_docs_index, q.finished_at
        FROM mps_sync.dq_results r
        JOIN mps_sync.dq_runs q USING (run_id)
        WHERE r.run_id = (SELECT r2.run_id FROM mps_sync.dq_results r2
                          JOIN mps_sync.dq_runs q2 USING (run_id)
                          WHERE r2.source_table = r.source_table
                          ORDER BY q2.finished_at DESC LIMIT 1)""",
}


def _rows(conn: psycopg.Connection[Any], name: str, notes: list[str]) -> list[Row] | None:
    try:
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(SECTION_QUERIES[name])
            return list(cur.fetchall())
    except psycopg.DatabaseError as exc:
        # Missing table (feature not deployed yet), renamed column, no privilege: the other
        # sections still render.
        log.warning("status section %s unavailable: %s", name, exc)
        notes.append(f"{name}: no data ({exc.diag.message_primary or exc})")
        return None


def _by_table(rows: list[Row] | None) -> dict[str, Row] | None:
    return None if rows is None else {str(r["source_table"]): r for r in rows}


def _counts(rows: list[Row] | None) -> dict[str, int] | None:
    return None if rows is None else {str(r["source_table"]): int(r["n"]) for r in rows}


def _grouped(rows: list[Row] | None) -> dict[str, list[Row]] | None:
    if rows is None:
        return None
    grouped: dict[str, list[Row]] = {}
    for r in rows:
        grouped.setdefault(str(r["source_table"]), []).append(r)
    return grouped


def _quality(rows: list[Row] | None) -> dict[str, Row] | None:
    grouped = _grouped(rows)
    if grouped is None:
        return None
    return {
        table: {
            **checks[0],
            "outcome": outcome_of((c["outcome"], c["severity"]) for c in checks),
            "breaches": sum(c["outcome"] in ("failed", "error") for c in checks),
            "breached_checks": breached_checks(checks),
        }
        for table, checks in grouped.items()
    }


def breached_checks(checks: list[Row]) -> list[str]:
    """Ids of the checks that failed or errored, fail-severity ones first."""
    breached = [c for c in checks if c["outcome"] in ("failed", "error")]
    breached.sort(key=lambda c: (c["severity"] != "fail", str(c["check_id"])))
    return [str(c["check_id"]) for c in breached]


SLOT_SQL = """
    SELECT s.slot_name, s.active, s.wal_status,
           pg_wal_lsn_diff(pg_current_wal_lsn(), s.restart_lsn)::float8 AS retained_bytes,
           s.safe_wal_size::float8 AS safe_bytes
    FROM pg_replication_slots s WHERE s.slot_name = %s"""


def read_slot(conn: psycopg.Connection[Any], slot: str, notes: list[str]) -> Row | None:
    """Our PostgreSQL capture slot: how much WAL it holds back, and how much more it may hold
    before PostgreSQL invalidates it (``safe_bytes``; None without max_slot_wal_keep_size)."""
    try:
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(SLOT_SQL, (slot,))
            return cur.fetchone()
    except psycopg.DatabaseError as exc:
        notes.append(f"replication slot {slot}: {str(exc).strip()}")
        return None


def our_connectors(settings: ConnectorSettings | None = None) -> dict[str, str]:
    """Connector name -> captured side, named as the connectors DAG names them."""
    settings = settings or ConnectorSettings.from_env()
    return {settings.mysql_connector: "mysql", settings.postgres_connector: "postgres"}


def read_connectors(
    connect_url: str, notes: list[str], names: dict[str, str] | None = None
) -> tuple[ConnectorState, ...] | None:
    """The state of our connectors (``names``: name -> side), tasks included.

    Other connectors sharing the Connect cluster are not ours and do not colour our tables; one
    of ours that is not deployed is simply absent ("none").
    """
    names = names if names is not None else our_connectors()
    try:
        client = ConnectClient(connect_url, timeout_s=CONNECT_TIMEOUT_S, retries=0)
        states = []
        for name, side in names.items():
            try:
                status = client.status(name)
            except ConnectorNotFound:
                continue
            state = combined_state(status.state, (t.state for t in status.tasks))
            states.append(ConnectorState(name, side, state))
        return tuple(states)
    except Exception as exc:  # the page must render when Connect is down, saying so
        notes.append(f"connectors: {exc}")
        return tuple(ConnectorState(name, side, "UNREACHABLE") for name, side in names.items())


def read_snapshot(endpoints: Endpoints, *, with_connectors: bool = True) -> StateSnapshot:
    notes: list[str] = []
    connectors = read_connectors(endpoints.connect_url, notes) if with_connectors else None
    try:
        with pg_connect(endpoints.postgres, autocommit=True) as conn:
            raw = {name: _rows(conn, name, notes) for name in SECTION_QUERIES}
            slot = read_slot(conn, ConnectorSettings.from_env().slot_name, notes)
    except psycopg.Error as exc:
        # Down, refused, wrong password: a page saying so beats an HTTP 500.
        reason = f"{endpoints.postgres.redacted()}: {str(exc).strip() or type(exc).__name__}"
        log.warning("status page: state database unreachable: %s", reason)
        return StateSnapshot(
            connectors=connectors,
            notes=tuple(notes),
            error=f"state database unreachable: {reason}",
        )
    return StateSnapshot(
        table_state=_by_table(raw["table_state"]),
        backfill=_by_table(raw["backfill"]),
        stream=_by_table(raw["stream"]),
        reconcile=_by_table(raw["reconcile"]),
        holds=_by_table(raw["holds"]),
        lost_changes=_by_table(raw["lost_changes"]),
        slot=slot,
        consumers=raw["consumers"][0] if raw["consumers"] else None,
        conflicts_24h=_counts(raw["conflicts_24h"]),
        dead_letters=_counts(raw["dead_letters"]),
        quality=_quality(raw["quality"]),
        mapping_drift=_grouped(raw["mapping_drift"]),
        connectors=connectors,
        notes=tuple(notes),
    )
