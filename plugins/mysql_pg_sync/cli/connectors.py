"""`python -m mysql_pg_sync connectors ACTION`: the connectors DAG's actions outside Airflow.

Extra actions: ``render`` prints the configs that ``apply`` would PUT, ``preflight`` runs the
checks only, ``status`` and ``health`` report (``health`` restarts failed tasks once).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc import topics
from mysql_pg_sync.settings import endpoints_from_env

EXTRA = ("render", "preflight", "status", "health")


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=(*actions.ACTIONS, *EXTRA))
    parser.add_argument("--mappings", type=Path, default=None, help="default: $MPS_MAPPINGS_DIR")
    parser.add_argument("--tables", nargs="*", default=[], help="snapshot_tables: the tables")
    parser.add_argument("--drop-slot", action="store_true", help="delete: drop the PG slot too")
    parser.add_argument("--timeout", type=float, default=None, help="seconds to wait per step")


def run(args: argparse.Namespace) -> int:
    if args.action in EXTRA and (args.tables or args.drop_slot):
        given = "--tables" if args.tables else "--drop-slot"
        print(
            f"connectors {args.action} takes no {given} (--tables is for snapshot_tables, "
            "--drop-slot for delete); nothing was done",
            file=sys.stderr,
        )
        return 2
    ctx = actions.configured_context(endpoints_from_env(), args.mappings, args.timeout)
    if args.action == "render":
        out: object = {c.name: c.config for c in actions.render(ctx)}
    elif args.action == "preflight":
        out = [str(w) for w in actions.preflight(ctx, actions.render(ctx))] or "all checks passed"
    elif args.action == "status":
        out = actions.look(ctx)
    elif args.action == "health":
        # the report once, as text (it is in words already), and the exit status says it
        report = actions.health(ctx)
        print(actions.health_text(report))
        return 0 if report.healthy else 1
    else:
        out = actions.run_action(ctx, args.action, tables=args.tables, drop_slot=args.drop_slot)
    print(out if isinstance(out, str) else json.dumps(out, indent=2, default=str))
    if args.action == "apply" and isinstance(out, dict):
        print(_after_apply(ctx, out), file=sys.stderr)
    return 0


def _after_apply(ctx: actions.ConnectorContext, out: dict[str, Any]) -> str:
    """The next step: the backfill of each table whose change topic this apply created (a
    table new to the connectors), else a pointer to it for tables added earlier."""
    by_topic = topics.change_topics(
        ctx.mappings, ctx.settings.mysql_topic_prefix, ctx.settings.postgres_topic_prefix
    )
    created = [t for result in out.values() for t in result.get("topics_created", ())]
    new = sorted({by_topic[t][1] for t in created if t in by_topic})
    if new:
        return (
            f'next: `make cli ARGS="backfill run --tables {" ".join(new)}"` copies the rows of '
            "the table(s) new to the connectors (README, Operations: Add a table)"
        )
    return (
        "next: for a table new to the mappings, "
        '`make cli ARGS="backfill run --tables <db>.<table>"` copies its rows; '
        '`make cli ARGS="connectors status"` shows the connectors'
    )
