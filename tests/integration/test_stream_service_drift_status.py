"""A stream service says at its start what it consumes; while it runs, a column the mapping
does not list shows on the status model (yellow, with the fix), on /metrics and in the run's
summary so far, and clears once the mapping lists the column."""

from __future__ import annotations

import logging
import re
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows, wait_until

from mysql_pg_sync.cdc.service import run_stream
from mysql_pg_sync.mapping.models import dump_yaml_entry, load_mappings
from mysql_pg_sync.status.model import TableStatus, UnsyncedColumns, build_status
from mysql_pg_sync.status.read import read_snapshot

pytestmark = pytest.mark.integration


def _write(path: Path, items: Pipeline, *, with_note: bool) -> None:
    entry = dump_yaml_entry(items.mappings.tables[0])
    if not with_note:  # the mapping as it was before a migration added `note` in MySQL
        entry["columns"] = [c for c in entry["columns"] if c["name"] != "note"]
    path.write_text(yaml.safe_dump([entry]))


def _status(items: Pipeline, folder: Path) -> TableStatus:
    snapshot = read_snapshot(items.endpoints, with_connectors=False)
    (row,) = build_status(load_mappings(folder).enabled(), snapshot)
    return row


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drift_gauge(port: int, table: str) -> float | None:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(
        rf'^mps_stream_mapping_drift\{{incoming_side="mysql",table="{re.escape(table)}"\}} (\S+)$',
        text,
        re.M,
    )
    return float(found.group(1)) if found else None


def _running_summary(items: Pipeline) -> dict[str, Any] | None:
    rows = pg_rows(
        items, "SELECT summary FROM mps_sync.stream_runs WHERE finished_at IS NULL LIMIT 1"
    )
    return rows[0][0] if rows else None


def test_a_service_shows_mapping_drift_while_it_runs_and_clears_it(
    items: Pipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping_file = folder / "items.yaml"
    _write(mapping_file, items, with_note=False)
    table = items.mappings.tables[0].name
    port = _free_port()
    done = threading.Event()
    out: dict[str, Any] = {}

    def serve() -> None:
        try:
            out["summary"] = run_stream(
                items.endpoints,
                folder,
                items.config,
                max_seconds=180,
                metrics_port=port,
                stop=done.is_set,
                mappings_check_s=0.5,
                heartbeat_s=0.5,
            )
        except BaseException as exc:
            out["error"] = exc

    caplog.set_level(logging.INFO, logger="mysql_pg_sync.cdc.service")
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        wait_until(lambda: "consuming" in caplog.text, timeout_s=60)
        assert re.search(
            r"stream run \w+: consuming 1 table\(s\) from 2 topic\(s\) as consumer group "
            rf"{re.escape(items.config.group_id)}; Prometheus metrics on "
            rf"http://127\.0\.0\.1:{port}/metrics",
            caplog.text,
        ), caplog.text

        mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), 'not mapped')")
        wait_until(lambda: pg_rows(items, "SELECT id, note FROM items") == [(1, None)])
        row = _status(items, folder)
        assert row.mapping_drift == (UnsyncedColumns("mysql", ("note",)),)
        assert row.health == "warn"
        assert "mapping drift: columns not synced: note (mysql); run `make mappings-generate`" in (
            row.reason
        )
        wait_until(lambda: _drift_gauge(port, table) == 1.0, timeout_s=30)
        # the service's summary while it runs, written with its heartbeat
        wait_until(lambda: bool((_running_summary(items) or {}).get("mapping_drift")), 30)
        summary = _running_summary(items)
        assert summary is not None
        assert summary["mapping_drift"] == {f"{table} (mysql)": ["note"]}
        assert summary["held_now"] == {}
        assert summary["applied"] >= 1

        # `mappings generate` lists the column: the status clears at once, whatever the old
        # drift row says; the service reloads and carries the column from the next change
        _write(mapping_file, items, with_note=True)
        row = _status(items, folder)
        assert (row.mapping_drift, row.reason) == ((), "")
        assert row.health == "nodata"  # no backfill state in this pipeline; not yellow
        wait_until(lambda: "consuming with the new mappings" in caplog.text)
        mysql_rows(items, "UPDATE items SET note = 'carried', qty = 2 WHERE id = 1")
        wait_until(lambda: pg_rows(items, "SELECT note FROM items") == [("carried",)])
        wait_until(lambda: _drift_gauge(port, table) == 0.0, timeout_s=30)
        assert thread.is_alive(), "the stream run ended"
    finally:
        done.set()
        thread.join(120)
    assert "error" not in out, out.get("error")
    assert out["summary"]["mapping_reloads"] == 1
