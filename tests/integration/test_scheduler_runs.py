"""DAG runs under the real scheduler (LocalExecutor), triggered through the REST API as the UI does.

``dag.test()`` runs every task inside the test's process, with the test's environment. Here the
scheduler's task processes must find the Airflow connections, the pools, the plugin path and the
library on their own; Params come from the trigger request; the reconcile run's Asset event must
schedule data_quality.

- reconcile (dry run, one demo table) succeeds, and the data_quality run its Asset event starts
  succeeds too, judging that reconcile run;
- backfill (dry run, one demo table) succeeds.

Works on a demo table (``make demo``), and makes it when it is missing (a fresh machine). The
DAGs are unpaused only while their runs go and left paused or not as found
(:func:`airflow_api.scheduling`). While a DAG is unpaused the scheduler also takes over the
tasks of its ``dag.test()`` runs, with their conf and on the stack's connections: the file waits
for those to end first, but do not start DAG tests while it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.airflow_api import api, poll, scheduling, trigger, wait_for_run

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import Backfill, RunOptions
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.demo.run import load_schema
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.settings import Endpoints, mappings_dir

pytestmark = pytest.mark.slow  # ~25 s; minutes when another run of the DAG goes first

DEMO_TABLE = "legacy.customers"
# Another run may go first (max_active_runs=1; unpausing reconcile catches up its nightly run).
RUN_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def demo_table(endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> TableMapping:
    """The demo table the runs work on. On a fresh machine (CI has not run `make demo`) the
    demo's tables are made first, on both sides: the data_quality run judges every mapped
    table, and one missing in PostgreSQL would fail it."""
    mappings = load_mappings(mappings_dir())
    mapping = mappings.by_source(DEMO_TABLE)
    conn = mysql_connect(endpoints.mysql)
    try:
        cursor = conn.cursor()
        cursor.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s"
            " AND table_name = %s",
            (mapping.source.db, mapping.source.table),
        )
        in_mysql = cursor.fetchone()[0] == 1
    finally:
        conn.close()
    with pg_connect(endpoints.postgres) as pg:
        missing = [
            m
            for m in mappings.enabled()
            if not pg.execute(
                "SELECT to_regclass(format('%%I.%%I', %s::text, %s::text)) IS NOT NULL",
                (m.target.schema, m.target.table),
            ).fetchone()[0]
        ]
    if mapping not in missing and not in_mysql:
        pytest.fail(
            f"{DEMO_TABLE} is in PostgreSQL but not in MySQL: run `make demo` to set both up"
        )
    if not in_mysql:
        load_schema(endpoints)  # `make demo`'s first step: the demo tables and rows in MySQL
    if missing:
        _copy(endpoints, missing, tmp_path_factory.mktemp("reports"))
    return mapping


def _copy(endpoints: Endpoints, mappings: list[TableMapping], reports: Path) -> None:
    """The demo's backfill of these tables, without CDC (no connector runs for the demo here)."""
    backfill = Backfill(
        endpoints,
        MappingSet(tuple(mappings)),
        capture_check=handoff.assume_capture_running("demo"),
        position_reader=lambda topic: {topic: {}},
        reports_dir=reports,
    )
    options = RunOptions()
    backfill.start_run("scheduler-test-setup", options)
    outcome = backfill.plan(options)
    for table in outcome.tables:
        backfill.prepare(options, table["table"])
    for group in outcome.groups:
        backfill.copy_group(group, "scheduler-test-setup", options.batch_rows)
    for table in outcome.tables:
        backfill.finalize(table["table"], strict_counts=True)


def _reconcile_event(run_id: str) -> dict[str, Any] | None:
    """The Asset event of a reconcile run, once it has started a data_quality run."""
    events = api("GET", f"/api/v2/assets/events?source_dag_id=reconcile&source_run_id={run_id}")[
        "asset_events"
    ]
    return next((e for e in events if e["created_dagruns"]), None)


def test_reconcile_run_and_the_data_quality_run_it_schedules(
    airflow_ui: str, demo_table: TableMapping
) -> None:
    with scheduling("reconcile", "data_quality"):
        run_id = trigger(
            "reconcile",
            {"tables": [demo_table.name], "dry_run": True, "recheck_delay_s": 5},
        )
        wait_for_run("reconcile", run_id, RUN_TIMEOUT_S)

        event = poll(f"the Asset event of reconcile run {run_id}", lambda: _reconcile_event(run_id))
        assert event["extra"]["status"] == "succeeded", event
        (quality,) = [r for r in event["created_dagruns"] if r["dag_id"] == "data_quality"]
        wait_for_run("data_quality", quality["run_id"], RUN_TIMEOUT_S)

    validated = api(
        "GET",
        f"/api/v2/dags/data_quality/dagRuns/{quality['run_id']}/taskInstances/validate"
        "/xcomEntries/return_value",
    )["value"]
    # The newest reconcile run among the events it consumed: ours, unless a dag.test() run
    # (whose run ids count in its own database) wrote an event meanwhile.
    assert validated["reconcile"] == event["extra"], validated


def test_backfill_dry_run_of_one_table(airflow_ui: str, demo_table: TableMapping) -> None:
    with scheduling("backfill"):
        run_id = trigger("backfill", {"tables": [demo_table.name], "dry_run": True})
        wait_for_run("backfill", run_id, RUN_TIMEOUT_S)
