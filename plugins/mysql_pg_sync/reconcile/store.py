"""Reconcile runs, table results, drift rows and repairs in the state schema (030_reconcile.sql)."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from mysql_pg_sync.backfill.keys import KeyEncodingError, encode_value
from mysql_pg_sync.reconcile.diff import RowDiff
from mysql_pg_sync.reconcile.errors import RepairLimitExceeded
from mysql_pg_sync.reconcile.repair import Repair, check_limit
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


def _image_json(image: Mapping[str, Any] | None) -> Jsonb | None:
    """A row image as JSON (the form :func:`json_safe` gives keys). What jsonb cannot hold is
    written as text a reader can tell: a NaN or infinity as its name, a NUL character as
    ``\\u0000`` (six characters); the record must never fail the repair it describes."""
    if image is None:
        return None
    return Jsonb({name: _storable(json_safe(v)) for name, v in image.items()})


def _storable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _storable(v) for k, v in value.items()}
    return value


def encode_raw_key(raw_key: Sequence[Any]) -> list[Any]:
    return [json_safe(v) for v in raw_key]


def start_run(conn: Conn, params: dict[str, Any], trigger: str = "", guard: bool = False) -> int:
    """Record a new run. ``guard``: ``conn``'s session holds the run's guard from the moment
    the run exists (see :func:`guard_run`); the caller keeps ``conn`` open while it works."""
    ensure_schema(conn)
    with conn.transaction():
        row = conn.execute(
            "INSERT INTO mps_sync.reconcile_runs (trigger, params) VALUES (%s, %s) "
            "RETURNING run_id",
            (trigger, Jsonb(params)),
        ).fetchone()
        assert row is not None
        if guard:  # before the row is visible: no sweep can find it unguarded
            guard_run(conn, int(row[0]))
    return int(row[0])


# A run's guard: a session-level advisory lock (this class, the run) that whatever works on the
# run holds, shared, while it works: the process of a one-process run (reconcile_all) for the
# whole run, a DAG task while it runs. PostgreSQL releases it when that session ends (the
# process was killed, its connection was terminated or PostgreSQL restarted), so a run left
# 'running' that nobody guards was abandoned: :func:`close_abandoned_runs` ends it.
RUN_GUARD_CLASS = 0x6D707372  # "mpsr"
# params["owner"] of a run one process guards from start to finish: unguarded, it is abandoned
OWNER_KEY, PROCESS_OWNED = "owner", "process"
# A DAG run's tasks guard it only while each runs; between them (waiting for a pool slot, a
# retry's delay) nobody does. Unguarded, it counts as abandoned once nothing happened in it for
# this long: its report task, which ends the run, did not run or could not reach PostgreSQL.
STALE_AFTER = dt.timedelta(hours=6)
ABANDONED = (
    "abandoned: {why}, so the run was left 'running' with this table unfinished; it was "
    "closed as failed when a later run started. See that process's output or the task's "
    "log, then reconcile this table again"
)
ABANDONED_PROCESS = (
    "the process running it stopped (killed, or it lost PostgreSQL, which holds the mps_sync "
    "state) before it finished the run"
)
ABANDONED_STALE = (
    "no task worked on it for more than {hours:g} h and its report task never ended it (the "
    "task failed, or PostgreSQL, which holds the mps_sync state, was unreachable)"
)


def _guard_key(run_id: int) -> int:
    return run_id % 2**31  # advisory lock keys are int4 in the two-key form


def guard_run(conn: Conn, run_id: int) -> None:
    """Hold the run's guard (shared) for as long as ``conn``'s session lasts; waits while a
    sweep decides whether the run was abandoned (check its status after)."""
    conn.execute("SELECT pg_advisory_lock_shared(%s, %s)", (RUN_GUARD_CLASS, _guard_key(run_id)))


def run_status(conn: Conn, run_id: int) -> str | None:
    row = conn.execute(
        "SELECT status FROM mps_sync.reconcile_runs WHERE run_id = %s", (run_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def close_abandoned_runs(
    conn: Conn, stale_after: dt.timedelta = STALE_AFTER
) -> list[tuple[int, dt.datetime]]:
    """End as ``failed`` each run left ``running`` that nobody guards: a one-process run
    whose process is gone, or a DAG run where nothing happened for ``stale_after``. Its tables
    still ``running`` become ``error`` with the reason, its ``planned`` repairs ``failed``
    (interrupted), as :func:`close_run` does. Returns (run_id, finished_at) of each; the caller
    writes their reports."""
    closed = []
    with conn.transaction():
        candidates = conn.execute(
            """
            SELECT r.run_id, coalesce(r.params->>%s = %s, false) AS process_owned,
                   greatest(r.started_at, max(t.started_at), max(t.finished_at))
                       < now() - %s AS stale
            FROM mps_sync.reconcile_runs r
            LEFT JOIN mps_sync.reconcile_tables t USING (run_id)
            WHERE r.status = 'running'
            GROUP BY r.run_id ORDER BY r.run_id
            """,
            (OWNER_KEY, PROCESS_OWNED, stale_after),
        ).fetchall()
        for run_id, process_owned, stale in candidates:
            if not (process_owned or stale):
                continue
            # exclusive until commit: granted only if no session guards the run, and a guard
            # taken meanwhile waits, then finds the run failed
            free = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s, %s)", (RUN_GUARD_CLASS, _guard_key(run_id))
            ).fetchone()
            if not (free and free[0]):
                continue
            row = conn.execute(
                "SELECT status FROM mps_sync.reconcile_runs WHERE run_id = %s FOR UPDATE",
                (run_id,),
            ).fetchone()
            if row is None or row[0] != "running":  # ended meanwhile
                continue
            why = (
                ABANDONED_PROCESS
                if process_owned
                else ABANDONED_STALE.format(hours=stale_after.total_seconds() / 3600)
            )
            finished_at = close_run(conn, run_id, (), ABANDONED.format(why=why))
            finish_run(conn, run_id, "failed", None, None, finished_at)
            closed.append((int(run_id), finished_at))
    return closed


INTERRUPTED = (
    "interrupted: the task stopped (killed, timed out or lost its connection) after this "
    "repair was planned and before its outcome was recorded, so it may or may not have been "
    "written; the next reconcile compares the key again"
)
SETTLED_ON_RETRY = (
    "the task stopped before it recorded this repair's outcome; its retry found the key in sync"
)
SUPERSEDED_ON_RETRY = (
    "interrupted: the task stopped before this repair was written; its retry found the key "
    "still different and planned the repair again"
)
UNFINISHED = (
    "did not finish: the task was killed, timed out or could not reach PostgreSQL (which "
    "holds the mps_sync state) before it stored a result; see the task log, then reconcile "
    "this table again"
)
NEVER_STARTED = (
    "never started: no result was stored for this table (its task did not run, or could not "
    "reach PostgreSQL, which holds the mps_sync state); see the task log, then reconcile this "
    "table again"
)
# a repair with one of these statuses wrote, or will write, a row: they count against the run's
# max_repairs (a dry run counts its would-be writes, so it previews what the real run refuses)
WRITES = ("planned", "applied", "dry_run")


def _key_id(key: Any) -> str:
    """One text per stored key (jsonb from the database or encode_raw_key's list), to match
    keys in Python."""
    return json.dumps(key, sort_keys=True)


def start_table(conn: Conn, run_id: int, source_table: str, target_table: str) -> None:
    """(Re)start a table in a run. A retried task replaces its earlier partial result, except
    what an earlier attempt may have written: the rows of repairs it applied or planned (the
    retry settles those, see :func:`settle_earlier_repairs`) and their drift rows stay, so the
    report keeps every repair the run made. Earlier dry-run, refused and changed plans wrote
    nothing and are planned again."""
    with conn.transaction():
        conn.execute(
            "DELETE FROM mps_sync.reconcile_repairs WHERE run_id = %s AND source_table = %s "
            "AND status IN ('dry_run', 'refused', 'changed')",
            (run_id, source_table),
        )
        conn.execute(
            """
            DELETE FROM mps_sync.reconcile_drift d WHERE run_id = %s AND source_table = %s
            AND NOT EXISTS (
                SELECT 1 FROM mps_sync.reconcile_repairs r
                WHERE r.run_id = d.run_id AND r.source_table = d.source_table AND r.key = d.key
                  AND r.status IN ('applied', 'planned'))
            """,
            (run_id, source_table),
        )
        conn.execute(
            """
            INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table)
            VALUES (%s, %s, %s)
            ON CONFLICT (run_id, source_table) DO UPDATE
            SET status = 'running', error = NULL, started_at = now(), finished_at = NULL,
                -- an earlier attempt's figures describe drift rows deleted above: a retry
                -- killed before it finishes must not report them
                detail = '{}', rows_mysql = NULL, rows_postgres = NULL,
                segments_compared = NULL, segments_mismatched = NULL, suspects = NULL,
                in_flight = NULL, hash_only = NULL, drift_found = 0, drift_repaired = 0,
                missing = 0, extra = 0, different = 0
            """,
            (run_id, source_table, target_table),
        )


def record_drift(conn: Conn, run_id: int, source_table: str, diffs: Sequence[RowDiff]) -> None:
    """Store confirmed drift; a key an earlier attempt of the run stored takes the new class."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            INSERT INTO mps_sync.reconcile_drift
                (run_id, source_table, key, drift, columns, key_text, column_values)
            VALUES (%s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (run_id, source_table, key) DO UPDATE
            SET drift = EXCLUDED.drift, columns = EXCLUDED.columns,
                key_text = EXCLUDED.key_text, column_values = EXCLUDED.column_values,
                detected_at = now()
            """,
            [
                (
                    run_id,
                    source_table,
                    Jsonb(encode_raw_key(d.raw_key)),
                    d.drift,
                    list(d.columns),
                    list(d.key),
                    None if (shown := d.shown_values()) is None else Jsonb(shown),
                )
                for d in diffs
            ],
        )


def forget_drift(
    conn: Conn, run_id: int, source_table: str, raw_keys: Sequence[Sequence[Any]]
) -> None:
    """Drop the drift rows of keys found equal after all: changes in flight. A row an earlier
    attempt of the run repaired (or planned to) stays: the report shows every repair the run
    made by its drift row (``_LATEST_REPAIRS``)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """
            DELETE FROM mps_sync.reconcile_drift d
            WHERE d.run_id = %s AND d.source_table = %s AND d.key = %s
              AND NOT EXISTS (
                SELECT 1 FROM mps_sync.reconcile_repairs r
                WHERE r.run_id = d.run_id AND r.source_table = d.source_table
                  AND r.key = d.key AND r.status IN ('applied', 'planned')
              )
            """,
            [(run_id, source_table, Jsonb(encode_raw_key(k))) for k in raw_keys],
        )


