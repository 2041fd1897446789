"""A table whose backfill has not finished is not compared: a reconcile of an emptied, half
copied table reported every row not copied yet as drift ("missing 52", recheck timed out),
without a word about the backfill, and a repair would have written them ahead of the copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.integration.stream_harness import Pipeline, mysql_rows

from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all

pytestmark = pytest.mark.integration


def test_a_backfilling_table_is_refused_with_what_to_do(items: Pipeline, tmp_path: Path) -> None:
    table = items.mappings.tables[0].name
    mysql_rows(items, "INSERT INTO items VALUES (1, 'not copied yet', 1, 1, NOW(6), NULL)")
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0, repair=True, dry_run=False)
    run, _, _ = reconcile_all(items.endpoints, params, folder=tmp_path)  # creates the schema
    assert run["tables"][0]["drift"]["missing"] == 1  # streaming: compared, and repaired
    with items.pg() as pg:
        pg.execute("DELETE FROM items")
        pg.execute(
            "INSERT INTO mps_sync.table_state (source_table, target_table, state) "
            "VALUES (%s, 'public.items', 'backfilling') ON CONFLICT (source_table) "
            "DO UPDATE SET state = 'backfilling'",
            (table,),
        )
    run, _, _ = reconcile_all(items.endpoints, params, folder=tmp_path)
    (result,) = run["tables"]
    assert result["status"] == "error"
    assert f"{table} is backfilling, so it was not compared" in result["error"]
    assert f"backfill run --mode resume --tables {table}" in result["error"]
    with items.pg() as pg:
        assert pg.execute("SELECT count(*) FROM items").fetchone() == (0,)  # nothing written
