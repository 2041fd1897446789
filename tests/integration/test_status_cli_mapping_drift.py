"""`status` reads the stream's mapping drift from ``mps_sync``: a table whose changes carry a
column the mapping does not list is yellow (exit 3) with the column and the fix, until the
mapping lists it or a later batch applies the table without drift."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cdc.apply import BatchResult
from mysql_pg_sync.cdc.metrics import record_batch
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import Side
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema

pytestmark = pytest.mark.integration


def _write_mapping(folder: Path, *extra: str, postgres_only: tuple[str, ...] = ()) -> None:
    columns = [{"name": "id", "column_type": "int(11)", "nullable": False}]
    columns += [{"name": c, "column_type": "varchar(20)"} for c in extra]
    mapping: dict[str, Any] = {
        "source": "legacy.invoices",
        "target": "public.invoices",
        "key": ["id"],
        "columns": columns,
    }
    if postgres_only:
        mapping["postgres_only_columns"] = list(postgres_only)
    (folder / "invoices.yaml").write_text(yaml.safe_dump(mapping))


def _batch(pg: DatabaseEndpoint, drift: tuple[str, ...], side: Side = "mysql") -> None:
    """A batch as the consumer records it: one applied change, with or without drift."""
    result = BatchResult()
    counts = result.counts("legacy.invoices", side)
    counts.events = counts.applied = 1
    if drift:
        result.drift[("legacy.invoices", side)] = drift
    with pg_connect(pg, autocommit=True) as conn:
        record_batch(conn, result, {}, 0.1)


def _state_db(pg: DatabaseEndpoint, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPS_PG_DATABASE", pg.database)
    monkeypatch.setenv("MPS_CONNECT_URL", "http://127.0.0.1:1")  # connectors: not the point
    with pg_connect(pg, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute("INSERT INTO mps_sync.stream_runs (run_id, heartbeat_at) VALUES ('r', now())")


def _status(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["status", "--mappings", str(folder), "--json"])
    (table,) = json.loads(capsys.readouterr().out)["tables"]
    return code, table


def test_status_shows_drift_until_the_mapping_lists_the_column(
    pg_db: DatabaseEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    _state_db(pg_db, monkeypatch)
    _write_mapping(tmp_path)
    _batch(pg_db, ("ref_code",))

    code, table = _status(tmp_path, capsys)
    assert code == 3
    assert table["health"] == "failed"  # red for the unreachable Connect; drift alone: yellow
    assert table["mapping_drift"] == [{"incoming_side": "mysql", "columns": ["ref_code"]}]
    assert (
        "mapping drift: columns not synced: ref_code (mysql); run `make mappings-generate`"
        in (table["reason"])
    )
    main(["status", "--mappings", str(tmp_path)])  # the terminal table says it too
    assert "legacy.invoices: " in capsys.readouterr().out

    _write_mapping(tmp_path, "ref_code")  # `mappings generate` took it in; the row stays
    _code, table = _status(tmp_path, capsys)
    assert table["mapping_drift"] == []
    assert "mapping drift" not in table["reason"]

    # the column came back out of MySQL before the mapping changed: a later batch of the table
    # applied without drift, so the old row no longer counts
    _write_mapping(tmp_path)
    _batch(pg_db, ("ref_code",))
    assert _status(tmp_path, capsys)[1]["mapping_drift"] != []
    _batch(pg_db, ())  # its own, later transaction
    assert _status(tmp_path, capsys)[1]["mapping_drift"] == []


def test_status_shows_a_postgres_only_column_until_the_mapping_acknowledges_it(
    pg_db: DatabaseEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The PostgreSQL app added `audit_note` on purpose: drift (it never reaches MySQL) until
    the entry lists it under postgres_only_columns; no later batch is needed to clear it."""
    _state_db(pg_db, monkeypatch)
    _write_mapping(tmp_path)
    _batch(pg_db, ("audit_note",), side="postgres")

    _code, table = _status(tmp_path, capsys)
    assert table["mapping_drift"] == [{"incoming_side": "postgres", "columns": ["audit_note"]}]
    assert "mapping drift: columns not synced: audit_note (postgres)" in table["reason"]
    assert "list it under `postgres_only_columns` in the table's mapping" in table["reason"]

    _write_mapping(tmp_path, postgres_only=("audit_note",))
    _code, table = _status(tmp_path, capsys)
    assert table["mapping_drift"] == []
    assert "mapping drift" not in table["reason"]

    # another column the PostgreSQL app adds later is drift again, named alone
    _batch(pg_db, ("audit_note", "surprise"), side="postgres")
    _code, table = _status(tmp_path, capsys)
    assert table["mapping_drift"] == [{"incoming_side": "postgres", "columns": ["surprise"]}]
