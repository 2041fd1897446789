"""How long the sync's own history stays in ``mps_sync``, and the pruning that keeps it there.

A migration runs for months: the stream writes a run row every few minutes, a tombstone for
every delete of a two-way table under last-writer-wins or version, a conflict row with both
images for every conflict, and the data-quality DAG a result per check per run. Nothing else
ever deletes them. What is pruned, and what never is:

- ``tombstones``: a delete's tombstone only matters to a change of the same key from the other
  side that was written before the delete and is applied after it. Kafka deletes an event
  once its whole segment is past retention (7 days, plus up to 7 more until the segment rolls,
  by default), so a tombstone recorded longer ago than that, and than the longest a stream may
  stand still, can meet no such change. Age counts from when the stream recorded it.
- ``stream_runs``: finished runs and runs killed without finishing (by their last heartbeat);
  never the latest run.
- ``conflicts``: decided conflicts with their images.
- ``dead_letters``: resolved letters only; an open one stays until someone recovers it.
- ``dq_runs`` (their ``dq_results`` go with them): finished runs, but never a table's latest
  run, which the status page and alerts read.

Reconcile runs, backfill state, table states and capture gaps are never pruned: a gap is
settled by the reconcile rows after it, and the backfill's chunks are its resume state.
Each table is pruned in batches of short transactions, so the stream's writes never wait long.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.state.schema import ensure_schema

BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Retention:
    """Days each kind of history is kept (``MPS_RETENTION_<FIELD>`` overrides, in days)."""

    tombstones_days: float = 30
    stream_runs_days: float = 30
    conflicts_days: float = 90
    resolved_dead_letters_days: float = 90
    quality_runs_days: float = 90


# field -> (table, the rows past ``%(days)s`` days, in SQL over that table)
_RULES: dict[str, tuple[str, str]] = {
    # by when the stream recorded it: after a long stop the deletes it reads are days old
    "tombstones_days": (
        "mps_sync.tombstones",
        "recorded_at < now() - make_interval(secs => %(days)s * 86400)",
    ),
    # a run killed without finishing counts from its last heartbeat; the latest run stays, so
    # the status page can still say when the stream last ran
    "stream_runs_days": (
        "mps_sync.stream_runs",
        "coalesce(finished_at, heartbeat_at, started_at)"
        " < now() - make_interval(secs => %(days)s * 86400)"
        " AND run_id <> (SELECT run_id FROM mps_sync.stream_runs ORDER BY started_at DESC"
        " LIMIT 1)",
    ),
    "conflicts_days": (
        "mps_sync.conflicts",
        "decided_at < now() - make_interval(secs => %(days)s * 86400)",
    ),
    "resolved_dead_letters_days": (
        "mps_sync.dead_letters",
        "resolved_at < now() - make_interval(secs => %(days)s * 86400)",
    ),
    "quality_runs_days": (
        "mps_sync.dq_runs",
        "finished_at < now() - make_interval(secs => %(days)s * 86400)"
        # a table's latest run stays, however old: the status page reads it
        " AND run_id NOT IN (SELECT DISTINCT ON (r.source_table) r.run_id"
        " FROM mps_sync.dq_results r JOIN mps_sync.dq_runs u USING (run_id)"
        " ORDER BY r.source_table, u.finished_at DESC)",
    ),
}
# Kafka deletes a segment once its newest event is past retention.ms (7 days by default), and a
# segment rolls after segment.ms (7 days): an event can live about 14 days
MIN_TOMBSTONE_DAYS = 15.0


def retention_from_env(env: Mapping[str, str] | None = None) -> Retention:
    """``Retention`` with ``MPS_RETENTION_TOMBSTONES_DAYS`` etc. applied; a bad value is a
    ConfigError naming the variable."""
    env = os.environ if env is None else env
    values: dict[str, float] = {}
    for f in fields(Retention):
        name = f"MPS_RETENTION_{f.name.upper()}"
        raw = env.get(name)
        if raw in (None, ""):
            continue
        try:
            days = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number of days") from None
        if not days > 0:
            raise ConfigError(f"{name}={raw!r}: keep at least some history (a positive number)")
        values[f.name] = days
    retention = Retention(**values)
    if retention.tombstones_days < MIN_TOMBSTONE_DAYS:
        raise ConfigError(
            f"MPS_RETENTION_TOMBSTONES_DAYS={retention.tombstones_days:g} is shorter than "
            f"{MIN_TOMBSTONE_DAYS:g} days: a tombstone must outlive the Kafka events it orders "
            "(retention.ms plus segment.ms, 7 + 7 days by default) and the longest stop of the "
            "stream, or a late update could bring a deleted row back"
        )
    return retention


def prune(
    conn: Any, retention: Retention, dry_run: bool = False, batch_rows: int = BATCH_ROWS
) -> dict[str, int]:
    """Rows pruned (or, in a dry run, that would be) per table; ``conn`` in autocommit mode.
    A table that does not exist yet (no stream has run) counts 0."""
    if conn.execute("SELECT to_regnamespace('mps_sync')").fetchone()[0] is not None:
        ensure_schema(conn)  # the rules read columns later migrations added
    pruned: dict[str, int] = {}
    for field_name, (table, past) in _RULES.items():
        params = {"days": getattr(retention, field_name)}
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            pruned[table] = 0
            continue
        if dry_run:
            query = f"SELECT count(*) FROM {table} WHERE {past}"
            pruned[table] = int(conn.execute(query, params).fetchone()[0])
            continue
        total = 0
        while True:
            deleted = conn.execute(
                f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                f"SELECT ctid FROM {table} WHERE {past} LIMIT %(batch)s))",
                {**params, "batch": batch_rows},
            ).rowcount
            total += deleted
            if deleted < batch_rows:
                break
        pruned[table] = total
    return pruned
