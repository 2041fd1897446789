"""`connectors reset_lost_positions`: the recovery of a connector whose stored position is gone.

MySQL purges binlogs after ``binlog_expire_logs_seconds``; PostgreSQL invalidates a slot that
falls ``max_slot_wal_keep_size`` behind, and someone may drop it. A connector stopped for longer
then fails at every restart: its position is no longer on the server. The way out is to forget
the position, so it captures from now on (the MySQL source re-reads the schema, the PostgreSQL
source gets a new slot), and to reconcile the tables, because the changes in between never
reached Kafka. This does the first part for each of our connectors that failed so, records the
gap for each table it captures (``status`` shows them red until a reconcile of each finishes in
sync or repaired), and says which reconcile to run: the side that lost nothing of the gap, the
one whose capture stopped, holds every change of it.
"""

from __future__ import annotations

import logging
from typing import Any

from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc.connect_client import ConnectorStatus
from mysql_pg_sync.cdc.connector_actions import (
    ConnectorContext,
    apply,
    drop_replication_slot,
    existing,
    render,
)
from mysql_pg_sync.cdc.metrics import record_capture_gap
from mysql_pg_sync.cdc.preflight import postgres as postgres_preflight
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.state.schema import ensure_schema

log = logging.getLogger(__name__)


def gap_reason(connector: str, side: str) -> str:
    return (
        f"the {side} connector {connector} could not resume: its stored position was gone "
        "from the server (or the binlog held an event there Debezium cannot read), so it was "
        "reset and captures from then on; the table's changes made "
        "between its last captured change and the reset never reached Kafka. Run the reconcile "
        f"DAG on it with repair, dry_run off and authoritative {side} ({side} holds every "
        "change of the gap)"
    )


def reset_lost_positions(ctx: ConnectorContext) -> dict[str, Any]:
    """Reset the position of each of our connectors whose position the server no longer has,
    apply the connectors again, record the capture gaps; what was done, and the reconcile to
    run per side. The gaps are recorded before anything is reset: a reset cannot be undone,
    and a failure after it must not leave the gap unrecorded."""
    client = ctx.client()
    rendered = {c.name: c for c in render(ctx)}
    reset: dict[str, list[str]] = {}
    for name in existing(ctx, client):
        side = "mysql" if name == ctx.settings.mysql_connector else "postgres"
        why = _lost(ctx, client.status(name), side)
        if why is None:
            continue
        connector = rendered.get(name)
        tables = list(connector.tables) if connector is not None else []
        names = [
            ctx.mappings.by_source(t).name if side == "mysql" else ctx.mappings.by_target(t).name
            for t in tables
        ]
        with pg_connect(ctx.endpoints.postgres) as conn:
            ensure_schema(conn)
            for table in names:
                record_capture_gap(conn, table, side, gap_reason(name, side))
        log.warning("%s: %s; resetting its position", name, why)
        lifecycle.stop(client, name, timeout_s=ctx.timeout_s)
        client.reset_offsets(name)
        if side == "postgres":
            _drop_lost_slot(ctx)
        reset[side] = names
    if not reset:
        return {
            "reset": {},
            "note": "no connector of ours has lost its position on the server; nothing was "
            "reset (`connectors health` restarts other failures)",
        }
    applied = {r.name: r.status.summary() for r in apply(ctx)}
    return {
        "reset": reset,
        "applied": applied,
        "next": [
            f"reconcile --tables {' '.join(tables)} --repair --no-dry-run --authoritative {side}"
            for side, tables in reset.items()
            if tables
        ],
    }


def _lost(ctx: ConnectorContext, status: ConnectorStatus, side: str) -> str | None:
    """Why the connector's stored position is gone from the server, or None. An invalidated
    PostgreSQL slot fails no task: Debezium waits for a valid slot, RUNNING without tasks."""
    if status.is_failed and lifecycle.lost_position(status.failure_trace()):
        return (
            "it cannot resume from its stored position: gone from the server, or an event "
            "there Debezium cannot read (Connect's trace says which)"
        )
    if side == "postgres":
        with pg_connect(ctx.endpoints.postgres, autocommit=True) as conn:
            wal_status = postgres_preflight.slot_wal_status(conn, ctx.settings.slot_name)
        if wal_status == "lost":
            return f"its replication slot {ctx.settings.slot_name} was invalidated"
    return None


def _drop_lost_slot(ctx: ConnectorContext) -> None:
    """An invalidated slot cannot stream again: drop it, and `apply` makes a new one."""
    with pg_connect(ctx.endpoints.postgres, autocommit=True) as conn:
        wal_status = postgres_preflight.slot_wal_status(conn, ctx.settings.slot_name)
    if wal_status == "lost":
        drop_replication_slot(ctx.endpoints.postgres, ctx.settings.slot_name, ctx.timeout_s)
