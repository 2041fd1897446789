"""`ddl [--dry-run] [--tables ...] [--with-indexes] [--with-foreign-keys]`: create PG objects.

Missing tables are created; an existing table gets the mapped columns it lacks (so the plan
reads PostgreSQL, also with ``--dry-run``; ``--dry-run --as-new`` prints every CREATE TABLE
offline). A column whose
type differs from the mapping is reported, not changed: changing a type rewrites the table and
can fail on its rows, which is the operator's call. A mapped column a table lacks is not added
while the table has an unmapped column of its type (the PostgreSQL app may have renamed it: the
fix is the entry's ``pg_name``), unless ``--not-renamed`` says it is new.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg

from mysql_pg_sync.backfill.target import (
    ExistingTargets,
    existing_columns,
    probe_types,
    read_existing,
)
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.ddl import (
    NOT_RENAMED_OPTION,
    DdlOptions,
    apply_ddl,
    chosen_tables,
    describe_changes,
    plan_ddl,
    suspected_rename_problem,
    suspected_renames,
)
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.settings import endpoints_from_env, mappings_dir


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mappings",
        type=Path,
        default=None,
        help="mapping folder or file (default: $MPS_MAPPINGS_DIR, else <repo>/include/mappings)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the SQL, run nothing")
    parser.add_argument(
        "--as-new",
        action="store_true",
        help="with --dry-run: print every table's CREATE TABLE (each default expression) as if "
        "none existed, without connecting to PostgreSQL",
    )
    parser.add_argument(
        "--tables",
        nargs="+",
        help="db.table, schema.table or table names, or globs ('legacy.order*'), as backfill "
        "and reconcile take them",
    )
    parser.add_argument("--with-indexes", action="store_true", help="also secondary indexes")
    parser.add_argument(
        "--with-foreign-keys", action="store_true", help="also foreign keys (after the backfill)"
    )
    parser.add_argument(
        NOT_RENAMED_OPTION,
        dest="not_renamed",
        action="store_true",
        help="add the mapped columns a table lacks even where it has an unmapped column of the "
        "same type (without it ddl refuses: the PostgreSQL app may have renamed the column, "
        "and then the fix is the entry's pg_name, not a new empty column)",
    )


def run(args: argparse.Namespace) -> int:
    mappings = load_mappings(args.mappings or mappings_dir())
    tables = mappings.match(args.tables) if args.tables else None
    chosen = chosen_tables(mappings, tables)
    options = DdlOptions(with_indexes=args.with_indexes, with_foreign_keys=args.with_foreign_keys)
    if args.as_new:
        if not args.dry_run:
            print("ddl: --as-new only prints (add --dry-run)", file=sys.stderr)
            return 2
        _print(plan_ddl(mappings, tables, options))
        return 0
    with pg_connect(endpoints_from_env().postgres) as conn:
        existing = read_existing(conn, chosen)
        conn.rollback()
        if existing.problems:
            _print_problems(mappings, chosen, existing)
            return 1
        renamed = [] if args.not_renamed else _suspected_renames(conn, chosen, existing)
        conn.rollback()
        if renamed:
            for problem in renamed:
                print(f"ddl: {problem}", file=sys.stderr)
            print("ddl: nothing was applied", file=sys.stderr)
            return 1
        statements = plan_ddl(
            mappings,
            tables,
            options,
            existing.columns,
            existing.unvalidated,
            existing.stale_checks,
            existing.missing_checks,
            existing.replica_identities,
        )
        if args.dry_run:
            _print(statements)
            # stderr: stdout stays SQL to pipe; many statements are idempotent no-ops (ADD VALUE
            # IF NOT EXISTS, CREATE ... IF NOT EXISTS), which alone do not tell what would change
            _print_done(chosen, existing, options, len(statements), dry_run=True)
            return 0
        try:
            apply_ddl(conn, statements)
        except psycopg.errors.NotNullViolation as exc:  # rows written since the check
            print(
                f"ddl: nothing was applied: {exc.diag.message_primary}; set that column's "
                "`default` in its mapping to the value MySQL gave its existing rows, then run "
                "ddl again",
                file=sys.stderr,
            )
            return 1
    _print_done(chosen, existing, options, len(statements))
    return 0


def _suspected_renames(
    conn: psycopg.Connection[Any], chosen: Sequence[TableMapping], existing: ExistingTargets
) -> list[str]:
    """A problem per mapped column ``ddl`` would add beside an unmapped column of its type."""
    problems = []
    for mapping in chosen:
        present = existing.columns.get(mapping.name)
        if present is None:
            continue
        lacking = [c.pg_name for c in mapping.synced_columns() if c.pg_name not in present]
        if not lacking:
            continue
        columns = existing_columns(conn, mapping.target.schema, mapping.target.table) or {}
        wanted, _ = probe_types(conn, mapping, lacking)
        types = {name: kind for name, (kind, _, _) in columns.items()}
        for suspect in suspected_renames(mapping, types, wanted):
            problems.append(suspected_rename_problem(mapping, suspect))
    return problems


def _print_problems(
    mappings: MappingSet, chosen: Sequence[TableMapping], existing: ExistingTargets
) -> None:
    for mapping in chosen:
        problems = existing.problems.get(mapping.name)
        if not problems:
            continue
        origin = mappings.file_of(mapping)
        where = f" (mapping file {origin})" if origin else ""
        what = (
            "the existing PostgreSQL table does not match the mapping"
            if mapping.name in existing.columns
            else f"{mapping.target} cannot be created from the mapping"
        )
        print(
            f"ddl: {mapping.name}: {what}{where}:\n  - " + "\n  - ".join(problems), file=sys.stderr
        )
    others = sorted(m.name for m in chosen if m.name not in existing.problems)
    print(
        "ddl: nothing was applied; fix the tables above, then run ddl again"
        + (
            '; to go on with the others meanwhile: make ddl ARGS="--tables '
            + " ".join(others[:20])
            + (" ..." if len(others) > 20 else "")
            + '"'
            if others
            else ""
        ),
        file=sys.stderr,
    )


def _print_done(
    chosen: Sequence[TableMapping],
    existing: ExistingTargets,
    options: DdlOptions,
    count: int,
    dry_run: bool = False,
) -> None:
    """Per table what was done (or, in a dry run, what would be), then the next step."""
    if dry_run:
        out, head = sys.stderr, "ddl --dry-run (nothing applied), would do: "
    else:
        out, head = sys.stdout, "ddl: "
    created, extended, idle = [], [], []
    for mapping in chosen:
        present = existing.columns.get(mapping.name)
        done = describe_changes(
            mapping,
            present,
            stale_checks=existing.stale_checks.get(mapping.name, ()),
            missing_checks=existing.missing_checks.get(mapping.name, ()),
            unvalidated=existing.unvalidated.get(mapping.name, ()),
            replica_identity=existing.replica_identities.get(mapping.name),
        )
        for line in done:
            print(f"{head}{mapping.name}: {line}", file=out)
        if present is None:
            created.append(mapping.name)
        elif any(c.pg_name not in present for c in mapping.synced_columns()):
            extended.append(mapping.name)
        elif not done:
            idle.append(mapping.name)
    for wanted, what in (
        (options.with_indexes, "secondary indexes"),
        (options.with_foreign_keys, "foreign keys"),
    ):
        if wanted:
            print(f"{head}{what} of these tables created where missing", file=out)
    if idle:
        more = f" and {len(idle) - _LISTED} more" if len(idle) > _LISTED else ""
        print(f"{head}nothing to do for {', '.join(idle[:_LISTED])}{more}", file=out)
    verb = "printed, none applied" if dry_run else "run"
    print(
        f"{count} statement(s) {verb} (each is idempotent: one with nothing to do changes nothing)",
        file=out,
    )
    if dry_run:
        return
    if created:
        print(
            'next: `make cli ARGS="connectors apply"` captures the new table(s), then '
            f'`make cli ARGS="backfill run --tables {" ".join(created)}"` copies their rows '
            "(README, Operations: Add a table)"
        )
    elif extended:
        print(
            "next: rows written between the MySQL migration and the stream's next run may hold "
            "the new column's default here: "
            f'`make cli ARGS="reconcile --tables {" ".join(extended)} --repair --no-dry-run"` '
            "repairs them (README, Operations: Add a column, step 5)"
        )


_LISTED = 20


def _print(statements: list[str]) -> None:
    for statement in statements:
        print(statement + ";")