def settle_earlier_repairs(
    conn: Conn, run_id: int, source_table: str, diffs: Sequence[RowDiff]
) -> Counter[str]:
    """After a retried table was compared again (``diffs``): give each repair an earlier
    attempt left ``planned`` its outcome, checked against the data. A key still different was
    not repaired (``failed``; this attempt plans it again), a key now in sync was (``applied``:
    the write committed, or the stream brought the same row). Returns the drift classes of the
    keys earlier attempts repaired and this one found in sync, which the report still counts."""
    current = {_key_id(encode_raw_key(d.raw_key)) for d in diffs}
    with conn.transaction():
        planned = conn.execute(
            "SELECT repair_id, key FROM mps_sync.reconcile_repairs WHERE run_id = %s "
            "AND source_table = %s AND status = 'planned'",
            (run_id, source_table),
        ).fetchall()
        for repair_id, key in planned:
            again = _key_id(key) in current
            conn.execute(
                "UPDATE mps_sync.reconcile_repairs SET status = %s, error = %s, "
                "finished_at = now() WHERE repair_id = %s",
                (
                    "failed" if again else "applied",
                    SUPERSEDED_ON_RETRY if again else SETTLED_ON_RETRY,
                    repair_id,
                ),
            )
        kept = conn.execute(
            "SELECT key, drift FROM mps_sync.reconcile_drift WHERE run_id = %s "
            "AND source_table = %s",
            (run_id, source_table),
        ).fetchall()
    return Counter(drift for key, drift in kept if _key_id(key) not in current)


