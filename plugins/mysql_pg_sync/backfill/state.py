"""Backfill state in ``mps_sync`` (PostgreSQL): table plans, chunk states, runs, table states."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mysql_pg_sync.backfill.keys import KeyEncodingError, decode_key, encode_key, encode_value
from mysql_pg_sync.backfill.plan import ChunkRef, ChunkSpec, KeyStrategy
from mysql_pg_sync.cdc.handoff import HANDOFF_LOCK_CLASS

TableState = str  # new | backfilling | streaming | paused | failed (000_tables.sql)


@dataclass(frozen=True)
class TablePlan:
    source_table: str
    target_table: str
    key_columns: tuple[str, ...]
    strategy: KeyStrategy
    reader: str
    chunk_rows: int


@dataclass(frozen=True)
class ChunkResult:
    rows: int  # copied
    bytes: int
    duration_s: float
    reader: str
    rejected: int = 0  # left out, recorded in mps_sync.backfill_rejects
    # rows of earlier chunks brought to MySQL's current state: their copy held a unique value
    # this chunk's rows have now (backfill.unique_refresh)
    refreshed: int = 0


REJECTS_TABLE = "mps_sync.backfill_rejects"  # 060_backfill_rejects.sql


def has_state(conn: psycopg.Connection[Any]) -> bool:
    """Whether the backfill's state tables exist (a dry run reads them but never creates them)."""
    row = conn.execute(
        "SELECT to_regclass('mps_sync.backfill_tables') IS NOT NULL "
        "AND to_regclass('mps_sync.backfill_chunks') IS NOT NULL"
    ).fetchone()
    return bool(row and row[0])


def load_plan(conn: psycopg.Connection[Any], source_table: str) -> TablePlan | None:
    row = conn.execute(
        "SELECT source_table, target_table, key_columns, strategy, reader, chunk_rows "
        "FROM mps_sync.backfill_tables WHERE source_table = %s",
        (source_table,),
    ).fetchone()
    if row is None:
        return None
    return TablePlan(row[0], row[1], tuple(row[2]), row[3], row[4], int(row[5]))


def save_plan(conn: psycopg.Connection[Any], plan: TablePlan, chunks: Sequence[ChunkSpec]) -> None:
    """Replace the table's plan and chunks (their states start at ``planned``)."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM mps_sync.backfill_tables WHERE source_table = %s", (plan.source_table,)
        )
        conn.execute(
            "INSERT INTO mps_sync.backfill_tables "
            "(source_table, target_table, key_columns, strategy, reader, chunk_rows) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (
                plan.source_table,
                plan.target_table,
                list(plan.key_columns),
                plan.strategy,
                plan.reader,
                plan.chunk_rows,
            ),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO mps_sync.backfill_chunks "
                "(source_table, seq, lower_key, upper_key, est_rows) VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        c.table,
                        c.seq,
                        _jsonb(encode_key(c.lower)),
                        _jsonb(encode_key(c.upper)),
                        c.est_rows,
                    )
                    for c in chunks
                ],
            )


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def load_chunk(conn: psycopg.Connection[Any], ref: ChunkRef) -> tuple[ChunkSpec, str]:
    """The chunk's range and its current state."""
    row = conn.execute(
        "SELECT lower_key, upper_key, state FROM mps_sync.backfill_chunks "
        "WHERE source_table = %s AND seq = %s",
        ref,
    ).fetchone()
    if row is None:
        raise LookupError(f"chunk {ref[0]} #{ref[1]} is not planned; run the plan step first")
    return ChunkSpec(ref[0], ref[1], decode_key(row[0]), decode_key(row[1])), row[2]


def pending_chunks(conn: psycopg.Connection[Any], tables: Iterable[str]) -> list[ChunkRef]:
    """Chunks not yet done, table by table in the given order."""
    return list(pending_fill(conn, tables))


