"""
### data_quality

Validates every synced PostgreSQL table with **Great Expectations** after each `reconcile` run
(Asset `mysql_pg_sync://reconcile`) or on demand from the UI.

Checks come from each table's mapping (key unique and not null, NOT NULL columns, enum and set
members, the MySQL value ranges a wider PostgreSQL type does not enforce, row-count parity with
MySQL within an in-flight tolerance, freshness of the newest change against MySQL, unrepaired
reconcile drift, conflicts in the last 24 h, dead letters) plus the users' own in
`include/expectations/*.yaml`. Each has a severity: a **fail** breach fails the run (no retry)
and alerts through the shared failure notifier (`mps_alerts`: log, email or webhook); a
**warn** breach is reported only.

After a reconcile run, unrepaired drift is judged as of that run (the Asset event's
`run_id`; its `status` heads the summary and the report): a table the run could not compare
is a fail-severity error naming the run and the drift the previous run left, never "0 drift".

Results land in `mps_sync.dq_runs` / `mps_sync.dq_results`, in the GE validation store, in Data
Docs and in a self-contained HTML report under `$MPS_REPORTS_DIR/quality/` (linked from the
**Sync status** page).

Params: `tables` (empty = every enabled table; MySQL `db.table`, PostgreSQL `schema.table`, bare
names or globs, as `reconcile` and `backfill` take them). A name or glob that selects no synced
table, or a conf key that is not a Param, fails the run at once, without retries (the error
lists the known tables or the valid Params).

**Unpause this DAG** for reconcile runs to start it: Airflow creates DAGs paused, and an Asset
event that arrives while this DAG is paused starts no run (the UI's trigger form unpauses only
the DAG it triggers).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, Asset, Param, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

RECONCILE_DONE = Asset("mysql_pg_sync://reconcile")
QUALITY_DONE = Asset("mysql_pg_sync://data_quality")

with DAG(
    dag_id="data_quality",
    doc_md=__doc__,
    schedule=[RECONCILE_DONE],
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "quality"],
    params={
        "tables": Param(
            [],
            type=["null", "array"],  # a "null" type keeps the form from marking it required
            items={"type": "string"},
            description="Tables to validate: MySQL db.table, PostgreSQL schema.table, bare "
            "names or globs (order*), as reconcile takes them; empty = every enabled table.",
        )
    },
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "on_failure_callback": notify_failure,
    },
):

    @task(outlets=[QUALITY_DONE])
    def validate() -> dict[str, object]:
        """Run the checks; a fail-severity breach fails the task without retrying."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.asset_events import reconcile_trigger
        from mysql_pg_sync.airflow.dag_params import failing_now, refuse_unknown_conf
        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.errors import MappingError
        from mysql_pg_sync.quality.run import DataQualityBreach, raise_on_breach, run_configured

        context = get_current_context()
        refuse_unknown_conf(context)
        trigger = reconcile_trigger(context, RECONCILE_DONE)
        with failing_now(MappingError):  # an unknown table name: it stays unknown on a retry
            run = run_configured(
                context["run_id"],
                context["params"]["tables"] or (),
                endpoints_from_airflow(),
                trigger,
            )
        print(run.summary())
        try:
            raise_on_breach(run)
        except DataQualityBreach as breach:
            raise AirflowFailException(str(breach)) from None
        return {
            "run_id": run.run_id,
            "report": run.report_path,
            "reconcile": None if trigger is None else trigger.as_dict(),
            **run.counts(),
        }

    validate()