# The newest repair of each key of the run's drift: a key planned again by a retry counts once,
# with its newest outcome; one that wrote (or tried to) before a 'changed' one that wrote
# nothing: a key repaired, then found changed again and settled, shows its repair.
_LATEST_REPAIRS = """
    SELECT DISTINCT ON (r.source_table, r.key)
           r.source_table, r.key, r.status, r.action, r.write_to, r.error,
           coalesce(to_jsonb(r.key_text), r.key) AS shown_key
    FROM mps_sync.reconcile_repairs r
    JOIN mps_sync.reconcile_drift d
      ON d.run_id = r.run_id AND d.source_table = r.source_table AND d.key = r.key
    WHERE r.run_id = %(run_id)s
    ORDER BY r.source_table, r.key, r.status = 'changed', r.repair_id DESC
"""


def repair_counts(conn: Conn, run_id: int) -> dict[str, Counter[str]]:
    """Repairs by table and status (see ``_LATEST_REPAIRS``)."""
    with conn.transaction():  # a read in the same explicit transactions as the writes
        rows = conn.execute(
            f"SELECT source_table, status, count(*) FROM ({_LATEST_REPAIRS}) latest GROUP BY 1, 2",
            {"run_id": run_id},
        ).fetchall()
    out: dict[str, Counter[str]] = {}
    for table, status, n in rows:
        out.setdefault(table, Counter())[status] = int(n)
    return out


