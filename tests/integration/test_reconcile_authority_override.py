"""After the PostgreSQL capture lost changes (a dropped or invalidated replication slot),
PostgreSQL holds every change of the gap: a reconcile run with authoritative=postgres copies
them to MySQL, where the mapping's default side (MySQL) would delete or overwrite them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.integration.stream_harness import Pipeline, mysql_rows, pg_rows

from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all

pytestmark = pytest.mark.integration


def test_a_run_copies_from_the_side_it_names(items: Pipeline, tmp_path: Path) -> None:
    mysql_rows(items, "INSERT INTO items VALUES (1, 'both', 1, 1, '2026-01-01', NULL)")
    with items.pg() as pg:  # as MySQL had it, plus the PostgreSQL app's writes of the gap
        pg.execute("INSERT INTO items VALUES (1, 'pg edit', 5, 1, '2026-01-02', NULL)")
        pg.execute("INSERT INTO items VALUES (2, 'pg insert', 2, 2, '2026-01-02', NULL)")
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    assert items.mappings.tables[0].reconcile.authoritative == "mysql"
    params = ReconcileParams(
        mappings=str(folder),
        recheck_delay_s=0,
        repair=True,
        dry_run=False,
        authoritative="postgres",
    )
    run, _, _ = reconcile_all(items.endpoints, params, folder=tmp_path)
    (table,) = run["tables"]
    assert table["repairs"] == {"applied": 2}
    assert run["params"]["authoritative"] == "postgres"
    expected = [(1, "pg edit", 5), (2, "pg insert", 2)]
    assert mysql_rows(items, "SELECT id, name, qty FROM items ORDER BY id") == expected
    assert pg_rows(items, "SELECT id, name, qty FROM items ORDER BY id") == expected
