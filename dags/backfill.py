"""
### backfill

The initial copy MySQL -> PostgreSQL, in parallel key-range chunks, handed over to streaming
without gaps (design decision 1).

1. **plan**: splits each selected table by its key into chunks of about the target size (the
   mapping's `backfill.chunk_rows` unless the `chunk_rows`/`chunk_mb` Params are set; the key
   index is walked on MySQL, so sparse keys still give even chunks) and groups them: a full
   chunk is a copy task of its own, while small tables and tables' last chunks share a task up
   to one chunk's worth of rows (a database of 200 mostly small tables starts a handful of
   copy tasks, not 200), and the mapped copy stays under Airflow's `max_map_length`. Tables
   without a usable key are refused
   with the reason. A refusal of the Params or mappings (an unknown table, a name or glob that
   selects only tables the backfill refuses, such as `enabled: false` ones, a `resume` without
   a plan, a `reload` that other tables' foreign keys forbid, a conf key that is not a Param)
   fails at once, without retries, and is the run's only alert.
2. **prepare**: creates missing target tables (`create_missing`), refuses an incompatible existing
   one before anything is copied, checks that CDC captures the table, records its Kafka
   position and marks it `backfilling` (the stream consumer keeps it paused).
3. **copy** (mapped, pool `mysql_source_reads`): each chunk is read with connectorx into Arrow,
   converted per the mapping and written with COPY; deleting the chunk's old rows, the COPY and
   marking the chunk `done` are one PostgreSQL transaction, so a retry never duplicates. A
   chunk that fails on its data or table (a value that cannot be converted, an incompatible
   target) does not stop the other chunks of its task: they are copied, then the task fails
   naming each failed table, chunk and error.
4. **finalize** (per table, also after failed copies): deferred indexes, foreign keys (added
   NOT VALID, then validated; one the replay still has to fix stays NOT VALID with a warning),
   ANALYZE, sequences past the copied max, row counts on both sides; marks the table `streaming`
   (the consumer replays from the position). A table that cannot be finalized (a failed chunk)
   stays `backfilling`; every other table is still finalized, then the task fails naming each
   failed table and why.
5. **verify** (`verify = checksums`): each finalized table compared with reconcile's differ in
   dry-run mode (segments cut at the chunk boundaries, rows changed meanwhile re-checked after
   the stream caught up): rows compared, segments, drift by class with example keys. Nothing is
   repaired; `verify = counts` keeps finalize's row counts only.
6. **summary** (runs after failed steps too): rows, MB, duration and throughput per table and in
   total, each table's state, why a table was not finalized, foreign keys left NOT VALID, and
   the verification; also written to `$MPS_REPORTS_DIR/backfill_<run>.json|html`. It fails the
   run when a table is not finalized or verify found drift (or could not compare a table), at
   once and without retries (the state it reports is settled); the message names each table,
   its drift with example keys, and the reconcile report that lists the rows. Differences
   compared again before the stream had applied the table's changes (a paused stream DAG: it
   waits 30 s) may be in flight: the report says the verification is not conclusive, and the
   run does not fail for them; reconcile the table once the stream has caught up.

**Resume**: trigger again with `mode = resume` (or `create_missing`): chunks already `done` are
skipped, failed and unfinished ones are copied again, the Kafka position recorded first is kept.
`mode = reload` re-plans, truncates and copies the selected tables again; a table that other
tables reference with a foreign key is reloaded only together with them: name them in the same
run (alone, its reload is refused, naming them).
Chunk states: `SELECT * FROM mps_sync.backfill_chunks WHERE state <> 'done'`.

**Dry run** (`dry_run = true`): plan only, nothing written. A table that has a plan shows what a
resume would do (the kept plan, chunk counts by state, `to_copy_seqs`); `mode = resume` names
every selected table that has no plan.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure

MAX_PARALLEL_CEILING = 16  # parse-time cap; the run's own cap comes from the max_parallel param
# the form's largest chunk targets, as mysql_pg_sync.airflow.dag_params refuses larger ones;
# literals here: that module (and the backfill library with it) is imported only in the tasks
CHUNK_ROWS_MAX = 1_000_000_000
CHUNK_MB_MAX = 1_048_576


def _options() -> Any:
    from mysql_pg_sync.airflow.dag_params import backfill_options

    return backfill_options(get_current_context()["params"])


def _backfill() -> Any:
    from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
    from mysql_pg_sync.backfill.configured import configured_backfill

    params = get_current_context()["params"]
    return configured_backfill(
        endpoints_from_airflow(), require_capture=bool(params["require_capture"])
    )


@dag(
    dag_id="backfill",
    doc_md=__doc__,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "backfill"],
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "on_failure_callback": notify_failure,
    },
    params={
        "tables": Param(
            [],
            type=["null", "array"],  # a "null" type keeps the form from marking it required
            items={"type": "string"},
            description="MySQL db.table, PostgreSQL schema.table, bare names or globs; "
            "empty = every enabled mapping.",
        ),
        "chunk_rows": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            maximum=CHUNK_ROWS_MAX,
            description="Target rows per chunk for every selected table. Leave empty (or 0) "
            "to use each mapping's backfill.chunk_rows (250000 unless the mapping sets it), "
            "unless chunk_mb is set: then chunk_mb alone sizes the chunks. A value here "
            "overrides hand-tuned mappings.",
        ),
        "chunk_mb": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=CHUNK_MB_MAX,
            description="Target MB per chunk (> 0; megabytes, not rows), from each table's "
            "average row size; it replaces the mappings' backfill.chunk_rows. Leave empty to "
            "use each mapping's backfill.chunk_mb. With chunk_rows the smaller chunk wins.",
        ),
        "max_parallel": Param(
            2,
            type="integer",
            minimum=1,
            maximum=MAX_PARALLEL_CEILING,
            description="Chunks copied at the same time (also capped by the "
            "mysql_source_reads pool).",
        ),
        "mode": Param(
            "create_missing",
            type="string",
            enum=["create_missing", "resume", "reload"],
            description="create_missing: create absent tables, continue planned ones; "
            "resume: continue planned tables only; reload: truncate and copy again.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            description="Plan and report only; write nothing. Tables with a plan show what a "
            "resume would do (the chunks still to copy).",
        ),
        "verify": Param(
            "checksums",
            type="string",
            enum=["counts", "checksums"],
            description="After the load: counts = row counts only; checksums = also compare "
            "every row with reconcile's checksums (dry run, confirmed drift only).",
        ),
        "require_capture": Param(
            True,
            type="boolean",
            description="Refuse tables whose CDC capture is not running "
            "(turn off only for a one-off copy without streaming).",
        ),
    },
)
def backfill() -> None:
    @task
    def plan() -> dict[str, Any]:
        """Plan chunks and record the run. A refusal (Params, mappings) fails without
        retrying: it stays until someone changes them."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.dag_params import (
            backfill_selection_problem,
            fail_now,
            refuse_unknown_conf,
        )
        from mysql_pg_sync.backfill.plan import PlanError
        from mysql_pg_sync.backfill.runner import BackfillError
        from mysql_pg_sync.errors import ConfigError, MappingError

        refuse_unknown_conf(get_current_context())
        try:
            options = _options()
            runner = _backfill()
            # a name or glob of refused tables only: the run would end green, copying nothing
            fail_now(backfill_selection_problem(runner.mappings, options.tables))
            if not options.dry_run:
                runner.start_run(get_current_context()["run_id"], options)
            return runner.plan(options).as_dict()
        except (BackfillError, PlanError, MappingError, ConfigError) as exc:
            raise AirflowFailException(str(exc)) from None

    @task
    def prepare(planned: dict[str, Any]) -> list[list[list[Any]]]:
        """Targets checked or created, handoff position recorded; returns the chunk groups."""
        options = _options()
        if options.dry_run:
            print(f"dry run: {planned}")
            return []
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.backfill.runner import is_settled

        runner = _backfill()
        try:
            prepared_tables = runner.prepare_all(options, [t["table"] for t in planned["tables"]])
        except Exception as exc:
            if is_settled(exc):  # the target's schema must change first: no retry
                raise AirflowFailException(str(exc)) from None
            raise
        for prepared in prepared_tables:
            print(prepared)
        return planned["groups"]

    @task(pool="mysql_source_reads", max_active_tis_per_dagrun=MAX_PARALLEL_CEILING)
    def copy(group: list[list[Any]]) -> list[dict[str, Any]]:
        """Copy one group of chunks (done chunks are skipped). A failure the data or mapping
        must fix first (a value, the target's schema) fails at once, without retries."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.backfill.runner import is_settled
        from mysql_pg_sync.backfill.slots import parallel_slot

        options = _options()
        runner = _backfill()
        run_id = get_current_context()["run_id"]
        with parallel_slot(runner.endpoints.postgres, run_id, options.max_parallel):
            try:
                return runner.copy_group(group, run_id, options.batch_rows)
            except Exception as exc:
                if is_settled(exc):  # the data or mapping must change first: no retry
                    raise AirflowFailException(str(exc)) from None
                raise
            finally:
                runner.release()

    # all_done from here on: one failed chunk must not keep the other tables from streaming,
    # nor the operator from a report that says which tables failed and why
    @task(trigger_rule="all_done")
    def finalize(planned: dict[str, Any] | None, copied: Any) -> list[dict[str, Any]]:
        """Per table: deferred indexes, FKs, ANALYZE, sequences, counts; then `streaming`.
        Every table it can; then fails naming each table that could not be finalized."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.backfill.runner import BackfillError

        if planned is None or _options().dry_run:  # no plan: the summary fails the run
            return []
        outcome = _backfill().finalize_all([t["table"] for t in planned["tables"]])
        try:
            outcome.raise_for_failures()
        except BackfillError as exc:
            if outcome.settled:  # e.g. a table's chunks failed: a retry would say the same
                raise AirflowFailException(str(exc)) from None
            raise
        return outcome.results

    @task(trigger_rule="all_done")
    def verify(planned: dict[str, Any] | None, finals: Any) -> dict[str, Any]:
        """Per finalized table: reconcile's checksums over the chunk ranges, dry run; drift."""
        from mysql_pg_sync.backfill.verify import VerifyOptions, verify_tables

        context = get_current_context()
        mode = context["params"]["verify"]
        if planned is None or _options().dry_run or mode == "counts":
            return {"mode": mode, "tables": []}
        runner = _backfill()
        tables = runner.finalized_tables([t["table"] for t in planned["tables"]])
        mappings = [runner.mappings.by_source(t) for t in tables]
        return verify_tables(
            runner.endpoints, mappings, VerifyOptions(mode=mode), context["run_id"]
        )

    @task(trigger_rule="all_done")
    def summary(
        planned: dict[str, Any] | None,
        finals: list[dict[str, Any]] | None,
        verified: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """Rows, MB, duration and throughput per table and in total, each table's state; also
        a run report. Fails the run when a table is not finalized, verify did not end or it
        found drift."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.notifier import ReportedFailure
        from mysql_pg_sync.backfill.runner import BackfillError, raise_if_unfinished
        from mysql_pg_sync.backfill.verify import add_to_report

        if planned is None:  # a leaf that succeeded would mark the failed run a success
            raise ReportedFailure("the plan step failed: nothing was copied; see its log")
        if _options().dry_run:
            return planned
        result = _backfill().summarize(
            get_current_context()["run_id"],
            [t["table"] for t in planned["tables"]],
            passed_over=planned,  # its finished and refused tables, listed in the report
        )
        result["finalize"] = finals or []  # None: finalize failed (see "unfinished")
        add_to_report(result, verified or {"mode": "not run", "tables": []})
        print(result)
        try:
            raise_if_unfinished(result, verified)
        except BackfillError as exc:  # the run's state, settled: a retry would say the same
            raise AirflowFailException(str(exc)) from None
        return result

    planned = plan()
    groups = prepare(planned)
    copied = copy.expand(group=groups)
    finals = finalize(planned, copied)
    summary(planned, finals, verify(planned, finals))


backfill()