def pending_fill(conn: psycopg.Connection[Any], tables: Iterable[str]) -> dict[ChunkRef, float]:
    """Chunks not yet done, table by table in the given order, each with its estimated rows
    over its table's chunk target (1.0 when a plan from before the estimates has none)."""
    fill: dict[ChunkRef, float] = {}
    for table in tables:
        rows = conn.execute(
            "SELECT c.seq, c.est_rows::float8 / greatest(t.chunk_rows, 1) "
            "FROM mps_sync.backfill_chunks c JOIN mps_sync.backfill_tables t USING (source_table) "
            "WHERE c.source_table = %s AND c.state <> 'done' ORDER BY c.seq",
            (table,),
        ).fetchall()
        fill.update(
            ((table, int(seq)), 1.0 if share is None else float(share)) for seq, share in rows
        )
    return fill


def mark_running(conn: psycopg.Connection[Any], ref: ChunkRef, run_id: str) -> None:
    conn.execute(
        "UPDATE mps_sync.backfill_chunks SET state = 'running', attempts = attempts + 1, "
        "run_id = %s, error = NULL, updated_at = now() WHERE source_table = %s AND seq = %s",
        (run_id, *ref),
    )


def mark_failed(conn: psycopg.Connection[Any], ref: ChunkRef, error: str) -> None:
    conn.execute(
        "UPDATE mps_sync.backfill_chunks SET state = 'failed', error = %s, updated_at = now() "
        "WHERE source_table = %s AND seq = %s",
        (error[:4000], *ref),
    )


MARK_DONE_SQL = (
    "UPDATE mps_sync.backfill_chunks SET state = 'done', rows = $1, bytes = $2, duration_s = $3, "
    "reader = $4, rejected = $7, error = NULL, updated_at = now() "
    "WHERE source_table = $5 AND seq = $6"
)
"""Run inside the chunk's own write transaction, so "done" commits exactly with the rows."""

CLEAR_REJECTS_SQL = "DELETE FROM mps_sync.backfill_rejects WHERE source_table = $1 AND seq = $2"
RECORD_REJECT_SQL = (
    "INSERT INTO mps_sync.backfill_rejects "
    "(run_id, source_table, seq, key, column_name, value, error) "
    "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)"
)
"""Both run inside the chunk's write transaction too (see writer.write_chunk)."""


def key_json(key: dict[str, Any]) -> str:
    """A rejected row's key as JSON text: values as :func:`encode_value` stores chunk bounds;
    what JSON (or jsonb: no NUL) cannot hold becomes ``["repr", "..."]``."""
    out: dict[str, Any] = {}
    for name, value in key.items():
        try:
            encoded = encode_value(value)
        except KeyEncodingError:
            encoded = ["repr", repr(value)]
        if isinstance(encoded, str) and "\x00" in encoded:
            encoded = ["repr", repr(value)]
        out[name] = encoded
    return json.dumps(out, ensure_ascii=False)


def rejects(conn: psycopg.Connection[Any], source_table: str) -> list[dict[str, Any]]:
    """The table's rejected rows, chunk by chunk."""
    rows = conn.execute(
        "SELECT run_id, seq, key, column_name, value, error, rejected_at "
        "FROM mps_sync.backfill_rejects WHERE source_table = %s ORDER BY seq, id",
        (source_table,),
    ).fetchall()
    names = ("run_id", "seq", "key", "column", "value", "error", "rejected_at")
    return [dict(zip(names, r, strict=True)) for r in rows]


