"""`python -m mysql_pg_sync GROUP ...`: one module per command group, imported only when used.

Each module in COMMANDS (``dead-letters``: ``cli/dead_letters.py``) defines ``register(parser)``
(add arguments/sub-commands) and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from mysql_pg_sync.errors import SyncError

COMMANDS: dict[str, str] = {
    "mappings": "generate (reporting schema drift) and validate the table mappings",
    "ddl": "create PostgreSQL schemas, types and tables from the mappings",
    "connectors": "apply, inspect and control the Debezium connectors",
    "backfill": "plan and run the initial MySQL -> PostgreSQL copy",
    "stream": "run the streaming consumer as a long-lived service",
    "reconcile": "compare both databases and repair drift",
    "status": "the Sync status page in the terminal: per-table state, lag, drift, quality",
    "dead-letters": "list, retry and resolve the changes the stream could not apply",
    "state": "prune the sync's own history in mps_sync past its retention",
    "demo": "load the demo schema and run the DAGs end to end",
}


def _chosen_group(argv: list[str]) -> str | None:
    """The command group named on the command line, if any (options before it are global)."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with ``argv`` naming a group, only that group's module is imported (the
    others' imports cost ~0.5 s of start-up, paid by every backfill worker and CLI call)."""
    parser = argparse.ArgumentParser(prog="python -m mysql_pg_sync")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    chosen = _chosen_group(argv) if argv is not None else None
    for name, summary in COMMANDS.items():
        sub = groups.add_parser(name, help=summary, description=summary)
        if chosen is not None and name != chosen:
            continue
        module_name = f"mysql_pg_sync.cli.{name.replace('-', '_')}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            sub.set_defaults(_unavailable=name)
            continue
        module.register(sub)
        sub.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if getattr(args, "_unavailable", None):
        print(f"command group {args._unavailable!r} is not implemented yet", file=sys.stderr)
        return 2
    try:
        return int(args._module.run(args))
    except SyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # what was committed stays; the group says how to go on (a backfill: resume)
        hint = getattr(args._module, "INTERRUPTED", "")
        print(f"interrupted{': ' + hint if hint else ''}", file=sys.stderr)
        return 130
