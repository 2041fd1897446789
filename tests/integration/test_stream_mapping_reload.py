"""A running stream service reads the mapping files again when they change: a column the
mapping takes in (`mappings generate` after a migration) is carried from its next change on,
without a restart; files that do not validate leave the service on the mappings it has."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows, wait_until

from mysql_pg_sync.cdc.service import run_stream
from mysql_pg_sync.mapping.models import dump_yaml_entry

pytestmark = pytest.mark.integration


def _write(path: Path, items: Pipeline, *, note_excluded: bool) -> None:
    entry = dump_yaml_entry(items.mappings.tables[0])
    for column in entry["columns"]:
        if column["name"] == "note":
            column["exclude"] = note_excluded
    path.write_text(yaml.safe_dump([entry]))


def test_a_running_service_takes_changed_mappings_without_a_restart(
    items: Pipeline, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping_file = folder / "items.yaml"
    _write(mapping_file, items, note_excluded=True)
    done = threading.Event()
    out: dict[str, Any] = {}

    def serve() -> None:
        try:
            out["summary"] = run_stream(
                items.endpoints,
                folder,
                items.config,
                max_seconds=180,
                stop=done.is_set,
                mappings_check_s=0.5,
            )
        except BaseException as exc:
            out["error"] = exc

    caplog.set_level(logging.INFO, logger="mysql_pg_sync.cdc.service")
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        mysql_rows(items, "INSERT INTO items VALUES (1, 'a', 1, 1, NOW(6), 'first')")
        wait_until(lambda: pg_rows(items, "SELECT id, note FROM items") == [(1, None)])

        # files that do not validate: logged, and the service streams on with what it has
        (folder / "broken.yaml").write_text("- source: nope\n")
        wait_until(lambda: "do not validate" in caplog.text)
        mysql_rows(items, "INSERT INTO items VALUES (2, 'b', 2, 1, NOW(6), 'second')")
        wait_until(lambda: pg_rows(items, "SELECT id, note FROM items WHERE id = 2") == [(2, None)])
        (folder / "broken.yaml").unlink()

        # the mapping now takes the column in: the next change carries it
        _write(mapping_file, items, note_excluded=False)
        wait_until(lambda: "consuming with the new mappings" in caplog.text)
        mysql_rows(items, "UPDATE items SET note = 'now carried', qty = 3 WHERE id = 1")
        wait_until(
            lambda: (
                pg_rows(items, "SELECT note, qty FROM items WHERE id = 1") == [("now carried", 3)]
            )
        )
        assert thread.is_alive(), "the stream run ended"
    finally:
        done.set()
        thread.join(120)
    assert "error" not in out, out.get("error")
    assert out["summary"]["mapping_reloads"] >= 1
    assert out["summary"]["dead_letters"] == 0