def repair_details(conn: Conn, run_id: int, examples: int) -> dict[str, list[dict[str, Any]]]:
    """For the report, by table: the repairs grouped by status, side written to and action,
    with a count, up to ``examples`` keys (canonical key texts, see ``090_reconcile_key_text``)
    and the most common error."""
    rows = conn.execute(
        f"""
        SELECT source_table, status, write_to, action, count(*),
               (array_agg(shown_key ORDER BY key))[1:%(examples)s::int],
               mode() WITHIN GROUP (ORDER BY error)
        FROM ({_LATEST_REPAIRS}) latest
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """,
        {"run_id": run_id, "examples": examples},
    ).fetchall()
    out: dict[str, list[dict[str, Any]]] = {}
    for table, status, write_to, action, n, keys, error in rows:
        out.setdefault(table, []).append(
            {
                "status": status,
                "write_to": write_to,
                "action": action,
                "count": int(n),
                "example_keys": list(keys or []),
                "error": error,
            }
        )
    return out


def drift_examples(conn: Conn, run_id: int, examples: int) -> dict[str, dict[str, Any]]:
    """For the report, by table and drift class: up to ``examples`` keys (in key order, as
    canonical key texts), each with the MySQL names of its differing columns and, for a
    ``different`` row, their values on both sides."""
    rows = conn.execute(
        """
        SELECT source_table, drift, shown_key, columns, column_values FROM (
            SELECT source_table, drift, key, columns, column_values,
                   coalesce(to_jsonb(key_text), key) AS shown_key,
                   row_number() OVER (PARTITION BY source_table, drift ORDER BY key) AS n
            FROM mps_sync.reconcile_drift WHERE run_id = %s
        ) d WHERE n <= %s ORDER BY source_table, drift, key
        """,
        (run_id, examples),
    ).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for table, drift, key, columns, values in rows:
        example: dict[str, Any] = {"key": key, "columns": list(columns)}
        if values is not None:
            example["values"] = values
        out.setdefault(table, {}).setdefault(drift, []).append(example)
    return out


