"""`state prune`: delete the sync's own history past its retention (``mps_sync``; see
:mod:`mysql_pg_sync.state.retention` for what is kept, and the `state_retention` DAG, which
runs it daily)."""

from __future__ import annotations

import argparse

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import endpoints_from_env
from mysql_pg_sync.state.retention import prune, retention_from_env


def register(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    pruning = actions.add_parser(
        "prune",
        help="delete history past its retention (MPS_RETENTION_<KIND>_DAYS)",
        description="Delete tombstones, finished stream runs, conflicts, resolved dead letters "
        "and data-quality runs past their retention; open dead letters, reconcile runs, "
        "backfill state and each table's latest quality run are kept.",
    )
    pruning.add_argument("--dry-run", action="store_true", help="count, delete nothing")


def run(args: argparse.Namespace) -> int:
    retention = retention_from_env()
    with pg_connect(endpoints_from_env().postgres, autocommit=True) as conn:
        pruned = prune(conn, retention, dry_run=args.dry_run)
    print(summary(pruned, args.dry_run))
    return 0


def summary(pruned: dict[str, int], dry_run: bool) -> str:
    verb = "would delete" if dry_run else "deleted"
    return "; ".join(f"{table}: {verb} {n:,} row(s)" for table, n in pruned.items())
