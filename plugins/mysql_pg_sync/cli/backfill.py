"""`python -m mysql_pg_sync backfill plan|run|status`: the backfill outside Airflow.

``run`` does what the DAG does (plan, prepare, copy chunk groups in parallel worker processes,
finalize, verify, summary) and prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import multiprocessing
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import Any

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.readers import DEFAULT_BATCH_ROWS
from mysql_pg_sync.backfill.runner import (
    MAX_PARALLEL,
    MODES,
    Backfill,
    ChunkGroupError,
    RunOptions,
    raise_if_unfinished,
)
from mysql_pg_sync.backfill.verify import (
    DEFAULT_VERIFY,
    VERIFY_MODES,
    VerifyOptions,
    add_to_report,
    verify_tables,
)
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cdc.loop_guard import backfill_origin, tags_from_env
from mysql_pg_sync.cli.arg_types import number, whole
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir, reports_dir

log = logging.getLogger(__name__)


INTERRUPTED = (
    "chunks already copied are done; chunks in flight were rolled back and are copied again. "
    'Go on with `make cli ARGS="backfill run --mode resume --tables <the same tables>"` (the '
    "backfill DAG: mode resume)"
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        choices=("plan", "run"),
        help="plan only (stores the plan, which a later run resumes; add --dry-run to only "
        "look), or the whole backfill",
    )
    parser.add_argument(
        "--mappings",
        default=None,
        help="mapping folder or file (default: $MPS_MAPPINGS_DIR, else <repo>/include/mappings)",
    )
    parser.add_argument("--tables", nargs="*", default=[], help="names or globs; default: all")
    parser.add_argument(
        "--chunk-rows",
        type=whole(0, " (0: each mapping's backfill.chunk_rows)"),
        default=None,
        metavar="N",
        help="target rows per chunk for every selected table; omitted or 0: each mapping's "
        "backfill.chunk_rows (not used with --chunk-mb). Both given: the smaller chunk wins",
    )
    parser.add_argument(
        "--chunk-mb",
        type=number(0, strict=True),
        default=None,
        metavar="MB",
        help="target MB per chunk (> 0, from each table's average row size); omitted: each "
        "mapping's backfill.chunk_mb",
    )
    parser.add_argument(
        "--max-parallel",
        type=whole(1, most=MAX_PARALLEL),
        default=2,
        metavar="N",
        help=f"worker processes copying chunk groups at once (1 to {MAX_PARALLEL}; default: "
        "%(default)s)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="create_missing",
        help="create_missing: create absent tables, continue planned ones; resume: continue "
        "planned tables only; reload: truncate and copy again (default: %(default)s)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, write nothing; tables with a plan show the chunks still to copy",
    )
    parser.add_argument(
        "--verify",
        choices=VERIFY_MODES,
        default=DEFAULT_VERIFY,
        help="after the load: row counts only, or also reconcile's checksums (dry run)",
    )
    parser.add_argument(
        "--batch-rows",
        type=whole(1),
        default=DEFAULT_BATCH_ROWS,
        metavar="N",
        help="rows per read batch within a chunk: bounds each worker's memory "
        "(>= 1; default: %(default)s)",
    )
    parser.add_argument(
        "--no-capture-check",
        action="store_true",
        help="do not require a running CDC connector (a one-off copy without streaming)",
    )
    parser.add_argument(
        "--topic-prefix",
        default=None,
        help="with --no-capture-check: the MySQL connector's topic prefix the handoff position "
        "is read from (default: the connectors' own, <$MPS_CONNECTOR_PREFIX>_mysql, mps_mysql)",
    )
    parser.add_argument(
        "--run-id", default=None, help="the run's id in the state and reports (default: new)"
    )


def _resolve_defaults(args: argparse.Namespace) -> None:
    """Defaults read from the environment at run time, as the DAG and the connectors read
    them, so a run from any directory uses the deployed folder and topic prefix."""
    if not args.mappings:
        args.mappings = str(mappings_dir())
    if not args.topic_prefix:
        args.topic_prefix = ConnectorSettings.from_env().mysql_topic_prefix


def build(args: argparse.Namespace) -> Backfill:
    _resolve_defaults(args)
    endpoints = endpoints_from_env()
    check = (
        handoff.assume_capture_running(args.topic_prefix)
        if args.no_capture_check
        else handoff.connect_capture_check(endpoints.connect_url)
    )
    return Backfill(
        endpoints,
        load_mappings(args.mappings),
        capture_check=check,
        position_reader=handoff.kafka_end_offsets(endpoints.kafka_bootstrap),
        reports_dir=reports_dir(),
        write_origin=backfill_origin(tags_from_env().pg_origin),
    )


def options_from(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        tables=tuple(args.tables),
        chunk_rows=args.chunk_rows,
        chunk_mb=args.chunk_mb,
        max_parallel=args.max_parallel,
        mode=args.mode,
        dry_run=args.dry_run,
        batch_rows=args.batch_rows,
    )


def _copy_group(
    args: argparse.Namespace, group: list[list[Any]], run_id: str
) -> list[dict[str, Any]]:
    """One worker process's share, with the worker's Backfill built once."""
    global _WORKER_BACKFILL
    if _WORKER_BACKFILL is None:
        _WORKER_BACKFILL = build(args)
    return _WORKER_BACKFILL.copy_group(group, run_id, args.batch_rows)


_WORKER_BACKFILL: Backfill | None = None


def _finalize_as_copied(
    backfill: Backfill,
    tables: list[str],
    copies: dict[Future[list[dict[str, Any]]], list[list[Any]]],
    finalizers: ThreadPoolExecutor,
) -> list[dict[str, Any]]:
    """Finalize each table (indexes, ANALYZE, counts) as soon as its last chunk is copied, while
    the other tables still copy: the finalize of all tables no longer waits for the slowest one.
    A table with a failed chunk group is not finalized, and does not keep the others from it.
    The threads start after every worker process is forked, so no fork copies them."""
    outstanding = dict.fromkeys(tables, 0)
    for group in copies.values():
        for table in {ref[0] for ref in group}:
            outstanding[table] = outstanding.get(table, 0) + 1
    finals: dict[str, Future[dict[str, Any]]] = {
        t: finalizers.submit(backfill.finalize, t) for t, n in outstanding.items() if n == 0
    }
    failed: set[str] = set()
    for done in as_completed(copies):
        group_tables = sorted({ref[0] for ref in copies[done]})
        try:
            done.result()
        except ChunkGroupError as exc:  # the group's other tables were copied
            log.error("%s", exc)
            failed.update(exc.tables)
        except Exception as exc:
            log.error("a chunk group of %s failed: %s", ", ".join(group_tables), exc)
            failed.update(group_tables)
        for table in group_tables:
            outstanding[table] -= 1
            if outstanding[table] == 0 and table not in failed:
                finals[table] = finalizers.submit(backfill.finalize, table)
    results = []
    for table in tables:
        if table in finals:
            try:
                results.append(finals[table].result())
                continue
            except Exception as exc:
                log.error("%s: not finalized: %s", table, exc)
        failed.add(table)
    # finalize_all records why each one is not finalized (its failed chunk), for the summary
    results += backfill.finalize_all(sorted(failed)).results
    return results


WORKER_MODULES = ("pandas", "connectorx", "adbc_driver_postgresql.dbapi")


def _import_worker_modules() -> None:
    """What every chunk worker imports on its first chunk (pyarrow imports pandas at its first
    ``pa.array``: ~0.3 s of CPU). Imported beside the planning's database waits, the forked
    workers inherit the modules instead of each importing them."""
    for name in WORKER_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # the worker reports a missing driver itself, with its context
            pass


def run(args: argparse.Namespace) -> int:
    options = options_from(args)  # refuses bad values before connecting anywhere
    backfill = build(args)
    run_id = args.run_id or f"cli-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    if args.action == "plan" or options.dry_run:
        print(json.dumps(backfill.plan(options).as_dict(), indent=2, default=str))
        return 0
    started = time.monotonic()
    warm = threading.Thread(target=_import_worker_modules, daemon=True)
    warm.start()
    backfill.start_run(run_id, options)
    outcome = backfill.plan(options)
    tables = [t["table"] for t in outcome.tables]
    backfill.prepare_all(options, tables)
    groups = [[list(ref) for ref in group] for group in outcome.groups]
    warm.join()  # before the fork: a child forked mid-import would inherit a held import lock
    plain = argparse.Namespace(**{k: v for k, v in vars(args).items() if not k.startswith("_")})
    # fork: workers start in milliseconds with the modules already imported; the parent holds no
    # open connection or connectorx thread pool at this point
    context = multiprocessing.get_context("fork")
    with (
        ProcessPoolExecutor(options.max_parallel, mp_context=context) as pool,
        ThreadPoolExecutor(options.max_parallel) as finalizers,
    ):
        copies = {pool.submit(_copy_group, plain, g, run_id): g for g in groups}
        finals = _finalize_as_copied(backfill, tables, copies, finalizers)
        log.debug("copy and finalize done after %.2f s", time.monotonic() - started)
    wall_s = time.monotonic() - started  # the load's throughput, without the verification
    log.debug("workers stopped after %.2f s", wall_s)
    verified = verify_tables(
        backfill.endpoints,
        [backfill.mappings.by_source(t) for t in backfill.finalized_tables(tables)],
        VerifyOptions(mode=args.verify),
        run_id,
    )
    summary = backfill.summarize(
        run_id, tables, wall_s, {"finished": outcome.finished, "refused": outcome.refused}
    )
    log.debug("summary written after %.2f s", time.monotonic() - started)
    summary["finalize"] = finals
    add_to_report(summary, verified)
    json.dump(summary, sys.stdout, indent=2, default=str)
    print()
    raise_if_unfinished(summary, verified)  # after the report: it says which tables and why
    if tables:
        print(
            "next: the stream applies the changes made since each table's copy began (from its "
            "recorded Kafka position), then keeps it in sync; "
            '`make cli ARGS="status"` shows when it has caught up',
            file=sys.stderr,
        )
    return 0