def _insert_repairs(
    conn: Conn, run_id: int, source_table: str, repairs: Sequence[Repair], status: str
) -> list[int]:
    ids = []
    for r in repairs:
        row = conn.execute(
            """
            INSERT INTO mps_sync.reconcile_repairs
                (run_id, source_table, key, action, write_to, decided_by, status, key_text,
                 written, replaced)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING repair_id
            """,
            (
                run_id,
                source_table,
                Jsonb(encode_raw_key(r.raw_key)),
                r.action,
                r.write_to,
                r.decided_by,
                status,
                list(r.key),
                _image_json(r.image),
                _image_json(r.replaced),
            ),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def record_repairs(
    conn: Conn, run_id: int, source_table: str, repairs: Sequence[Repair], status: str
) -> list[int]:
    """Insert repairs with a first status; returns their ids (same order)."""
    with conn.transaction():
        return _insert_repairs(conn, run_id, source_table, repairs, status)


def reserve_repairs(
    conn: Conn,
    run_id: int,
    source_table: str,
    repairs: Sequence[Repair],
    status: str,
    max_repairs: int,
) -> list[int]:
    """Record a table's repairs with a first status (``planned`` or ``dry_run``) if the run's
    ``max_repairs`` leaves room for all of them; else record them ``refused`` and raise
    :class:`RepairLimitExceeded`. Tables reconcile in parallel tasks, so the count and the
    insert happen under a lock on the run's row."""
    with conn.transaction():
        conn.execute(
            "SELECT 1 FROM mps_sync.reconcile_runs WHERE run_id = %s FOR UPDATE", (run_id,)
        )
        row = conn.execute(
            "SELECT count(*) FROM mps_sync.reconcile_repairs WHERE run_id = %s "
            "AND status = ANY(%s)",
            (run_id, list(WRITES)),
        ).fetchone()
        already = int(row[0]) if row else 0
        try:
            check_limit(source_table, len(repairs), max_repairs, already, run_id)
        except RepairLimitExceeded as exc:
            refused = exc
        else:
            return _insert_repairs(conn, run_id, source_table, repairs, status)
        _insert_repairs(conn, run_id, source_table, repairs, "refused")
    raise refused


def close_run(
    conn: Conn,
    run_id: int,
    expected: Sequence[tuple[str, str]] = (),
    error: str | None = None,
) -> dt.datetime:
    """Before the run's status is computed: a table still ``running`` (its task was killed or
    timed out, or PostgreSQL was unreachable when it ended) and an ``expected`` (source, target)
    table that stored nothing become ``error`` (with ``error`` as the reason when the caller
    knows why the run stopped); a repair still ``planned`` becomes ``failed`` (interrupted). So
    the run cannot report success for work that never finished.

    Returns the time the run finished (the database's clock, like ``started_at``)."""
    with conn.transaction():
        conn.execute(
            "UPDATE mps_sync.reconcile_tables SET status = 'error', error = %s, "
            "finished_at = now() WHERE run_id = %s AND status = 'running'",
            (error or UNFINISHED, run_id),
        )
        for source_table, target_table in expected:
            conn.execute(
                "INSERT INTO mps_sync.reconcile_tables "
                "(run_id, source_table, target_table, status, error, finished_at) "
                "VALUES (%s, %s, %s, 'error', %s, now()) ON CONFLICT DO NOTHING",
                (run_id, source_table, target_table, error or NEVER_STARTED),
            )
        conn.execute(
            "UPDATE mps_sync.reconcile_repairs SET status = 'failed', error = %s, "
            "finished_at = now() WHERE run_id = %s AND status = 'planned'",
            (INTERRUPTED, run_id),
        )
        row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    finished_at: dt.datetime = row[0]
    return finished_at


def finish_repair(conn: Conn, repair_id: int, applied: bool, error: str | None) -> None:
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_repairs
            SET status = %s, error = %s, finished_at = now() WHERE repair_id = %s
            """,
            ("applied" if applied else "failed", error, repair_id),
        )


def mark_changed(conn: Conn, repair_id: int, why: str) -> None:
    """A planned repair not written: a side's row changed after the comparison. Its drift row
    stays unless the run's settle round finds the rows equal (``forget_drift``); a retry or
    the next run compares it again."""
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_repairs
            SET status = 'changed', error = %s, finished_at = now() WHERE repair_id = %s
            """,
            (why, repair_id),
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
    conn: Conn,
    run_id: int,
    status: str,
    report_json: str | None,
    report_html: str | None,
    finished_at: dt.datetime | None = None,
) -> None:
    """Store the run's outcome; ``finished_at`` (default: now) is the time its report shows."""
    with conn.transaction():
        conn.execute(
            """
            UPDATE mps_sync.reconcile_runs
            SET status = %s, finished_at = coalesce(%s, now()), report_json = %s,
                report_html = %s
            WHERE run_id = %s
            """,
            (status, finished_at, report_json, report_html, run_id),
        )


def load_run(conn: Conn, run_id: int, examples: int) -> dict[str, Any]:
    """The run and each table's stored result, for the report, with up to ``examples`` keys
    per drift class and per group of repairs."""
    run = conn.execute(
        "SELECT run_id, trigger, status, params, started_at, finished_at "
        "FROM mps_sync.reconcile_runs WHERE run_id = %s",
        (run_id,),
    ).fetchone()
    if run is None:
        raise KeyError(f"no reconcile run {run_id}")
    tables = conn.execute(
        "SELECT source_table, target_table, detail, status, error "
        "FROM mps_sync.reconcile_tables WHERE run_id = %s ORDER BY source_table",
        (run_id,),
    ).fetchall()
    repairs = repair_counts(conn, run_id)
    details = repair_details(conn, run_id, examples)
    drift = drift_examples(conn, run_id, examples)
    return {
        "run_id": run[0],
        "trigger": run[1],
        "status": run[2],
        "params": run[3],
        "started_at": run[4].isoformat(),
        "finished_at": run[5].isoformat() if run[5] else None,
        "tables": [
            # the stored rows are the truth for status, error and repairs: a task that died
            # never updated its detail
            {
                "table": source,
                "target": target,
                **(detail or {}),
                "status": status,
                "error": error,
                "repairs": dict(repairs.get(source, {})),
                "repair_details": details.get(source, []),
                "drift_examples": drift.get(source, {}),
            }
            for source, target, detail, status, error in tables
        ],
    }
