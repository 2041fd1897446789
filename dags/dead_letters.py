"""
### dead_letters

Recover the changes the stream could not apply (README, Operations: Recover a dead letter).
Trigger with the **action** param:

- `list`: the open dead letters by table, each with id, time, key, direction and error (in the
  task log and its XCom).
- `retry`: for each open dead letter (of **table**, or the **ids** given), read the key's
  **current** row on the side the change came from and write it to the other side through the
  stream applier (tagged: it never echoes back). A key with no row there now gets nothing
  written: its letter stays open, saying what to check (a key is never deleted on a lookup
  that found nothing). Each success is marked resolved. With **dry_run** on (the default) it
  only says what it would write. A letter that fails again stays open and the task fails,
  naming the table, key and error.
- `resolve`: mark the **ids** (or every open letter of **table**) resolved by hand, with a
  **note** saying what was done (an undecodable message, a key with letters in both directions,
  letters recorded before they could be resolved). It needs the note and either ids or table.

A **table** no mapping matches, a resolve without its note, ids or table, ids that are not
open dead letters, a retry that leaves letters open, or a conf key that is not one of these
Params fails the run at once, without retries, naming what to change.

First fix the cause the error names (a constraint only the target has, a column too narrow),
then retry. The Sync status page counts open dead letters per table.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

with DAG(
    dag_id="dead_letters",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "cdc"],
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 1,
        "retry_delay": timedelta(seconds=10),
        "on_failure_callback": notify_failure,
    },
    params={
        "action": Param(
            "list", type="string", enum=["list", "retry", "resolve"], description="What to do."
        ),
        "table": Param(
            None,
            type=["null", "string"],
            description="One table (MySQL db.table, PostgreSQL schema.table, a bare name or a "
            "glob of one table): list / retry its letters (empty: every table); resolve all "
            "its open ones.",
        ),
        "ids": Param(
            [],
            type=["null", "array"],  # a "null" type keeps the form from marking it required
            items={"type": "integer", "minimum": 1},
            description="retry: only these dead letters; resolve: the ones to mark resolved.",
        ),
        "dry_run": Param(
            True, type="boolean", description="retry: only say what would be written."
        ),
        "note": Param(
            None,
            type=["null", "string"],
            description="resolve (required there): how the dead letters were dealt with.",
        ),
    },
) as dead_letters_dag:

    @task
    def dead_letters() -> Any:
        """List, retry or resolve; the text is the task's XCom."""
        from mysql_pg_sync.airflow.dag_params import failing_now, refuse_unknown_conf
        from mysql_pg_sync.airflow.dead_letters import run_from_params
        from mysql_pg_sync.cdc.dead_letter_retry import DeadLetterError

        context = get_current_context()
        refuse_unknown_conf(context)
        # unknown ids, nothing to resolve, letters that failed their retry again: a retry of
        # the task would find the same, and only delay the red run
        with failing_now(DeadLetterError):
            return run_from_params(context["params"])

    dead_letters()
