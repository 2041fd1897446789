"""``reconcile_drift`` says which reconcile run it judged and when that run finished, and a run
older than ``reconcile_max_age_hours`` (default 72: reconcile is nightly) is a breach.

Before, a data_quality run (from the UI, or after a reconcile of other tables) judged the
table's latest reconcile run whatever its age: one finished 40 days ago passed as "observed 0",
with nothing in the summary, the report or the JSON naming that run or its age.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.results import CheckResult, describe
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema


def _drift_after_reconcile(
    age: str,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    expectations: Path,
    reports: Path,
) -> tuple[CheckResult, int, str, bool]:
    """The reconcile_drift result after one in-sync reconcile run finished ``age`` ago; with
    the run's id, its finish date and whether the data-quality run succeeded."""
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY)")
    conn.cursor().execute("INSERT INTO t VALUES (1), (2)")
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("CREATE TABLE public.t (id integer PRIMARY KEY)")
        pg.execute("INSERT INTO public.t VALUES (1), (2)")
        ensure_schema(pg)
        row = pg.execute(
            "INSERT INTO mps_sync.reconcile_runs (status, started_at, finished_at) VALUES"
            " ('succeeded', now() - %s::interval, now() - %s::interval) RETURNING run_id",
            (age, age),
        ).fetchone()
        assert row is not None
        run_id = int(row[0])
        pg.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status,"
            " drift_found, drift_repaired, finished_at) VALUES (%s, %s, 'public.t', 'in_sync',"
            " 0, 0, now() - %s::interval)",
            (run_id, f"{db}.t", age),
        )
        day = pg.execute("SELECT ((now() - %s::interval) AT TIME ZONE 'UTC')::date::text", (age,))
        finished = str(day.fetchone()[0])  # type: ignore[index]
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
    )
    run = run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet((mapping,)),
        load_quality_config(expectations),
        "manual__stale",
        reports=reports,
    )
    (drift,) = [r for r in run.results if r.check == "reconcile_drift"]
    return drift, run_id, finished, run.success


@pytest.mark.parametrize(
    ("age", "max_age_hours", "stale"),
    [
        ("40 days", None, True),  # the default 72 h
        ("2 hours", None, False),
        ("40 days", 1000, False),  # a table reconciled less often: its threshold is raised
    ],
)
def test_drift_names_the_run_it_judged_and_an_old_one_is_a_breach(
    age: str,
    max_age_hours: int | None,
    stale: bool,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    if max_age_hours is not None:
        (expectations / "t.yaml").write_text(
            f"tables:\n  t:\n    thresholds:\n      reconcile_max_age_hours: {max_age_hours}\n"
        )
    drift, run_id, finished, success = _drift_after_reconcile(
        age, mysql_db, mysql_admin, pg_db, endpoints, expectations, tmp_path / "reports"
    )
    text = describe(drift)
    assert f"reconcile run {run_id}" in text, text
    assert f"finished {finished}" in text, text
    if stale:
        assert drift.outcome == "error", text
        assert drift.severity == "fail"
        assert "40.0 days old, older than reconcile_max_age_hours (72 h)" in text, text
        assert not success
    else:
        assert drift.outcome == "passed", text
        assert drift.observed == 0
        assert success
