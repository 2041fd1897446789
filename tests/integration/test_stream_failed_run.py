"""A stream run that an error stops ends its run row with the error, so the status page says
the stream is failing instead of counting every crashed try as a running consumer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import Pipeline, pg_rows

from mysql_pg_sync.cdc.service import run_stream
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.status.model import consumer_text
from mysql_pg_sync.status.read import SECTION_QUERIES

pytestmark = pytest.mark.integration


def _consumers(items: Pipeline) -> tuple[str, bool | None]:
    with pg_connect(items.endpoints.postgres, autocommit=True) as conn:
        cur = conn.execute(SECTION_QUERIES["consumers"])  # type: ignore[arg-type]
        names = [c.name for c in cur.description or []]
        row = cur.fetchone()
    assert row is not None
    return consumer_text(dict(zip(names, row, strict=True)))


def test_a_run_stopped_by_an_error_is_failed_not_running(items: Pipeline, tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(items.mappings.tables[0])]))

    def boom() -> Any:
        raise RuntimeError("disk on fire")

    for _ in range(3):  # a crash loop: each try leaves a row
        with pytest.raises(RuntimeError, match="disk on fire"):
            run_stream(items.endpoints, folder, items.config, max_seconds=60, stop=boom)
    rows = pg_rows(
        items, "SELECT finished_at IS NOT NULL, summary->>'error' FROM mps_sync.stream_runs"
    )
    assert rows == [(True, "RuntimeError: disk on fire")] * 3
    text, running = _consumers(items)
    assert running is False
    assert text.startswith("failing: the last run failed ")
    assert "(RuntimeError: disk on fire)" in text

    # a run that ends normally afterwards: no longer failing
    summary = run_stream(items.endpoints, folder, items.config, max_seconds=1)
    assert "error" not in summary
    text, running = _consumers(items)
    assert running is True
    assert text.startswith("between runs")
