"""A hold is new once: the run that begins it alerts, the runs that find it still there do not
(real PostgreSQL)."""

from __future__ import annotations

from mysql_pg_sync.cdc.metrics import clear_hold, record_hold
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema


def test_record_hold_says_whether_the_hold_is_new(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db) as conn:
        ensure_schema(conn)
        conn.commit()
        assert record_hold(conn, "db.t", "mysql", "lacks note") is True
        assert record_hold(conn, "db.t", "mysql", "lacks note") is False
        assert record_hold(conn, "db.t", "postgres", "lacks note") is True  # the other way
        clear_hold(conn, "db.t", "mysql")
        assert record_hold(conn, "db.t", "mysql", "lacks note") is True
