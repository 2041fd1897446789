"""`dead-letters list | retry | resolve`: recover the changes the stream could not apply.

``list`` shows the open dead letters (exit 0). ``retry`` copies each one's current source row to
the other side through the stream applier and marks it resolved; exit 1 when one fails again
or cannot be retried (it stays open, with what to fix). ``resolve`` records a fix made by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mysql_pg_sync.cdc import dead_letter_report as report
from mysql_pg_sync.cdc.dead_letter_plan import Selection
from mysql_pg_sync.cdc.dead_letter_retry import list_letters, resolve, retry
from mysql_pg_sync.cdc.service import config_from_env
from mysql_pg_sync.cli.arg_types import whole
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir

MAPPINGS_HELP = "mappings folder (default: $MPS_MAPPINGS_DIR, else include/mappings)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mappings", type=Path, default=None, help=MAPPINGS_HELP)
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="the open dead letters, by table")
    listing.add_argument(
        "--table", help="one table: db.table, schema.table, a bare name or a glob of one"
    )
    listing.add_argument("--all", action="store_true", help="resolved ones too")
    listing.add_argument("--json", action="store_true", help="print them as JSON")
    again = sub.add_parser(
        "retry", help="copy each open dead letter's current source row to the other side"
    )
    again.add_argument("--table", help="only this table's dead letters")
    again.add_argument(
        "--id", dest="ids", type=whole(1), action="append", default=[], help="repeatable"
    )
    again.add_argument("--dry-run", action="store_true", help="print what would be written")
    done = sub.add_parser("resolve", help="mark dead letters resolved by hand")
    done.add_argument("--id", dest="ids", type=whole(1), action="append", default=[])
    done.add_argument("--table", help="every open dead letter of this table (without --id)")
    done.add_argument("--note", required=True, help="how they were dealt with")
    for action in (listing, again, done):
        # after the action too (`dead-letters list --mappings DIR`), like every other command;
        # SUPPRESS: not given here, it leaves the value given before the action alone
        action.add_argument("--mappings", type=Path, default=argparse.SUPPRESS, help=MAPPINGS_HELP)


def run(args: argparse.Namespace) -> int:
    endpoints = endpoints_from_env()
    mappings = load_mappings(args.mappings or mappings_dir())
    table = (
        report.letters_table(
            mappings,
            args.table,
            lambda name: bool(list_letters(endpoints, include_resolved=True, table=name)),
        )
        if args.table
        else None
    )
    if args.action == "resolve":
        if args.ids and table:
            print("resolve takes --id or --table, not both", file=sys.stderr)
            return 2
        marked = resolve(endpoints, args.ids, args.note, table)
        print(f"resolved dead letter(s) {', '.join(map(str, marked))} by hand: {args.note}")
        return 0
    config = config_from_env()
    if args.action == "list":
        letters = list_letters(endpoints, include_resolved=args.all, table=table)
        if args.json:
            print(report.as_json(letters, mappings, config))
        else:
            print(report.listing(letters, mappings, config, table))
        return 0
    selection = Selection(table, frozenset(args.ids))
    outcomes, refusals = retry(endpoints, mappings, config, selection, args.dry_run)
    lines, failed = report.retry_report(outcomes, refusals, table)
    print("\n".join(lines))
    return 1 if failed else 0
