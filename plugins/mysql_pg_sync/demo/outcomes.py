"""What a demo step's DAG run did, read back from the state schema: the figures an operator looks
for (rows copied, changes applied, drift found and repaired, checks failed) and the report to
open, in place of a bare "ok". The text builders are pure; :func:`read_outcome` does the I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import Endpoints

Row = Mapping[str, Any]


def _n(value: Any) -> str:
    return f"{int(value or 0):,}"


def backfill_text(summary: Row) -> str:
    total = summary.get("total") or {}
    text = (
        f"{_n(total.get('tables'))} table(s), {_n(total.get('run_rows', total.get('rows')))} "
        f"rows copied, {_n(total.get('chunks_done'))}/{_n(total.get('chunks'))} chunk(s) done, "
        f"{_n(total.get('rows_per_s'))} rows/s"
    )
    if total.get("rejected"):
        text += f", {_n(total['rejected'])} rejected (see the report)"
    if summary.get("unfinished"):
        text += f", not finalized: {', '.join(sorted(summary['unfinished']))}"
    if not total.get("tables"):
        text += " (every table was already copied: mode create_missing skips them)"
    html = (summary.get("report") or {}).get("html")
    return text + (f"; report {html}" if html else "")


_STREAM_FIGURES = (
    ("events", "events"),
    ("applied", "applied"),
    ("conflicts", "conflict(s) decided"),
    ("echoes_dropped", "echo(es) dropped"),
    ("dead_letters", "dead letter(s)"),
)


def stream_text(summaries: Sequence[Row]) -> str:
    """One line over the consumer runs the step's DAG run made (one per bounded loop)."""
    totals = {k: sum(int(s.get(k) or 0) for s in summaries) for k, _ in _STREAM_FIGURES}
    text = ", ".join(f"{totals[k]:,} {label}" for k, label in _STREAM_FIGURES)
    p99 = max((s["lag_p99_ms"] for s in summaries if s.get("lag_p99_ms") is not None), default=None)
    if p99 is not None:
        # the demo makes its changes before this step starts the stream: their lag is mostly
        # the DAG run's start-up, not the apply (bench/README.md measures the lag under load)
        text += f", lag p99 {int(p99):,} ms (changes made before the stream started)"
    if totals["dead_letters"]:
        text += ' (make cli ARGS="dead-letters list")'
    return text


def reconcile_text(run: Row, tables: Row) -> str:
    text = (
        f"run {run['run_id']} {run['status']}: {_n(tables.get('tables'))} table(s), "
        f"{_n(tables.get('rows'))} rows compared, drift {_n(tables.get('found'))}, "
        f"repaired {_n(tables.get('repaired'))}"
    )
    if tables.get("errors"):
        text += f", {_n(tables['errors'])} table(s) in error"
    return text + (f"; report {run['report_html']}" if run.get("report_html") else "")


def quality_text(run: Row) -> str:
    failed, warned, skipped = (
        int(run.get(k) or 0) for k in ("failed_fail", "failed_warn", "skipped")
    )
    checks = int(run.get("checks") or 0)
    text = (
        f"{checks:,} check(s): {checks - failed - warned - skipped:,} passed, {failed:,} failed, "
        f"{warned:,} warned, {skipped:,} skipped"
    )
    return text + (f"; report {run['report_path']}" if run.get("report_path") else "")


def _rows(conn: Any, sql: str, since: dt.datetime) -> list[dict[str, Any]]:
    cur = conn.execute(sql, (since,))
    names = [c.name for c in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _backfill(conn: Any, since: dt.datetime) -> str | None:
    found = _rows(
        conn,
        "SELECT summary FROM mps_sync.backfill_runs WHERE started_at >= %s "
        "AND summary IS NOT NULL ORDER BY finished_at DESC LIMIT 1",
        since,
    )
    return backfill_text(found[0]["summary"]) if found else None


def _stream(conn: Any, since: dt.datetime) -> str | None:
    found = _rows(
        conn,
        "SELECT summary FROM mps_sync.stream_runs WHERE started_at >= %s "
        "AND summary IS NOT NULL ORDER BY started_at",
        since,
    )
    return stream_text([r["summary"] for r in found]) if found else None


def _reconcile(conn: Any, since: dt.datetime) -> str | None:
    runs = _rows(
        conn,
        "SELECT run_id, status, report_html FROM mps_sync.reconcile_runs "
        "WHERE started_at >= %s ORDER BY run_id DESC LIMIT 1",
        since,
    )
    if not runs:
        return None
    cur = conn.execute(
        "SELECT count(*) AS tables, sum(coalesce(rows_mysql, 0)) AS rows, "
        "sum(coalesce(drift_found, 0)) AS found, sum(coalesce(drift_repaired, 0)) AS repaired, "
        "count(*) FILTER (WHERE status = 'error') AS errors "
        "FROM mps_sync.reconcile_tables WHERE run_id = %s",
        (runs[0]["run_id"],),
    )
    names = [c.name for c in cur.description]
    row = cur.fetchone()
    return reconcile_text(runs[0], dict(zip(names, row, strict=True)) if row else {})


def _quality(conn: Any, since: dt.datetime) -> str | None:
    found = _rows(
        conn,
        "SELECT checks, failed_fail, failed_warn, skipped, report_path FROM mps_sync.dq_runs "
        "WHERE started_at >= %s ORDER BY finished_at DESC LIMIT 1",
        since,
    )
    return quality_text(found[0]) if found else None


READERS: dict[str, Callable[[Any, dt.datetime], str | None]] = {
    "backfill": _backfill,
    "stream": _stream,
    "reconcile": _reconcile,
    "data_quality": _quality,
}


def database_now(endpoints: Endpoints) -> dt.datetime:
    """PostgreSQL's clock: the state rows' times come from it."""
    with pg_connect(endpoints.postgres) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]


def read_outcome(endpoints: Endpoints, step: str, since: dt.datetime) -> str | None:
    """The step's figures from the runs it started since ``since``; None when it has none to
    show (no reader for the step, or its run stored nothing)."""
    reader = READERS.get(step)
    if reader is None:
        return None
    with pg_connect(endpoints.postgres) as conn:
        return reader(conn, since)
