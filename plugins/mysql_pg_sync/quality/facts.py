"""Gather the live facts checks are resolved against: source counts and newest changes (MySQL),
and which ``mps_sync`` state tables exist (PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import for_side
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.plan import TableFacts
from mysql_pg_sync.quality.specs import CheckSpec
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.state.schema import STATE_SCHEMA


def existing_state_tables(pg_conn: Any) -> frozenset[str]:
    rows = pg_conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
        (STATE_SCHEMA,),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def existing_target_tables(pg_conn: Any) -> frozenset[str]:
    """``schema.table`` of every PostgreSQL table and view the connection can see."""
    rows = pg_conn.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables"
    ).fetchall()
    return frozenset(r[0] for r in rows)


def source_facts(mysql_conn: Any, mapping: TableMapping, specs: Sequence[CheckSpec]) -> TableFacts:
    """Row count and newest freshness value of the MySQL table, for the checks that need them."""
    dialect = for_side("mysql")
    table = dialect.qualified(mapping.source.db, mapping.source.table)
    wanted = {s.check for s in specs}
    cursor = mysql_conn.cursor()
    rows: int | None = None
    newest = None
    if "row_count_parity" in wanted:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        rows = int(cursor.fetchone()[0])
    fresh = next((s for s in specs if s.check == "freshness"), None)
    if fresh is not None:
        column = dialect.quote_ident(fresh.params["mysql_column"])
        cursor.execute(f"SELECT MAX({column}) FROM {table}")
        newest = cursor.fetchone()[0]
    cursor.close()
    return TableFacts(source_rows=rows, source_newest=newest)


def gather_facts(
    endpoints: Endpoints, mappings: Sequence[TableMapping], specs: Sequence[CheckSpec]
) -> dict[str, TableFacts]:
    """Facts for every table, keyed by mapping name; one connection per database."""
    with pg_connect(endpoints.postgres, autocommit=True) as pg:
        state_tables = existing_state_tables(pg)
        targets = existing_target_tables(pg)
    by_table: dict[str, list[CheckSpec]] = {}
    for spec in specs:
        by_table.setdefault(spec.table, []).append(spec)
    facts: dict[str, TableFacts] = {}
    conn = mysql_connect(endpoints.mysql, autocommit=True)
    try:
        for mapping in mappings:
            found = source_facts(conn, mapping, by_table.get(mapping.name, []))
            facts[mapping.name] = TableFacts(
                source_rows=found.source_rows,
                source_newest=found.source_newest,
                state_tables=state_tables,
                target_exists=str(mapping.target) in targets,
            )
    finally:
        conn.close()
    return facts
