"""`mappings generate | validate`: write include/mappings from information_schema, check them."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.files import read_existing, write_entries
from mysql_pg_sync.mapping.generate import GenerateOptions, generate, refuse_target_collisions
from mysql_pg_sync.mapping.introspect import read_tables
from mysql_pg_sync.mapping.loader import _describe
from mysql_pg_sync.mapping.models import TableMapping, load_mappings, mapping_files
from mysql_pg_sync.mapping.pg_types import unknown_type_warnings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir

FOLDER_HELP = "default: $MPS_MAPPINGS_DIR, else <repo>/include/mappings"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    gen = sub.add_parser("generate", help="(re)generate mappings; keeps hand edits, reports drift")
    gen.add_argument(
        "--database",
        action="append",
        dest="databases",
        help="MySQL database to read (repeatable; default: MPS_MYSQL_DATABASE)",
    )
    gen.add_argument(
        "--mappings",
        dest="out",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"mapping folder to write ({FOLDER_HELP})",
    )
    # `--out`: the older spelling, kept (hidden) for existing scripts
    gen.add_argument("--out", dest="out", type=Path, default=None, help=argparse.SUPPRESS)
    gen.add_argument(
        "--target-schema",
        help="PostgreSQL schema of the new tables (default: public for one --database, else "
        "each database's name); give a database whose table names are already mapped in the "
        "folder a schema of its own: generate refuses a target another table maps to",
    )
    gen.add_argument(
        "--enum-style",
        choices=("enum", "check"),
        default="enum",
        help="MySQL ENUM columns as a PostgreSQL enum type, or text with a CHECK constraint",
    )
    gen.add_argument("--check", action="store_true", help="write nothing; exit 3 on drift")
    val = sub.add_parser("validate", help="validate the mapping files")
    val.add_argument(
        "--mappings",
        dest="mapping_paths",
        type=Path,
        action="append",
        default=[],
        metavar="PATH",
        help=f"mapping folder or file, repeatable ({FOLDER_HELP})",
    )
    # folders or files as arguments: the older spelling, kept (hidden) for existing scripts
    val.add_argument("paths", nargs="*", type=Path, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.action == "validate":
        return _validate([*args.mapping_paths, *args.paths] or [mappings_dir()])
    if args.out is None:
        args.out = mappings_dir()
    return _generate(args)


def _validate(paths: list[Path]) -> int:
    # several: each a folder (its files) or a file, as one folder's are
    files = [f for path in paths for f in mapping_files(path)]
    mappings = load_mappings(files if len(paths) > 1 else paths[0])
    synced = sum(1 for _ in mappings.enabled())
    unsupported = [m for m in mappings if m.unsupported]
    print(f"{len(mappings)} mapping(s) valid: {synced} enabled, {len(unsupported)} unsupported")
    for m in unsupported:
        print(f"  unsupported {m.name}: {m.unsupported}")
    for m in mappings:
        if warning := m.case_insensitive_key_warning():
            print(f"  warning: {warning}")
        for warning in unknown_type_warnings(m):
            print(f"  warning: {warning}")
    return 0


def _generate(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    endpoint = endpoints_from_env().mysql
    databases = args.databases or [endpoint.database]
    existing = read_existing(args.out)  # fails on bad files before anything is written
    live = read_tables(endpoint, databases)
    if not live:
        raise MappingError(
            f"no tables found in {', '.join(databases)} for user {endpoint.user}; "
            "check the database names and the user's grants"
        )
    options = GenerateOptions(target_schema=args.target_schema, enum_style=args.enum_style)
    entries, drift = generate(live, {k: v.data for k, v in existing.items()}, databases, options)
    problems = []
    for name, entry in entries.items():
        try:
            TableMapping.model_validate(entry)
        except ValidationError as exc:
            problems += [f"{name}: {p}" for p in _describe(exc, entry)]
    if problems:
        raise MappingError("generated mappings do not validate:\n  - " + "\n  - ".join(problems))
    refuse_target_collisions(entries, {k: (v.data, v.path) for k, v in existing.items()}, options)
    for line in drift.lines():
        print(line if line.startswith("warning") else f"drift: {line}")
    if drift.new_tables:
        print(
            "note: a new table's entry is enabled; to keep a MySQL table out of the sync, set "
            "enabled: false in its entry (kept), not delete the file, which this writes again"
        )
    if args.check:
        if not drift.has_drift:  # silence would not tell "checked, none" from "checked nothing"
            print(
                f"no drift: the {len(entries)} table(s) of {', '.join(databases)} match {args.out}"
            )
        return 3 if drift.has_drift else 0
    changed = write_entries(args.out, entries, existing)
    unsupported = sum(1 for e in entries.values() if e.get("unsupported"))
    print(
        f"{len(entries)} table(s) from {', '.join(databases)}: {len(changed)} file(s) written, "
        f"{unsupported} unsupported, in {time.perf_counter() - started:.2f} s",
        file=sys.stderr,
    )
    if changed and (drift.new_columns or drift.new_tables):
        # the stream reads the new mappings at its next run and stops on a column PostgreSQL
        # lacks: the shorter this gap, the less it waits
        print(
            "next: `make ddl` creates the new tables and adds the new columns in PostgreSQL "
            "(README, Operations: Add a table / Add a column)",
            file=sys.stderr,
        )
    return 0