def chunk_states(conn: psycopg.Connection[Any], source_table: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT state, count(*) FROM mps_sync.backfill_chunks WHERE source_table = %s GROUP BY 1",
        (source_table,),
    ).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def table_totals(
    conn: psycopg.Connection[Any], source_table: str, run_id: str | None = None
) -> dict[str, Any]:
    """The table's chunk totals over every run; with ``run_id``, also what that run copied
    (``run_chunks``, ``run_rows``, ``run_bytes``): a resumed run found the rest done."""
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE state = 'done'), coalesce(sum(rows), 0), "
        "coalesce(sum(bytes), 0), coalesce(sum(duration_s), 0), coalesce(sum(rejected), 0), "
        "count(*) FILTER (WHERE state = 'done' AND run_id = %s), "
        "coalesce(sum(rows) FILTER (WHERE state = 'done' AND run_id = %s), 0), "
        "coalesce(sum(bytes) FILTER (WHERE state = 'done' AND run_id = %s), 0) "
        "FROM mps_sync.backfill_chunks WHERE source_table = %s",
        (run_id, run_id, run_id, source_table),
    ).fetchone()
    assert row is not None
    totals = {
        "chunks": int(row[0]),
        "chunks_done": int(row[1]),
        "rows": int(row[2]),
        "bytes": int(row[3]),
        "chunk_seconds": float(row[4]),
        "rejected": int(row[5]),
    }
    if run_id is not None:
        totals |= {"run_chunks": int(row[6]), "run_rows": int(row[7]), "run_bytes": int(row[8])}
    return totals


def lock_handoff(conn: psycopg.Connection[Any], tables: Sequence[str]) -> None:
    """Take each table's handoff lock exclusively, in the caller's transaction: a stream batch
    writing one of them commits first, and the next one reads the state this transaction
    commits (``cdc.metrics.lock_table_states``)."""
    conn.execute(
        "SELECT pg_advisory_xact_lock(%s, h) FROM (SELECT DISTINCT hashtext(t) AS h "
        "FROM unnest(%s::text[]) AS t ORDER BY 1) AS keys",
        (HANDOFF_LOCK_CLASS, sorted(tables)),
    )


def mark_prepared(conn: psycopg.Connection[Any], source_table: str) -> None:
    conn.execute(
        "UPDATE mps_sync.backfill_tables SET prepared_at = now() WHERE source_table = %s",
        (source_table,),
    )


PREPARE_FAILED = "prepare failed: "


def mark_prepare_failed(
    conn: psycopg.Connection[Any], source_tables: Sequence[str], why: str
) -> None:
    """Not prepared, and why: finalize then names the cause instead of guessing at a worker."""
    conn.execute(
        "UPDATE mps_sync.backfill_tables SET prepared_at = NULL, note = %s "
        "WHERE source_table = ANY(%s)",
        (PREPARE_FAILED + why, list(source_tables)),
    )


def prepare_failure(conn: psycopg.Connection[Any], source_table: str) -> str | None:
    """Why the table's last prepare failed, when it is not prepared since."""
    row = conn.execute(
        "SELECT note FROM mps_sync.backfill_tables WHERE source_table = %s "
        "AND prepared_at IS NULL AND starts_with(note, %s)",
        (source_table, PREPARE_FAILED),
    ).fetchone()
    return str(row[0]).removeprefix(PREPARE_FAILED) if row else None


def is_finalized(conn: psycopg.Connection[Any], source_table: str) -> bool:
    row = conn.execute(
        "SELECT finalized_at IS NOT NULL FROM mps_sync.backfill_tables WHERE source_table = %s",
        (source_table,),
    ).fetchone()
    return bool(row and row[0])


def mark_finalized(
    conn: psycopg.Connection[Any], source_table: str, source_rows: int, target_rows: int
) -> None:
    conn.execute(
        "UPDATE mps_sync.backfill_tables SET finalized_at = now(), source_rows = %s, "
        "target_rows = %s, note = NULL WHERE source_table = %s",
        (source_rows, target_rows, source_table),
    )


def record_finalize_failure(conn: psycopg.Connection[Any], source_table: str, error: str) -> None:
    """Why the table could not be finalized, for the run summary (cleared once it is)."""
    conn.execute(
        "UPDATE mps_sync.backfill_tables SET note = %s WHERE source_table = %s",
        (f"not finalized: {error}"[:4000], source_table),
    )


def mark_not_reached(conn: psycopg.Connection[Any], ref: ChunkRef, run_id: str, error: str) -> None:
    """Why a chunk that is not done was not copied by ``run_id`` (its task stopped first); its
    state stays, and an error of an earlier run is replaced, so no one reads a stale cause."""
    conn.execute(
        "UPDATE mps_sync.backfill_chunks SET run_id = %s, error = %s, updated_at = now() "
        "WHERE source_table = %s AND seq = %s AND state <> 'done'",
        (run_id, error[:4000], *ref),
    )


