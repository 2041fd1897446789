"""How far each table's backfill has got, read from ``mps_sync.backfill_chunks``.

One query for the status page's backfill column and for reconcile, which does not compare a
table whose copy is still moving (:mod:`mysql_pg_sync.reconcile.backfilling`): both judge a
stall by :func:`mysql_pg_sync.status.model.backfill_stalled` on the same row.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from mysql_pg_sync.status.model import BACKFILL_RATE_WINDOW_S, Row

BACKFILL_PROGRESS_SQL = f"""
        SELECT t.source_table, t.finalized_at, t.target_rows,
               count(c.seq) AS chunks_total,
               count(c.seq) FILTER (WHERE c.state = 'done') AS chunks_done,
               count(c.seq) FILTER (WHERE c.state = 'failed') AS chunks_failed,
               (array_agg(c.error ORDER BY c.updated_at DESC)
                   FILTER (WHERE c.state = 'failed'))[1] AS failed_error,
               coalesce(sum(c.rows) FILTER (WHERE c.state = 'done'), 0) AS rows_copied,
               -- the estimate of what is left (NULL: a chunk planned before estimates)
               sum(c.est_rows) FILTER (WHERE c.state <> 'done') AS rows_left_est,
               bool_or(c.est_rows IS NULL) FILTER (WHERE c.state <> 'done') AS left_unknown,
               coalesce(sum(c.rows) FILTER (WHERE c.state = 'done'
                   AND c.updated_at > now() - make_interval(secs => {BACKFILL_RATE_WINDOW_S})), 0)
                   AS rows_recent,
               -- since ANY chunk changed: a table still queued behind others is not stalled
               (SELECT extract(epoch FROM now() - max(a.updated_at))::float8
                FROM mps_sync.backfill_chunks a) AS idle_seconds
        FROM mps_sync.backfill_tables t
        LEFT JOIN mps_sync.backfill_chunks c USING (source_table)
        GROUP BY t.source_table, t.finalized_at, t.target_rows"""
"""One row per table with a backfill plan: chunk counts, rows copied, and ``idle_seconds``."""


def read_backfill_progress(conn: psycopg.Connection[Any], table: str) -> Row | None:
    """``table``'s row of :data:`BACKFILL_PROGRESS_SQL`; None when it has no backfill plan."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT * FROM ({BACKFILL_PROGRESS_SQL}) p WHERE p.source_table = %s", (table,)
        )
        return cur.fetchone()
