"""ensure_schema applies the state schema once; later calls take no lock on a state table."""

from __future__ import annotations

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import STATE_SCHEMA, ensure_schema, schema_files


def test_a_later_call_does_not_wait_behind_open_transactions(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        applied = [n for (n,) in conn.execute(f"SELECT name FROM {STATE_SCHEMA}.schema_files")]
        tables = [
            t
            for (t,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (STATE_SCHEMA,)
            )
        ]
    assert sorted(applied) == [name for name, _sql in schema_files()]

    # A writer holding every state table, as the stream consumer's transaction does for a whole
    # batch: re-running the DDL (CREATE INDEX / ALTER TABLE ... IF NOT EXISTS) would wait for it.
    with pg_connect(pg_db) as writer, pg_connect(pg_db, autocommit=True) as task:
        for table in tables:
            writer.execute(f"LOCK TABLE {STATE_SCHEMA}.{table} IN ROW EXCLUSIVE MODE")
        task.execute("SET lock_timeout = '2s'")
        ensure_schema(task)
        writer.rollback()
