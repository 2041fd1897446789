"""`python -m mysql_pg_sync status`: the Sync status page in the terminal, exit 3 on trouble."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

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
        _counts_for_notes(conn)
    assert main(["status", "--mappings", str(folder), "--json"]) in (0, 3)
    status = json.loads(capsys.readouterr().out)
    assert status["stream_consumer"] == {"text": "1 running", "running": True}
    assert [t["source"] for t in status["tables"]] == [
        "legacy.notes",
        "legacy.orders",
        "legacy.archive",
    ]
    assert [t["state"] for t in status["tables"]][:2] == ["no data", "no data"]
    # counts are JSON numbers (sum(bigint) is numeric: a Decimal), times ISO 8601 text
    notes, orders, archive = (t["figures"] for t in status["tables"])
    assert {k: v for k, v in notes.items() if not k.endswith("_at")} == {
        "conflicts_24h": 2,
        "open_dead_letters": 1,
        "backfill_chunks_total": 3,
        "backfill_chunks_done": 2,
        "backfill_chunks_failed": 0,
        "backfill_rows_copied": 3_000_000_000,  # more than an int4 holds
        "backfill_rows_left_estimate": 7,
        "stream_lag_seconds": 1.234,
        "stream_events_per_second": 40.5,
        "stream_last_applied_age_seconds": notes["stream_last_applied_age_seconds"],
        "reconcile_drift_found": None,
        "reconcile_drift_repaired": None,
        "lost_changes": 0,
        "lost_changes_open": False,
    }
    assert isinstance(notes["stream_last_applied_age_seconds"], float)
    assert datetime.fromisoformat(notes["stream_last_applied_at"]).tzinfo is not None
    assert notes["backfill_finalized_at"] is None
    assert (orders["conflicts_24h"], orders["open_dead_letters"]) == (0, 0)
    assert set(archive.values()) == {None}  # not synced: no figures


def _counts_for_notes(conn: Any) -> None:
    """Two conflicts, an open dead letter, a backfill of 2 done chunks, a stream batch."""
    for offset in (1, 2):
        conn.execute(
            "INSERT INTO mps_sync.conflicts (source_table, target_table, key, incoming_side,"
            " winner, rule, kind, kafka_offset) VALUES ('legacy.notes', 'public.notes', '[1]',"
            " 'mysql', 'mysql', 'mysql_wins', 'update_update', %s)",
            (offset,),
        )
    conn.execute(
        "INSERT INTO mps_sync.dead_letters (source_table, error_class, error, dead_letter_topic)"
        " VALUES ('legacy.notes', 'ConversionError', 'x', 'dlq')"
    )
    conn.execute(
        "INSERT INTO mps_sync.backfill_tables (source_table, target_table, key_columns,"
        " strategy, reader, chunk_rows) VALUES"
        " ('legacy.notes', 'public.notes', '{id}', 'integer', 'connectorx', 100)"
    )
    for seq, state, rows in ((0, "done", 1_500_000_000), (1, "done", 1_500_000_000)):
        conn.execute(
            "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, rows)"
            " VALUES ('legacy.notes', %s, %s, %s)",
            (seq, state, rows),
        )
    conn.execute(
        "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, est_rows)"
        " VALUES ('legacy.notes', 2, 'planned', 7)"
    )
    conn.execute(
        "INSERT INTO mps_sync.stream_metrics (source_table, incoming_side, last_lag_ms,"
        " events_per_s, last_applied_at) VALUES ('legacy.notes', 'mysql', 1234, 40.5, now())"
    )


def test_status_without_the_state_database_exits_1(folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MPS_PG_PORT", "1")  # nothing listens there
    assert main(["status", "--mappings", str(folder)]) == 1
    assert capsys.readouterr().out.startswith("error: state database unreachable: ")
