"""
### reconcile

Nightly checksum comparison of every mapped table pair, down to the rows that differ, with an
optional repair (design decision 4). Schedule: `$MPS_RECONCILE_CRON` (default `0 2 * * *`, read
when the DAG file is parsed); trigger it from the UI with Params for a chosen set of tables.

1. **start**: picks the tables (Param `tables`: names or globs as `backfill` takes them, empty =
   every enabled mapping) and records a run in `mps_sync.reconcile_runs`. A mapping that cannot
   be read, a name or glob no mapping matches (the error lists the known tables) or a conf key
   that is not a Param (the error lists the valid ones) fails it at once, without retries, and
   that failure is the run's only alert.
2. **compare** (mapped per table, pool `mysql_source_reads`): both databases compute count +
   checksum per key segment in SQL, in parallel; mismatching segments are bisected to rows,
   rows are classified *missing* (in MySQL only), *extra* (in PostgreSQL only) or *different*
   (differing columns named). Suspects are compared again once the stream consumer has applied
   what Kafka held for the table (at most `recheck_delay_s` of waiting), so rows that were in
   flight are not drift. With `repair` **and `dry_run` off**, confirmed drift is
   repaired from the winning side through the stream applier, under the mapping's conflict
   rule. `dry_run` is on by default: with it, `repair` only plans the repairs and records them
   (status `dry_run` in `mps_sync.reconcile_repairs`), **nothing is written**, and the run
   summary says so. `max_repairs` limits the whole run: a table whose repairs
   would take the run past it is refused as a whole. A table whose schema differs from its
   mapping fails alone (no retry); an unreachable database fails the task, which retries. A
   retry keeps the repairs an earlier attempt applied and settles the ones it left `planned`.
   A table still `backfilling` is not compared: `skipped` (no failure, no alert) while its
   backfill moves; an error once no chunk has changed for 15 minutes (resume the backfill if
   no backfill run is active, then reconcile the table).
   A failed compare task does not alert itself: the table is an error in the report, and the
   verdict's alert names it (one alert per failure).
3. **report** (runs even when a table failed): writes `$MPS_REPORTS_DIR/reconcile-<run>.json` and
   `.html` (self-contained), stores the run's status and updates the Asset
   `mysql_pg_sync://reconcile` (extra: `run_id`, `status`), which schedules the `data_quality`
   DAG. A table that never finished (a killed or timed-out task, PostgreSQL unreachable) is an
   error, so the run's status is `failed`, never `succeeded`. Its summary (task log and
   return value) names each table not in sync and whether repairs were written or only planned.
4. **verdict**: fails the DAG run, which alerts through the shared notifier, when the run's
   status is `drift` (confirmed drift left unrepaired: repair off, a dry run, refused or failed
   repairs; or not conclusive: a table whose re-check timed out, the stream not caught up, is
   not repaired at all) or `failed` (the alert names each table that could not be compared,
   with its error and what to do). It runs after the report, so the report and the Asset event
   are out either way.

Drift rows: `SELECT * FROM mps_sync.reconcile_drift WHERE run_id = <run>`; every repair, planned,
refused or applied: `mps_sync.reconcile_repairs`.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

RECONCILE_DONE = Asset("mysql_pg_sync://reconcile")
PARAM_NAMES = ("tables", "dry_run", "repair", "max_repairs", "recheck_delay_s", "authoritative")


def _params() -> Any:
    from mysql_pg_sync.reconcile.service import ReconcileParams

    params = get_current_context()["params"]
    return ReconcileParams.from_dict({k: params[k] for k in PARAM_NAMES})


@dag(
    dag_id="reconcile",
    doc_md=__doc__,
    schedule=os.environ.get("MPS_RECONCILE_CRON", "0 2 * * *"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "reconcile"],
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "on_failure_callback": notify_failure,
    },
    params={
        "tables": Param(
            [],
            type=["null", "array"],  # a "null" type keeps the form from marking it required
            items={"type": "string"},
            description="MySQL db.table, PostgreSQL schema.table, bare names or globs "
            "(order*), as backfill takes them (a glob skips tables the mappings leave out); "
            "empty = every enabled table.",
        ),
        "repair": Param(
            False,
            type="boolean",
            description="Repair confirmed drift from the winning side. Repairs are written "
            "only with dry_run off; with dry_run on (the default) they are only planned and "
            "recorded.",
        ),
        "dry_run": Param(
            True,
            type="boolean",
            description="On (default): repairs are planned and recorded in "
            "mps_sync.reconcile_repairs, nothing is written. Turn it off, with repair on, to "
            "write the repairs.",
        ),
        "max_repairs": Param(
            1000,
            type="integer",
            minimum=0,
            description="Most repairs in the whole run (all tables); a table that would "
            "exceed it is refused.",
        ),
        "authoritative": Param(
            "mapping",
            type="string",
            enum=["mapping", "mysql", "postgres"],
            description="The side repairs copy from (rows only one side has, and rows the "
            "conflict rule cannot decide): each mapping's reconcile.authoritative, or one side "
            "for the whole run. After a capture gap choose the side whose changes were all "
            "captured: postgres after the PostgreSQL slot was lost, mysql after a binlog gap.",
        ),
        "recheck_delay_s": Param(
            30,
            type="number",
            minimum=0,
            description="Seconds, at most, to wait for the stream consumer to apply the "
            "table's changes in Kafka before suspects are compared again, so changes in flight "
            "are not drift (>= 0; a quiet table waits 2 s).",
        ),
    },
)
def reconcile() -> None:
    @task
    def start() -> list[dict[str, Any]]:
        """Record the run; one item per table for the mapped comparison. A mapping or setting
        that cannot be read fails without retrying: it stays wrong until someone fixes it."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.dag_params import refuse_unknown_conf
        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.errors import ConfigError, MappingError
        from mysql_pg_sync.reconcile.service import selected_mappings, start_run

        refuse_unknown_conf(get_current_context())
        try:
            params = _params()  # a value out of range stays wrong: no retry
            mappings = selected_mappings(params)
        except (MappingError, ConfigError) as exc:
            raise AirflowFailException(str(exc)) from None
        run_id = start_run(endpoints_from_airflow(), params, get_current_context()["run_id"])
        items = [{"run_id": run_id, "table": m.name, "target": str(m.target)} for m in mappings]
        return items or [{"run_id": run_id}]

    @task(pool="mysql_source_reads", map_index_template="{{ task.op_kwargs['item'].get('table') }}")
    def compare(item: dict[str, Any]) -> dict[str, Any]:
        """Compare (and repair) one table; a schema mismatch fails without retrying."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.reconcile.service import reconcile_one, selected_mappings

        if "table" not in item:
            return {"status": "no_tables"}
        params = _params()
        (mapping,) = selected_mappings(
            type(params)(**{**params.__dict__, "tables": (item["table"],)})
        )
        result = reconcile_one(endpoints_from_airflow(), item["run_id"], mapping, params)
        if result["status"] == "error":
            raise AirflowFailException(
                f"{item['table']}: {result['error'] or result['repair_message']}"
            )
        return {k: result[k] for k in ("table", "status", "drift", "repairs", "duration_s")}

    # all done, and at least `start` succeeded: a failed compare is reported, a failed start
    # (no run to report) alerts alone instead of failing this task too
    @task(outlets=[RECONCILE_DONE], trigger_rule="all_done_min_one_success")
    def report(items: list[dict[str, Any]]) -> dict[str, Any]:
        """Write the JSON and HTML reports and store the run's status; the Asset event
        carries that status, so a consumer can tell a failed run from a good one."""
        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.airflow.reconcile_summary import (
            failed_tables,
            not_conclusive_tables,
            summarize,
        )
        from mysql_pg_sync.reconcile.service import finish_run

        # every table the run started with: one whose task never stored a result fails the run
        expected = [(i["table"], i["target"]) for i in items if "table" in i]
        run, json_path, html_path = finish_run(
            endpoints_from_airflow(), items[0]["run_id"], expected=expected
        )
        get_current_context()["outlet_events"][RECONCILE_DONE].extra = {
            "run_id": run["run_id"],
            "status": run["status"],
        }
        summary = summarize(run, str(html_path))
        print(summary)
        return {
            "status": run["status"],
            "json": str(json_path),
            "html": str(html_path),
            "summary": summary,
            "failed_tables": failed_tables(run),
            "not_conclusive_tables": not_conclusive_tables(run),
        }

    @task
    def verdict(reported: dict[str, Any]) -> str:
        """Fail (no retry), and so alert, when drift is left or a table failed."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.reconcile_summary import verdict as run_verdict

        message = run_verdict(
            reported["status"],
            reported["summary"],
            reported.get("failed_tables", ()),
            reported.get("not_conclusive_tables", ()),
        )
        if message is not None:
            raise AirflowFailException(message)
        return reported["status"]

    items = start()
    reported = report(items)
    compare.expand(item=items) >> reported
    verdict(reported)


reconcile()
