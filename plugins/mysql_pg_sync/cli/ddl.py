"""`ddl [--dry-run] [--tables ...] [--with-indexes] [--with-foreign-keys]`: create PG objects."""

from __future__ import annotations

import argparse
from pathlib import Path

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.ddl import DdlOptions, apply_ddl, plan_ddl
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import endpoints_from_env


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mappings", type=Path, default=Path("include/mappings"))
    parser.add_argument("--dry-run", action="store_true", help="print the SQL, run nothing")
    parser.add_argument("--tables", nargs="+", help="db.table, schema.table or table names")
    parser.add_argument("--with-indexes", action="store_true", help="also secondary indexes")
    parser.add_argument(
        "--with-foreign-keys", action="store_true", help="also foreign keys (after the backfill)"
    )


def run(args: argparse.Namespace) -> int:
    mappings = load_mappings(args.mappings)
    tables = mappings.select(args.tables) if args.tables else None
    options = DdlOptions(with_indexes=args.with_indexes, with_foreign_keys=args.with_foreign_keys)
    statements = plan_ddl(mappings, tables, options)
    if args.dry_run:
        for statement in statements:
            print(statement + ";")
        return 0
    with pg_connect(endpoints_from_env().postgres) as conn:
        apply_ddl(conn, statements)
    print(f"{len(statements)} statement(s) applied")
    return 0
