"""`python -m mysql_pg_sync status`: the Sync status page in the terminal, exit 3 on trouble."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema

pytestmark = pytest.mark.integration


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("orders", "notes"):
        mapping = {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(mapping))
    off = {**mapping, "source": "legacy.archive", "target": "public.archive", "enabled": False}
    (tmp_path / "archive.yaml").write_text(yaml.safe_dump(off))
    return tmp_path


def test_status_names_a_stopped_consumer_and_exits_3(
    pg_db: DatabaseEndpoint, folder: Path, monkeypatch, capsys
) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO mps_sync.table_state (source_table, target_table, state) VALUES "
            "('legacy.orders', 'public.orders', 'streaming')"
        )
        conn.execute(
            "INSERT INTO mps_sync.stream_runs (run_id, started_at, finished_at) "
            "VALUES ('r1', now() - interval '2 hours', now() - interval '1 hour')"
        )
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    assert main(["status", "--mappings", str(folder)]) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        "stream consumer: none running (the last run ended 60 min ago): changes wait in Kafka; "
        "unpause the stream DAG or start the stream service"
    )
    assert out[1].split() == [
        "table", "health", "state", "backfill", "stream", "lag", "connectors", "reconcile",
        "quality", "open", "dead", "letters",
    ]  # fmt: skip
    orders = next(line for line in out if line.startswith("legacy.orders "))
    assert " warn " in orders
    assert out[-1] == "legacy.archive: not synced: enabled: false in its mapping"
    assert "(stale: no stream consumer running)" in orders

    with pg_connect(pg_db, autocommit=True) as conn:  # a consumer runs again
        conn.execute("INSERT INTO mps_sync.stream_runs (run_id, heartbeat_at) VALUES ('r2', now())")
        conn.execute("DELETE FROM mps_sync.table_state")
    assert main(["status", "--mappings", str(folder), "--json"]) in (0, 3)
    status = json.loads(capsys.readouterr().out)
    assert status["stream_consumer"] == {"text": "1 running", "running": True}
    assert [t["source"] for t in status["tables"]] == [
        "legacy.notes",
        "legacy.orders",
        "legacy.archive",
    ]
    assert [t["state"] for t in status["tables"]][:2] == ["no data", "no data"]


def test_status_without_the_state_database_exits_1(folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MPS_PG_PORT", "1")  # nothing listens there
    assert main(["status", "--mappings", str(folder)]) == 1
    assert capsys.readouterr().out.startswith("error: state database unreachable: ")
