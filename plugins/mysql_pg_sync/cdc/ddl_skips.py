"""The DDL statements a source connector skips, kept in the state schema (state SQL 240)."""

from __future__ import annotations

from typing import Any

from mysql_pg_sync.cdc.unparseable_ddl import SkipDecision


def recorded(conn: Any, connector: str) -> list[str]:
    """The statements recorded for ``connector``, oldest first; none before the state schema
    has the table (a stack whose schema was never migrated skips nothing)."""
    row = conn.execute("SELECT to_regclass('mps_sync.connector_ddl_skips')").fetchone()
    if row is None or row[0] is None:
        return []
    rows = conn.execute(
        "SELECT statement FROM mps_sync.connector_ddl_skips WHERE connector = %s "
        "ORDER BY skipped_at, statement",
        (connector,),
    ).fetchall()
    return [r[0] for r in rows]


def record(conn: Any, connector: str, decision: SkipDecision) -> bool:
    """Record a safe skip; False when it was recorded before."""
    assert decision.safe, "only a skip that changes no captured table is recorded"
    row = conn.execute(
        """
        INSERT INTO mps_sync.connector_ddl_skips (connector, statement, tables, reason)
        VALUES (%s, %s, %s, %s)
        ON CONFLICT (connector, statement) DO NOTHING
        RETURNING 1
        """,
        (connector, decision.statement, [str(t) for t in decision.tables], decision.why),
    ).fetchone()
    return row is not None
