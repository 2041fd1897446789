"""
### connectors

The Debezium source connectors, driven through the Kafka Connect REST API. Trigger with the
**action** param:

- `status`: a read-only look, changing nothing: each connector's state with its tasks, and
  what `apply`'s preflight would find now (it fails only when Kafka Connect cannot be read).
- `apply`: preflight (binlog, GTID and grants on MySQL; wal_level, slots and replica identity
  on PostgreSQL; Connect plugins), signal tables, then renders the configs from the mappings
  and PUTs them **only if they changed**; waits until the connector and every task is RUNNING.
- `pause` / `resume` / `stop`: both connectors; `stop` keeps the config (offsets can be edited).
- `restart_failed`: restarts failed connectors and tasks only, waits until RUNNING. A PAUSED or
  STOPPED connector is not failed: use `resume`.
- `apply` on a changed config stops the connector, PUTs, resumes; if Connect rejects the config
  (or the PostgreSQL slot is not released in time) the connector is put back as it was and the
  task fails with the reason.
- `reset_lost_positions`: for a connector that fails because its stored position is gone (MySQL
  purged the binlog, the PostgreSQL slot lost its WAL or was dropped) or the binlog holds an
  event there Debezium cannot read (an `ALLOW_INVALID_DATES` date, in any table): stops it,
  forgets the position (and drops an invalidated slot), applies again, so it captures from now,
  and records
  the gap for each table it captures (`status` shows them red until reconciled). The result
  names the reconcile to run: repair, dry_run off, authoritative the side whose capture stopped.
- `skip_ddl`: for a MySQL source that fails on every restart because Debezium cannot parse a
  DDL statement (a type its parser does not know, such as MariaDB's INET6, in any database on
  the server: Debezium parses them all): skips that statement when it changes no captured
  table (recorded in `mps_sync.connector_ddl_skips`, put in the connector's DDL filter by
  `apply`, which it runs); refuses, changing nothing, when it changes a captured table.
- `delete`: deletes both connectors; `drop_replication_slot` also drops the PostgreSQL slot
  and its publication (its position is lost: a new connector starts from now). Without it the
  slot is kept and pins WAL (a connector applied again resumes from it): the task log warns with
  the command to drop it, which works after the connectors are gone too.
- `snapshot_tables`: an incremental snapshot (Debezium `execute-snapshot` signal) of the
  selected **tables** (names or globs, as `reconcile` takes them), for tables added after the
  backfill; waits for Debezium's completion notice and fails if a table's scan did not succeed
  (e.g. `UNKNOWN_SCHEMA`: run `apply` first); refuses at once, sending nothing, while a
  connector it needs is missing, PAUSED or STOPPED. A retry of the task waits for the signal its
  first try sent (the id derives from the run id); a new DAG run starts a new snapshot.

`delete` and `reset_lost_positions` run only with **confirm** set to the action's name: both
lose what the connectors have read so far. The form opens on `status`, which changes nothing.

Params that cannot work (no **tables** for `snapshot_tables`, tables or `drop_replication_slot`
with an action that does not take them, a name or glob that selects no synced table, a conf key
that is not a Param) fail the run at once, without retries.

Configs come from `include/connectors/*.yaml` (templates) and the enabled mappings; passwords are
`${file:...}` references resolved by Connect, never stored in a config.

### connectors_health

Every 5 minutes: checks the connectors the enabled mappings need, restarts failed tasks once, and
fails (alerting through the notifier) when any of them captures nothing: FAILED after the restart
(with Connect's trace), PAUSED or STOPPED (resume), missing (apply), or RUNNING without running
tasks; each line names the connector, its state and the action to take.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

ACTIONS = [
    "status",
    "apply",
    "pause",
    "resume",
    "stop",
    "restart_failed",
    "reset_lost_positions",
    "delete",
    "snapshot_tables",
    "skip_ddl",
]
DEFAULT_ARGS = {
    "owner": "mysql_pg_sync",
    "retries": 1,
    "retry_delay": timedelta(seconds=30),
    "on_failure_callback": notify_failure,
}


HEALTH_WAIT_S = 60.0  # per connector, so a health run ends well inside its 5-minute slot
# One health try: both connectors' waits, the watch of a restarted one (DEFAULT_SETTLE_S, 15 s)
# and Connect's HTTP timeouts. The run's timeout must outlast every try and retry delay: a run
# the scheduler times out has its task skipped, so the task's final failure (and with it the
# alert) would never happen.
HEALTH_TRY_TIMEOUT = timedelta(seconds=2 * (HEALTH_WAIT_S + 15) + 30)
HEALTH_RETRY_DELAY = timedelta(seconds=20)
HEALTH_RUN_TIMEOUT = timedelta(minutes=7)


def _context(timeout_s: float | None = None) -> Any:
    from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
    from mysql_pg_sync.cdc.connector_actions import configured_context

    return configured_context(endpoints_from_airflow(), timeout_s=timeout_s)


with DAG(
    dag_id="connectors",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "cdc"],
    default_args=DEFAULT_ARGS,
    params={
        # a form opened only to look must not resume a paused connector or push a config
        "action": Param(
            "status",
            type="string",
            enum=ACTIONS,
            description="status: a read-only look (the default). apply: create or update, resume "
            "and wait until RUNNING. pause / resume / stop / restart_failed: both connectors. "
            "reset_lost_positions: capture from now after a lost binlog or slot (needs confirm). "
            "delete: remove both connectors (needs confirm). snapshot_tables: read the tables "
            "again. skip_ddl: get the MySQL source past a DDL statement Debezium cannot parse. "
            "The DAG's docs describe each one.",
        ),
        "tables": Param(
            [],
            type=["null", "array"],  # a "null" type keeps the form from marking it required
            items={"type": "string"},
            description="snapshot_tables only (required there): MySQL db.table, PostgreSQL "
            "schema.table, bare names or globs (order*).",
        ),
        "drop_replication_slot": Param(
            False, type="boolean", description="delete: also drop the PostgreSQL slot."
        ),
        "confirm": Param(
            "",
            type=["null", "string"],
            description="delete and reset_lost_positions only: type the action's name again "
            "(e.g. delete). Both lose the connectors' stored positions.",
        ),
    },
) as connectors_dag:

    @task
    def run_action() -> Any:
        """Run the chosen action; returns a summary shown in the task's XCom. Params that
        cannot work fail without retrying."""
        from mysql_pg_sync.airflow.dag_params import (
            connectors_params_problem,
            fail_now,
            failing_now,
            refuse_unknown_conf,
        )
        from mysql_pg_sync.cdc.connector_actions import run_action as run
        from mysql_pg_sync.cdc.unparseable_ddl import DdlSkipError
        from mysql_pg_sync.errors import MappingError

        context = get_current_context()
        refuse_unknown_conf(context)
        params = context["params"]
        action, tables = params["action"], params["tables"] or ()
        drop_slot = bool(params["drop_replication_slot"])
        confirm = params.get("confirm") or ""
        fail_now(connectors_params_problem(action, tables, drop_slot, confirm))
        if action == "status":
            from mysql_pg_sync.cdc.connector_actions import look

            return look(_context())
        # a table name no mapping has stays so on a retry; a retry of skip_ddl would refuse
        # again, or skip the next statement before anyone saw it
        with failing_now(MappingError, DdlSkipError):
            return run(
                _context(),
                action,
                tables=tables,
                drop_slot=drop_slot,
                run_key=context["run_id"],  # a retried snapshot_tables waits for its first signal
            )

    run_action()


with DAG(
    dag_id="connectors_health",
    doc_md=__doc__,
    schedule=timedelta(minutes=5),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=HEALTH_RUN_TIMEOUT,
    tags=["mysql_pg_sync", "cdc", "health"],
    default_args={
        **DEFAULT_ARGS,
        "retry_delay": HEALTH_RETRY_DELAY,
        "execution_timeout": HEALTH_TRY_TIMEOUT,
    },
) as connectors_health_dag:

    @task
    def heal_connectors() -> str:
        """Restart failed tasks once; fail with Connect's trace if a connector stays broken."""
        from mysql_pg_sync.airflow.dag_params import refuse_unknown_conf
        from mysql_pg_sync.cdc.connector_actions import health_or_raise

        refuse_unknown_conf(get_current_context())  # it has no Params: any conf key is a mistake
        return health_or_raise(_context(HEALTH_WAIT_S))

    heal_connectors()