def first_chunk_error(conn: psycopg.Connection[Any], source_table: str) -> str | None:
    """The error of the table's first failed chunk, as ``#seq: error``; without one, why its
    first chunk not reached was not copied, as ``#seq (state): why``."""
    row = conn.execute(
        "SELECT seq, state, error FROM mps_sync.backfill_chunks WHERE source_table = %s "
        "AND state <> 'done' AND error IS NOT NULL ORDER BY state <> 'failed', seq LIMIT 1",
        (source_table,),
    ).fetchone()
    if row is None:
        return None
    return f"#{row[0]}: {row[2]}" if row[1] == "failed" else f"#{row[0]} ({row[1]}): {row[2]}"


def table_outcome(conn: psycopg.Connection[Any], source_table: str) -> dict[str, Any]:
    """Whether the table is finalized (with the row counts finalize took), its stream state,
    and why it is not finalized."""
    row = conn.execute(
        "SELECT b.finalized_at IS NOT NULL, b.note, s.state, b.source_rows, b.target_rows "
        "FROM mps_sync.backfill_tables b LEFT JOIN mps_sync.table_state s USING (source_table) "
        "WHERE b.source_table = %s",
        (source_table,),
    ).fetchone()
    if row is None:
        return {"finalized": False, "state": None, "finalize_error": "not planned"}
    finalized = bool(row[0])
    return {
        "finalized": finalized,
        "state": row[2],
        "finalize_error": None if finalized else (row[1] or "not finalized"),
        "source_rows": row[3] if finalized else None,
        "target_rows": row[4] if finalized else None,
    }


def get_table_state(
    conn: psycopg.Connection[Any], source_table: str
) -> tuple[TableState, dict[str, Any] | None] | None:
    row = conn.execute(
        "SELECT state, kafka_position FROM mps_sync.table_state WHERE source_table = %s",
        (source_table,),
    ).fetchone()
    return None if row is None else (row[0], row[1])


def set_table_state(
    conn: psycopg.Connection[Any],
    source_table: str,
    target_table: str,
    state: TableState,
    *,
    kafka_position: dict[str, Any] | None = None,
    note: str | None = None,
) -> None:
    """Upsert the table's state; a given position replaces the stored one, None keeps it.

    A new position also marks it not yet replayed: the stream consumer rewinds each of its
    partitions to it once the table is streaming (see state/sql/080)."""
    conn.execute(
        "INSERT INTO mps_sync.table_state (source_table, target_table, state, kafka_position,"
        " replayed_position, note) VALUES (%s, %s, %s, %s,"
        " CASE WHEN %s::jsonb IS NULL THEN NULL ELSE '{}'::jsonb END, %s) "
        "ON CONFLICT (source_table) DO UPDATE SET "
        "target_table = EXCLUDED.target_table, state = EXCLUDED.state, "
        "kafka_position = coalesce(EXCLUDED.kafka_position, mps_sync.table_state.kafka_position), "
        "replayed_position = CASE WHEN EXCLUDED.kafka_position IS NULL"
        " THEN mps_sync.table_state.replayed_position ELSE '{}'::jsonb END, "
        "note = EXCLUDED.note, updated_at = now()",
        (source_table, target_table, state, _jsonb(kafka_position), _jsonb(kafka_position), note),
    )


def start_run(conn: psycopg.Connection[Any], run_id: str, params: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO mps_sync.backfill_runs (run_id, params) VALUES (%s, %s) "
        "ON CONFLICT (run_id) DO NOTHING",
        (run_id, Jsonb(json.loads(json.dumps(params, default=str)))),
    )


def finish_run(conn: psycopg.Connection[Any], run_id: str, summary: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO mps_sync.backfill_runs (run_id, finished_at, summary) VALUES (%s, now(), %s) "
        "ON CONFLICT (run_id) DO UPDATE SET finished_at = now(), summary = EXCLUDED.summary",
        (run_id, Jsonb(summary)),
    )
