"""Capture gaps a reconcile has not settled yet (``mps_sync.stream_gaps``), per table: read by
the status page and by the data-quality checks, whose repair advice must name the side whose
changes were lost (copying from the other side would overwrite the newer rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LOST_CHANGES_SQL = """
        SELECT g.source_table, sum(g.lost) AS lost,
               bool_or(g.lost IS NULL AND g.kind = 'kafka') AS restarted,
               bool_or(g.kind = 'capture') AS uncaptured,
               min(g.detected_at) AS since,
               array_agg(DISTINCT g.incoming_side ORDER BY g.incoming_side) AS sides,
               -- repaired since with each mapping's own authoritative side: settled only if
               -- that side is the gap's (status.model decides, it knows the mapping)
               bool_and(EXISTS (
                   SELECT 1 FROM mps_sync.reconcile_tables t
                   JOIN mps_sync.reconcile_runs r USING (run_id)
                   WHERE t.source_table = g.source_table AND t.status = 'repaired'
                     AND t.started_at > g.detected_at
                     AND coalesce(r.params->>'authoritative', 'mapping') = 'mapping'))
                   AS repaired_by_mapping
        FROM mps_sync.stream_gaps g
        WHERE NOT EXISTS (
            SELECT 1 FROM mps_sync.reconcile_tables t
            JOIN mps_sync.reconcile_runs r USING (run_id)
            WHERE t.source_table = g.source_table AND t.started_at > g.detected_at
              AND (t.status = 'in_sync'
                   OR (t.status = 'repaired' AND r.params->>'authoritative' = g.incoming_side)))
        GROUP BY g.source_table"""


def open_gaps(conn: Any, tables: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Table -> its row of :data:`LOST_CHANGES_SQL`, for the tables with an open gap."""
    cursor = conn.execute(
        f"SELECT * FROM ({LOST_CHANGES_SQL}) gaps WHERE source_table = ANY(%s)", (list(tables),)
    )
    names = [d.name for d in cursor.description or ()]
    return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
