"""Reconcile runs, table results, drift rows and repairs in the state schema (030_reconcile.sql)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mysql_pg_sync.backfill.keys import KeyEncodingError, encode_value
from mysql_pg_sync.reconcile.diff import RowDiff
from mysql_pg_sync.reconcile.repair import Repair
from mysql_pg_sync.state.schema import ensure_schema

Conn = psycopg.Connection[Any]


def json_safe(value: Any) -> Any:
    """A JSON value for a key or row value (backfill's key encoding, plus floats and sets)."""
    if isinstance(value, float):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v) for v in value]
    if isinstance(value, uuid.UUID | dt.time):
        return str(value)
    try:
        return encode_value(value)
    except KeyEncodingError:
        return str(value)


def encode_raw_key(raw_key: Sequence[Any]) -> list[Any]:
    return [json_safe(v) for v in raw_key]


def start_run(conn: Conn, params: dict[str, Any], trigger: str = "") -> int:
    ensure_schema(conn)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO mps_sync.reconcile_runs (trigger, params) VALUES (%s, %s) "
            "RETURNING run_id",
            (trigger, Jsonb(params)),
        ).fetchone()
    assert row is not None
    return int(row[0])


def start_table(conn: Conn, run_id: int, source_table: str, target_table: str) -> None:
    """(Re)start a table in a run: a retried task replaces its earlier partial result."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM mps_sync.reconcile_drift WHERE run_id = %s AND source_table = %s",
            (run_id, source_table),
        )
        conn.execute(
            """
            INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table)
            VALUES (%s, %s, %s)
            ON CONFLICT (run_id, source_table) DO UPDATE
            SET status = 'running', error = NULL, started_at = now(), finished_at = NULL
            """,
            (run_id, source_table, target_table),
        )


def record_drift(conn: Conn, run_id: int, source_table: str, diffs: Sequence[RowDiff]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO mps_sync.reconcile_drift (run_id, source_table, key, drift, columns)
            VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
            """,
            [
                (run_id, source_table, Jsonb(encode_raw_key(d.raw_key)), d.drift, list(d.columns))
                for d in diffs
            ],
        )


def record_repairs(
    conn: Conn, run_id: int, source_table: str, repairs: Sequence[Repair], status: str
) -> list[int]:
    """Insert repairs with a first status; returns their ids (same order)."""
    ids = []
    with conn.transaction():
        for r in repairs:
            row = conn.execute(
                """
                INSERT INTO mps_sync.reconcile_repairs
                    (run_id, source_table, key, action, write_to, decided_by, status)
                VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING repair_id
                """,
                (
                    run_id,
                    source_table,
                    Jsonb(encode_raw_key(r.raw_key)),
                    r.action,
                    r.write_to,
                    r.decided_by,
                    status,
                ),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
    return ids


def finish_repair(conn: Conn, repair_id: int, applied: bool, error: str | None) -> None:
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_repairs
            SET status = %s, error = %s, finished_at = now() WHERE repair_id = %s
            """,
            ("applied" if applied else "failed", error, repair_id),
        )


def finish_table(conn: Conn, run_id: int, source_table: str, result: dict[str, Any]) -> None:
    """Store a table's result (the dict :func:`..run.TableResult.as_dict` returns)."""
    drift = result.get("drift", {})
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_tables SET
                status = %s, rows_mysql = %s, rows_postgres = %s, segments_compared = %s,
                segments_mismatched = %s, suspects = %s, in_flight = %s, hash_only = %s,
                drift_found = %s, drift_repaired = %s, missing = %s, extra = %s, different = %s,
                detail = %s, error = %s, finished_at = now()
            WHERE run_id = %s AND source_table = %s
            """,
            (
                result["status"],
                result.get("rows_mysql"),
                result.get("rows_postgres"),
                result.get("segments_compared"),
                result.get("segments_mismatched"),
                result.get("suspects"),
                result.get("in_flight"),
                result.get("hash_only"),
                sum(drift.values()),
                result.get("repairs", {}).get("applied", 0),
                drift.get("missing", 0),
                drift.get("extra", 0),
                drift.get("different", 0),
                Jsonb(json.loads(json.dumps(result, default=_default))),
                result.get("error"),
                run_id,
                source_table,
            ),
        )


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    return json_safe(value)


def finish_run(
    conn: Conn, run_id: int, status: str, report_json: str | None, report_html: str | None
) -> None:
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_runs
            SET status = %s, finished_at = now(), report_json = %s, report_html = %s
            WHERE run_id = %s
            """,
            (status, report_json, report_html, run_id),
        )


def load_run(conn: Conn, run_id: int) -> dict[str, Any]:
    """The run and each table's stored result, for the report."""
    run = conn.execute(
        "SELECT run_id, trigger, status, params, started_at, finished_at "
        "FROM mps_sync.reconcile_runs WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    if run is None:
        raise KeyError(f"no reconcile run {run_id}")
    tables = conn.execute(
        "SELECT detail, status, error, started_at, finished_at FROM mps_sync.reconcile_tables "
        "WHERE run_id = %s ORDER BY source_table",
        (run_id,),
    ).fetchall()
    return {
        "run_id": run[0],
        "trigger": run[1],
        "status": run[2],
        "params": run[3],
        "started_at": run[4].isoformat(),
        "finished_at": run[5].isoformat() if run[5] else None,
        "tables": [{**(t[0] or {}), "status": t[1], "error": t[2]} for t in tables],
    }
