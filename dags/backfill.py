"""
### backfill

The initial copy MySQL -> PostgreSQL, in parallel key-range chunks, handed over to streaming
without gaps (design decision 1).

1. **plan**: splits each selected table by its key into chunks of about the target size (the
   key index is walked on MySQL, so sparse keys still give even chunks) and groups them so the
   mapped copy stays under Airflow's `max_map_length`. Tables without a usable key are refused
   with the reason.
2. **prepare**: creates missing target tables (`create_missing`), refuses an incompatible existing
   one before anything is copied, checks that CDC captures the table, records its Kafka
   position and marks it `backfilling` (the stream consumer keeps it paused).
3. **copy** (mapped, pool `mysql_source_reads`): each chunk is read with connectorx into Arrow,
   converted per the mapping and written with COPY; deleting the chunk's old rows, the COPY and
   marking the chunk `done` are one PostgreSQL transaction, so a retry never duplicates.
4. **finalize** (per table): deferred indexes/FKs, ANALYZE, sequences past the copied max, row
   counts on both sides; marks the table `streaming` (the consumer replays from the position).
5. **verify** (`verify = checksums`): each loaded table compared with reconcile's differ in
   dry-run mode (segments cut at the chunk boundaries, rows changed meanwhile re-checked after
   the stream caught up): rows compared, segments, drift by class with example keys. Nothing is
   repaired; `verify = counts` keeps finalize's row counts only.
6. **summary**: rows, MB, duration and throughput per table and in total, and the verification;
   also written to `$MPS_REPORTS_DIR/backfill_<run>.json|html`.

**Resume**: trigger again with `mode = resume` (or `create_missing`): chunks already `done` are
skipped, failed and unfinished ones are copied again, the Kafka position recorded first is kept.
`mode = reload` re-plans, truncates and copies the selected tables again.
Chunk states: `SELECT * FROM mps_sync.backfill_chunks WHERE state <> 'done'`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

MAX_PARALLEL_CEILING = 16  # parse-time cap; the run's own cap comes from the max_parallel param


def _options() -> Any:
    from mysql_pg_sync.backfill.runner import RunOptions

    params = get_current_context()["params"]
    return RunOptions(
        tables=tuple(params["tables"]),
        chunk_rows=params["chunk_rows"] or None,
        chunk_mb=params["chunk_mb"] or None,
        max_parallel=int(params["max_parallel"]),
        mode=params["mode"],
        dry_run=bool(params["dry_run"]),
    )


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
    default_args={"owner": "mysql_pg_sync", "retries": 2, "retry_delay": timedelta(seconds=30)},
    params={
        "tables": Param(
            [],
            type="array",
            items={"type": "string"},
            description="MySQL db.table, PostgreSQL schema.table, bare names or globs; "
            "empty = every enabled mapping.",
        ),
        "chunk_rows": Param(
            250_000,
            type=["null", "integer"],
            minimum=1,
            description="Target rows per chunk (empty: the mapping's value).",
        ),
        "chunk_mb": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            description="Target MB per chunk; with chunk_rows the smaller wins.",
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
        "dry_run": Param(False, type="boolean", description="Plan and report only; write nothing."),
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
        """Plan chunks and record the run."""
        options = _options()
        runner = _backfill()
        if not options.dry_run:
            runner.start_run(get_current_context()["run_id"], options)
        return runner.plan(options).as_dict()

    @task
    def prepare(planned: dict[str, Any]) -> list[list[list[Any]]]:
        """Targets checked or created, handoff position recorded; returns the chunk groups."""
        options = _options()
        if options.dry_run:
            print(f"dry run: {planned}")
            return []
        runner = _backfill()
        for prepared in runner.prepare_all(options, [t["table"] for t in planned["tables"]]):
            print(prepared)
        return planned["groups"]

    @task(pool="mysql_source_reads", max_active_tis_per_dagrun=MAX_PARALLEL_CEILING)
    def copy(group: list[list[Any]]) -> list[dict[str, Any]]:
        """Copy one group of chunks (done chunks are skipped)."""
        from mysql_pg_sync.backfill.slots import parallel_slot

        options = _options()
        runner = _backfill()
        run_id = get_current_context()["run_id"]
        with parallel_slot(runner.endpoints.postgres, run_id, options.max_parallel):
            try:
                return runner.copy_group(group, run_id, options.batch_rows)
            finally:
                runner.release()

    @task(trigger_rule="all_done")
    def finalize(planned: dict[str, Any], copied: Any) -> list[dict[str, Any]]:
        """Per table: deferred indexes, ANALYZE, sequences, counts; then `streaming`."""
        options = _options()
        if options.dry_run:
            return []
        runner = _backfill()
        return [runner.finalize(t["table"]) for t in planned["tables"]]

    @task
    def verify(planned: dict[str, Any], finals: list[dict[str, Any]]) -> dict[str, Any]:
        """Per table: reconcile's checksums over the chunk ranges, dry run; drift by class."""
        from mysql_pg_sync.backfill.verify import VerifyOptions, verify_tables

        context = get_current_context()
        mode = context["params"]["verify"]
        if _options().dry_run or mode == "counts":
            return {"mode": mode, "tables": []}
        runner = _backfill()
        mappings = [runner.mappings.by_source(t["table"]) for t in planned["tables"]]
        return verify_tables(
            runner.endpoints, mappings, VerifyOptions(mode=mode), context["run_id"]
        )

    @task
    def summary(
        planned: dict[str, Any], finals: list[dict[str, Any]], verified: dict[str, Any]
    ) -> dict[str, Any]:
        """Rows, MB, duration and throughput per table and in total; also a run report."""
        from mysql_pg_sync.backfill.verify import add_to_report

        if _options().dry_run:
            return planned
        result = _backfill().summarize(
            get_current_context()["run_id"], [t["table"] for t in planned["tables"]]
        )
        result["finalize"] = finals
        add_to_report(result, verified)
        print(result)
        return result

    planned = plan()
    groups = prepare(planned)
    copied = copy.expand(group=groups)
    finals = finalize(planned, copied)
    summary(planned, finals, verify(planned, finals))


backfill()
