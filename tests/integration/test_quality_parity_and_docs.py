"""A real GE run: the parity gap in words and by size, row keys of a custom check's failures,
GE's INFO lines kept out of the log, and old Data Docs pages pruned."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration
NAMES = ["admins", "Editors", "guests"]


def _mapping(db: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.grp",
            "target": "public.grp",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "name", "column_type": "varchar(32)"},
            ],
        }
    )


@pytest.fixture
def setup(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, MappingSet, Path]:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    cur = conn.cursor()
    cur.execute("CREATE TABLE grp (id int PRIMARY KEY, name varchar(32))")
    rows = [(i + 1, n) for i, n in enumerate(NAMES)] + [(i, f"g{i}") for i in range(4, 154)]
    cur.executemany("INSERT INTO grp VALUES (%s, %s)", rows)
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("CREATE TABLE public.grp (id integer PRIMARY KEY, name varchar(32))")
        for i, n in enumerate(NAMES):
            pg.execute("INSERT INTO public.grp VALUES (%s, %s)", (i + 1, n))
    folder = tmp_path / "expectations"
    folder.mkdir()
    (folder / "t.yaml").write_text(
        f"""
defaults:
  data_docs: {{keep_runs: 1}}
tables:
  {db}.grp:
    expectations:
      - name: name_lowercase_start
        type: expect_column_values_to_match_regex
        kwargs: {{column: name, regex: "^[a-z]"}}
""",
        encoding="utf-8",
    )
    eps = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    return eps, MappingSet((_mapping(db),)), folder


def _run_times(folder: Path, suffix: str) -> set[str]:
    return {p.parent.name for p in folder.rglob(f"*{suffix}")}


def test_parity_gap_custom_keys_quiet_logs_and_pruned_docs(
    setup, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    endpoints, mappings, folder = setup
    config = load_quality_config(folder)
    reports = tmp_path / "reports"
    caplog.set_level(logging.INFO)
    run_quality(endpoints, mappings, config, "manual__1", reports=reports)
    run = run_quality(endpoints, mappings, config, "manual__2", reports=reports)
    table = mappings.tables[0].name
    by_id = {r.check_id: r for r in run.results}

    parity = by_id["row_count_parity"]
    assert (parity.outcome, parity.severity, parity.observed) == ("failed", "fail", 3)
    assert parity.detail.startswith(
        "PostgreSQL has 3 rows, MySQL 153: 150 row(s) missing in PostgreSQL (98% of MySQL's "
        "rows); tolerated: 137 to 169 rows; a fail whatever its severity"
    )
    assert f"reconcile --tables {table} --repair --no-dry-run" in parity.detail
    assert f"[fail] {table} row_count_parity: PostgreSQL has 3 rows, MySQL 153" in run.summary()

    custom = by_id["custom:name_lowercase_start"]
    assert (custom.outcome, custom.sample, custom.sample_keys) == (
        "failed",
        ["Editors"],
        [{"id": 2}],
    )
    assert "e.g. 'Editors' at key id=2" in run.summary()

    gx_info = [r for r in caplog.records if r.name.startswith("great_expectations")]
    assert [r for r in gx_info if r.levelno < logging.WARNING] == []

    quality = reports / "quality"
    assert len(_run_times(quality / "data_docs" / "validations", ".html")) == 1
    assert _run_times(quality / "gx" / "validations", ".json") == _run_times(
        quality / "data_docs" / "validations", ".html"
    )
    assert "needs internet access" in (quality / "latest.html").read_text()
