"""`python -m mysql_pg_sync reconcile`: the nightly comparison and repair, outside Airflow.

Prints one line per table and the report paths. Exit status: 0 in sync (or repaired), 3 drift
left, 1 a table failed (a table whose database cannot be reached is an error, the others go on),
or the run could not start or was stopped (one ``error:`` line; PostgreSQL unreachable, say).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mysql_pg_sync.cli.arg_types import number, whole
from mysql_pg_sync.reconcile.bisect import DEFAULT_FACTOR, DEFAULT_THRESHOLD
from mysql_pg_sync.reconcile.compare import DEFAULT_SEGMENT_ROWS, DEFAULT_WORKERS
from mysql_pg_sync.reconcile.diff import DRIFT_CLASSES
from mysql_pg_sync.reconcile.repair import DEFAULT_MAX_REPAIRS
from mysql_pg_sync.reconcile.service import (
    AUTHORITATIVE_CHOICES,
    AUTHORITATIVE_DEFAULT,
    DEFAULT_RECHECK_DELAY_S,
    ReconcileParams,
    reconcile_all,
)
from mysql_pg_sync.settings import endpoints_from_env

EXIT_STATUS = {"succeeded": 0, "drift": 3, "failed": 1}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tables",
        nargs="*",
        default=[],
        help="names or globs (db.table, schema.table, bare names, 'order*'), as backfill takes "
        "them; default: every enabled table",
    )
    parser.add_argument(
        "--mappings",
        default="",
        help="mapping folder or file (default: $MPS_MAPPINGS_DIR, else <repo>/include/mappings)",
    )
    parser.add_argument("--repair", action="store_true", help="plan repairs for confirmed drift")
    parser.add_argument(
        "--no-dry-run", action="store_true", help="with --repair: write the repairs"
    )
    parser.add_argument(
        "--max-repairs",
        type=whole(0),
        default=DEFAULT_MAX_REPAIRS,
        help="most repairs this run may write, all tables together; a table whose repairs would "
        "pass it is refused as a whole and reported (default %(default)s)",
    )
    parser.add_argument(
        "--segment-rows",
        type=whole(1),
        default=DEFAULT_SEGMENT_ROWS,
        help="rows per first-level checksum segment (default %(default)s)",
    )
    parser.add_argument(
        "--factor",
        type=whole(2),
        default=DEFAULT_FACTOR,
        help="children a mismatching segment is split into (default %(default)s)",
    )
    parser.add_argument(
        "--threshold",
        type=whole(1),
        default=DEFAULT_THRESHOLD,
        help="rows below which a segment's rows are compared (default %(default)s)",
    )
    parser.add_argument(
        "--workers",
        type=whole(1),
        default=DEFAULT_WORKERS,
        help="concurrent range queries per database (default %(default)s)",
    )
    parser.add_argument(
        "--recheck-delay",
        type=number(0, what="a number of seconds"),
        default=DEFAULT_RECHECK_DELAY_S,
        help="most seconds to wait for the stream consumer to apply the table's changes in "
        "Kafka before suspects are compared again",
    )
    parser.add_argument(
        "--authoritative",
        choices=AUTHORITATIVE_CHOICES,
        default=AUTHORITATIVE_DEFAULT,
        help="the side repairs copy from: each mapping's reconcile.authoritative (default), or "
        "one side for the whole run (after a capture gap: the side whose changes were all "
        "captured, postgres after a lost replication slot, mysql after a binlog gap)",
    )
    parser.add_argument("--reports", type=Path, default=None, help="report folder")


def run(args: argparse.Namespace) -> int:
    if args.no_dry_run and not args.repair:
        print(
            "warning: --no-dry-run does nothing without --repair: this run only reports drift "
            "(add --repair to write repairs)",
            file=sys.stderr,
        )
    params = ReconcileParams(
        tables=tuple(args.tables),
        repair=args.repair,
        dry_run=not args.no_dry_run,
        max_repairs=args.max_repairs,
        segment_rows=args.segment_rows,
        factor=args.factor,
        threshold=args.threshold,
        workers=args.workers,
        recheck_delay_s=args.recheck_delay,
        mappings=args.mappings,
        authoritative=args.authoritative,
    )
    result, json_path, html_path = reconcile_all(endpoints_from_env(), params, folder=args.reports)
    for t in result["tables"]:
        counts = t.get("drift") or {}
        drift = ", ".join(f"{k} {counts[k]}" for k in DRIFT_CLASSES if k in counts)
        note = t.get("error") or t.get("repair_message") or ""
        print(f"{t['table']}: {t['status']} ({drift}) {note}".rstrip())
    print(f"run {result['run_id']}: {result['status']}\n  {json_path}\n  {html_path}")
    return EXIT_STATUS[result["status"]]
