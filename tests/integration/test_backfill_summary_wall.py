"""The DAG's summary times the load as the CLI does: from the run's start to its last table's
finalize, not to the summary task after verify (which halved the rows/s the DAG reported)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from tests.integration.test_backfill import make_backfill, mysql_admin_exec

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

OPTIONS = RunOptions(chunk_rows=1_000)
AFTER_S = 3.0  # what the verify step and the scheduler took before the summary ran


def _mapping(db: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.w",
            "target": "public.w",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "v", "column_type": "varchar(20)"},
            ],
        }
    )


def test_the_summary_times_the_load_up_to_the_last_finalize(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE w (id int PRIMARY KEY, v varchar(20))",
        "INSERT INTO w SELECT seq, 'x' FROM seq_1_to_3000",
    )
    mapping = _mapping(mysql_db.database)
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    started = time.monotonic()
    bf.start_run("wall1", OPTIONS)
    outcome = bf.plan(OPTIONS)
    bf.prepare_all(OPTIONS, [mapping.name])
    for group in outcome.groups:
        bf.copy_group(group, "wall1", OPTIONS.batch_rows)
    bf.finalize_all([mapping.name]).raise_for_failures()
    load_s = time.monotonic() - started
    time.sleep(AFTER_S)
    summary = bf.summarize("wall1", [mapping.name])
    assert summary["total"]["run_rows"] == 3000
    assert summary["total"]["wall_s"] <= load_s + 0.5, (summary["total"], load_s)
