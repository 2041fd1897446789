"""
### state_retention

Daily: deletes the sync's own history in `mps_sync` past its retention, so months of
migration do not grow it without end. Kept for (days; `MPS_RETENTION_<KIND>_DAYS` overrides):

- tombstones of deletes (two-way tables under last-writer-wins or version): 30, counted from
  when the stream recorded them. Keep this above the Kafka topics' retention.ms plus segment.ms
  (about 14 days by default) and the longest the stream may stand still: a change written
  before a delete and applied after it asks the delete's tombstone. Under 15 days is refused.
- finished stream runs: 30; decided conflicts: 90; resolved dead letters: 90 (open ones are
  never deleted); data-quality runs: 90 (each table's latest run is kept).

Reconcile runs, backfill state, table states and capture gaps are never deleted. Trigger with
**dry_run** on to see the counts without deleting (CLI: `state prune --dry-run`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

with DAG(
    dag_id="state_retention",
    doc_md=__doc__,
    schedule="30 3 * * *",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "maintenance"],
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": notify_failure,
    },
    params={
        "dry_run": Param(False, type="boolean", description="Only count what would be deleted."),
    },
) as state_retention_dag:

    @task
    def prune_history() -> Any:
        """Delete (or count) the history past its retention; the counts are the XCom."""
        from mysql_pg_sync.airflow.dag_params import failing_now, refuse_unknown_conf
        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.cli.state import summary
        from mysql_pg_sync.connections import pg_connect
        from mysql_pg_sync.errors import ConfigError
        from mysql_pg_sync.state.retention import prune, retention_from_env

        context = get_current_context()
        refuse_unknown_conf(context)
        dry_run = bool(context["params"]["dry_run"])
        with failing_now(ConfigError):  # a bad MPS_RETENTION_* stays bad on a retry
            retention = retention_from_env()
        with pg_connect(endpoints_from_airflow().postgres, autocommit=True) as conn:
            pruned = prune(conn, retention, dry_run=dry_run)
        print(summary(pruned, dry_run))
        return pruned

    prune_history()
