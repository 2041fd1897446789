"""`dead-letters list | retry | resolve`: recover the changes the stream could not apply.

``list`` shows the open dead letters (exit 0). ``retry`` copies each one's current source row to
the other side through the stream applier and marks it resolved; exit 1 when one fails again
or cannot be retried (it stays open, with what to fix). ``resolve`` records a fix made by hand.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from itertools import groupby
from pathlib import Path

from mysql_pg_sync.cdc.dead_letter_plan import (
    DeadLetterRow,
    Selection,
    direction_text,
    key_text,
    letter_side,
    short_error,
)
from mysql_pg_sync.cdc.dead_letter_retry import list_letters, resolve, retry, table_name
from mysql_pg_sync.cdc.service import config_from_env
from mysql_pg_sync.cdc.topics import change_topics
from mysql_pg_sync.cli.arg_types import whole
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir

_RETRY = 'make cli ARGS="dead-letters retry --table <table>"'


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mappings",
        type=Path,
        default=None,
        help="mappings folder (default: $MPS_MAPPINGS_DIR, else include/mappings)",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser("list", help="the open dead letters, by table")
    listing.add_argument("--table", help="one table: db.table, schema.table or a bare name")
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
    done.add_argument("--id", dest="ids", type=whole(1), action="append", required=True)
    done.add_argument("--note", required=True, help="how they were dealt with")


def run(args: argparse.Namespace) -> int:
    endpoints = endpoints_from_env()
    if args.action == "resolve":
        marked = resolve(endpoints, args.ids, args.note)
        print(f"resolved dead letter(s) {', '.join(map(str, marked))} by hand: {args.note}")
        return 0
    mappings = load_mappings(args.mappings or mappings_dir())
    table = table_name(mappings, args.table) if args.table else None
    if args.action == "list":
        letters = list_letters(endpoints, include_resolved=args.all, table=table)
        print(_as_json(letters, mappings) if args.json else _listing(letters, mappings))
        return 0
    selection = Selection(table, frozenset(args.ids))
    outcomes, refusals = retry(endpoints, mappings, config_from_env(), selection, args.dry_run)
    for outcome in outcomes:
        print(f"{'ok' if outcome.ok else 'FAILED'}: {outcome.message}")
    for refusal in refusals:
        ids = ", ".join(map(str, refusal.letter_ids))
        print(f"cannot retry {ids} ({refusal.table} {key_text(refusal.key)}): {refusal.reason}")
    if not outcomes and not refusals:
        print("no open dead letters" + (f" of {table}" if table else "") + ": nothing to retry")
    failed = sum(not o.ok for o in outcomes) + len(refusals)
    if failed:
        print(f"{failed} left open")
    return 1 if failed else 0


def _sides(letters: list[DeadLetterRow], mappings: MappingSet) -> dict[int, str]:
    config = config_from_env()
    topics = change_topics(mappings, config.mysql_topic_prefix, config.pg_topic_prefix)
    return {letter.id: direction_text(letter_side(letter, topics)) for letter in letters}


def _listing(letters: list[DeadLetterRow], mappings: MappingSet) -> str:
    if not letters:
        return "no open dead letters"
    directions = _sides(letters, mappings)
    open_count = sum(letter.resolved_at is None for letter in letters)
    lines = [f"{open_count} open dead letter(s)"]
    for table, group in groupby(letters, key=lambda letter: letter.source_table):
        lines.append(f"{table or '(no table: undecodable messages)'}")
        for letter in group:
            when = f"{letter.recorded_at:%Y-%m-%d %H:%M:%S %Z}".strip()
            state = f"  [{letter.resolution}]" if letter.resolved_at is not None else ""
            lines.append(
                f"  #{letter.id}  {when}  {key_text(letter.key)}  {directions[letter.id]}  "
                f"{letter.error_class}: {short_error(letter.error)}{state}"
            )
    if open_count:
        lines.append(
            "Fix the cause each error names, then retry: "
            f"{_RETRY} (or --id N); a fix made by hand: "
            'make cli ARGS="dead-letters resolve --id N --note ..."'
        )
    return "\n".join(lines)


def _as_json(letters: list[DeadLetterRow], mappings: MappingSet) -> str:
    directions = _sides(letters, mappings)
    return json.dumps(
        [{**asdict(letter), "direction": directions[letter.id]} for letter in letters],
        indent=2,
        default=str,
    )
