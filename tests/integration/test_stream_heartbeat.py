"""A running stream consumer stamps its run row, so the status page can tell it is alive."""

from __future__ import annotations

import logging

import psycopg
import pytest

from mysql_pg_sync.cdc.heartbeat import Heartbeat
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.status.model import consumer_text

pytestmark = pytest.mark.integration


def _consumers(pg: DatabaseEndpoint) -> tuple[str, bool | None]:
    from mysql_pg_sync.status.read import SECTION_QUERIES

    with pg_connect(pg, autocommit=True) as conn:
        cur = conn.execute(SECTION_QUERIES["consumers"])  # type: ignore[arg-type]
        names = [c.name for c in cur.description or []]
        row = cur.fetchone()
    assert row is not None
    return consumer_text(dict(zip(names, row, strict=True)))


def test_a_beat_stamps_the_run_and_is_throttled(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO mps_sync.stream_runs (run_id, started_at) "
            "VALUES ('r1', now() - interval '1 hour')"
        )
    assert _consumers(pg_db) == (
        "none running (the last one stopped without finishing its run): changes wait in "
        "Kafka; unpause the stream DAG or start the stream service",
        False,
    )
    now = [0.0]
    beat = Heartbeat(lambda: pg_connect(pg_db), "r1", every_s=30, clock=lambda: now[0])
    try:
        beat.beat()  # too early: nothing written
        with pg_connect(pg_db) as conn:
            row = conn.execute("SELECT heartbeat_at FROM mps_sync.stream_runs").fetchone()
        assert row == (None,)
        now[0] = 31.0
        beat.beat()
        assert _consumers(pg_db) == ("1 running", True)
    finally:
        beat.close()
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("UPDATE mps_sync.stream_runs SET finished_at = now() - interval '5 s'")
    text, running = _consumers(pg_db)
    assert running is True
    assert text.startswith("between runs (last ended ")


def test_a_lost_state_database_does_not_stop_the_stream(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def refused() -> psycopg.Connection:
        calls.append(1)
        raise psycopg.OperationalError("connection refused")

    now = [100.0]
    beat = Heartbeat(refused, "r1", every_s=1, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="mysql_pg_sync.cdc.heartbeat"):
        beat.beat()  # not due yet
        now[0] = 200.0
        beat.beat()  # logged, not raised
        now[0] = 300.0
        beat.beat()  # tried again
    beat.close()
    assert len(calls) == 2
    assert [r.getMessage() for r in caplog.records] == [
        "stream heartbeat not recorded (connection refused); the stream goes on"
    ] * 2
