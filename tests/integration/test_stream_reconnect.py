"""The stream service outlives its database sessions: when an operator (or a server restart)
ends them, it logs the loss, opens new ones and goes on, in both directions, without ending the
run and without losing or repeating a change."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import (
    Pipeline,
    mysql_rows,
    pg_rows,
    wait_until,
)

from mysql_pg_sync.cdc.consumer import StreamConsumer
from mysql_pg_sync.cdc.service import run_stream
from mysql_pg_sync.cdc.targets import is_connection_lost
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration


def _kill_our_sessions(
    p: Pipeline, mysql_admin: DatabaseEndpoint, pg_admin: DatabaseEndpoint
) -> int:
    """End the stream's own sessions on both servers (not Debezium's), as an operator would."""
    with pg_connect(pg_admin, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND application_name = 'mysql_pg_sync' AND pid <> pg_backend_pid()",
            (p.endpoints.postgres.database,),
        ).fetchone()[0]
    conn_m = mysql_connect(mysql_admin, autocommit=True)
    try:
        cur = conn_m.cursor()
        # Debezium's binlog reader and its JDBC session have no default database
        cur.execute(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND USER = %s "
            "AND COMMAND NOT LIKE 'Binlog Dump%%' AND ID <> CONNECTION_ID()",
            (p.endpoints.mysql.database, p.endpoints.mysql.user),
        )
        for (thread_id,) in cur.fetchall():
            cur.execute(f"KILL CONNECTION {int(thread_id)}")
            killed += 1
    finally:
        conn_m.close()
    return killed


def test_the_stream_reconnects_after_its_sessions_are_killed(
    items: Pipeline,
    tmp_path: Path,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    mappings = tmp_path / "items.yaml"
    mappings.write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    done = threading.Event()
    out: dict[str, Any] = {}

    def serve() -> None:
        try:
            out["summary"] = run_stream(
                items.endpoints, mappings, items.config, max_seconds=180, stop=done.is_set
            )
        except BaseException as exc:
            out["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), NULL)")
        wait_until(lambda: pg_rows(items, "SELECT id, qty FROM items") == [(1, 1)])

        assert _kill_our_sessions(items, mysql_admin, pg_admin) >= 3  # state, both targets
        mysql_rows(items, "UPDATE items SET qty = 2 WHERE id = 1")
        mysql_rows(items, "INSERT INTO items VALUES (2, 'b', 5, 1, NOW(6), NULL)")
        wait_until(
            lambda: pg_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 2), (2, 5)]
        )

        # the other direction, on the new sessions, after a second loss
        assert _kill_our_sessions(items, mysql_admin, pg_admin) >= 3
        with items.pg() as pg:
            pg.execute("UPDATE items SET qty = 7, updated_at = now() WHERE id = 2")
        wait_until(
            lambda: mysql_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 2), (2, 7)]
        )
        assert "error" not in out, out.get("error")
        assert thread.is_alive(), "the stream run ended"
    finally:
        done.set()
        thread.join(120)
    assert "error" not in out, out.get("error")
    summary = out["summary"]
    assert summary["reconnects"] == 2
    assert pg_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 2), (2, 7)]
    assert mysql_rows(items, "SELECT id, qty FROM items ORDER BY id") == [(1, 2), (2, 7)]
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.conflicts") == [(0,)]


def test_a_consumer_that_cannot_reach_mysql_leaves_no_session_open(items: Pipeline) -> None:
    """While a server is down the service retries the consumer's construction; a failed try
    closes the sessions it had already opened on the other server."""
    nowhere = replace(items.endpoints, mysql=replace(items.endpoints.mysql, port=1))
    with pytest.raises(Exception) as failed:
        StreamConsumer(nowhere, items.mappings, items.config)
    assert is_connection_lost(failed.value), failed.value
    ours = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = 'mysql_pg_sync' AND pid <> pg_backend_pid()"
    )
    assert pg_rows(items, ours) == [(0,)]


def test_a_run_stopped_while_it_waits_to_reconnect_is_recorded_as_ended(
    items: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped (SIGTERM, the DAG's deadline) while the databases were unreachable kept
    `finished_at` empty in mps_sync.stream_runs, and the status page counted it as running.
    The consumer's own run raises the lost connection here; the databases are real."""
    import psycopg

    from mysql_pg_sync.cdc import service

    mappings = tmp_path / "items.yaml"
    mappings.write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    stop = threading.Event()
    made: list[object] = []

    class LosesItsConnection(StreamConsumer):
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    def consumer(*args: Any, **kwargs: Any) -> StreamConsumer:
        made.append(args)
        if len(made) == 1:
            return LosesItsConnection(*args, **kwargs)
        stop.set()  # stopped while the service waits for the databases
        raise psycopg.OperationalError("connection refused")

    monkeypatch.setattr(service, "StreamConsumer", consumer)
    summary = run_stream(items.endpoints, mappings, items.config, max_seconds=60, stop=stop.is_set)
    assert len(made) == 2
    assert summary["events"] == 0
    rows = pg_rows(
        items, "SELECT finished_at IS NOT NULL, summary->>'stopped' FROM mps_sync.stream_runs"
    )
    assert rows == [(True, "reconnecting")]
