"""The independent check: every row of both databases, fetched with the plain drivers and
compared in Python with its own small normalisation rules. Shares no code with reconcile/."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import MySQLdb
import psycopg
from tests.integration.convergence.schema import Table

from mysql_pg_sync.settings import DatabaseEndpoint


def normalise(value: Any) -> Any:
    """One canonical Python value per stored value, whichever driver returned it."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 12.50 and 12.5 are the same number
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return value


@dataclass(frozen=True)
class Divergence:
    table: str
    key: tuple[Any, ...]
    mysql: dict[str, Any] | None
    postgres: dict[str, Any] | None

    def describe(self) -> str:
        if self.mysql is None or self.postgres is None:
            where = "PostgreSQL" if self.mysql is None else "MySQL"
            return f"{self.table} {self.key}: only in {where}"
        cols = [c for c in self.mysql if self.mysql[c] != self.postgres.get(c)]
        detail = ", ".join(f"{c}: {self.mysql[c]!r} vs {self.postgres[c]!r}" for c in cols)
        return f"{self.table} {self.key}: {detail}"


def _select(table: Table) -> str:
    return f"SELECT {', '.join(table.column_names)} FROM {table.name}"


def _index(table: Table, rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], dict[str, Any]]:
    key_pos = [table.column_names.index(k) for k in table.key]
    out = {}
    for raw in rows:
        row = tuple(normalise(v) for v in raw)
        out[tuple(row[i] for i in key_pos)] = dict(zip(table.column_names, row, strict=True))
    return out


def mysql_rows(ep: DatabaseEndpoint, table: Table) -> list[tuple[Any, ...]]:
    conn = MySQLdb.connect(
        host=ep.host,
        port=ep.port,
        user=ep.user,
        password=ep.password,
        database=ep.database,
        charset="utf8mb4",
    )
    try:
        cur = conn.cursor()
        cur.execute(_select(table))
        return list(cur.fetchall())
    finally:
        conn.close()


def pg_rows(ep: DatabaseEndpoint, table: Table) -> list[tuple[Any, ...]]:
    with psycopg.connect(
        host=ep.host, port=ep.port, user=ep.user, password=ep.password, dbname=ep.database
    ) as conn:
        return list(conn.execute(_select(table)))  # type: ignore[arg-type]


def compare(
    mysql: DatabaseEndpoint, postgres: DatabaseEndpoint, tables: tuple[Table, ...]
) -> tuple[list[Divergence], dict[str, int]]:
    """Every differing row, and the row count per table (MySQL side)."""
    diverged: list[Divergence] = []
    counts: dict[str, int] = {}
    for table in tables:
        left = _index(table, mysql_rows(mysql, table))
        right = _index(table, pg_rows(postgres, table))
        counts[table.name] = len(left)
        for key in sorted(set(left) | set(right), key=repr):
            if left.get(key) != right.get(key):
                diverged.append(Divergence(table.name, key, left.get(key), right.get(key)))
    return diverged, counts
