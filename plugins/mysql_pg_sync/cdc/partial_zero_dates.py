"""Partial zero dates in the MySQL -> PostgreSQL stream: find them so they become dead letters.

MySQL stores a date with a zero month or day ('2020-00-15', '2020-05-00 10:00:00') when
``sql_mode`` lacks ``NO_ZERO_IN_DATE``. Debezium 3.5 turns any date with a zero year, month or
day into null before a converter sees it (the binlog's row deserializer and the snapshot's field
reader alike), so such a change arrives exactly as a NULL, or as MySQL's zero date, would:
PostgreSQL would get NULL (or the zero-date sentinel) and lose the year and day without a trace.
The message holds nothing that tells them apart, so for a change whose after-image has a null
date we read that column of the row in MySQL: one query per table and batch, and only when a
null date came.

It reads MySQL's current row, not the row as the change wrote it. A value changed since then
comes in a later change of the same row, which decides what PostgreSQL ends with; a partial zero
date written since then makes the earlier change a dead letter too: loud, never silent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mysql_pg_sync.cdc.targets import is_connection_lost
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.mapping.models import ColumnMapping
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.convert import is_zero_date

log = logging.getLogger(__name__)

DATE_KINDS = ("date", "datetime")  # a TIMESTAMP cannot hold a zero month or day
LOOKUPS_PER_QUERY = 200  # rows looked up by one UNION ALL statement

Lookups = Sequence[tuple[Sequence[Any], Sequence[str]]]  # (key values, null date columns) each
Found = dict[int, tuple[str, str]]  # position in the lookups -> (column, MySQL's text)

WHY = (
    "Debezium sent NULL, and MySQL holds a date with a zero year, month or day, which Debezium "
    "sends as NULL and neither NULL nor values.zero_dates can carry"
)
FIX = (
    "fix the value in MySQL (a real date, or NULL): that change streams over, then "
    "`dead-letters retry` closes this letter; add NO_ZERO_IN_DATE to MySQL's sql_mode so "
    "MySQL refuses such dates"
)


def is_partial_zero(text: str) -> bool:
    """MySQL date text that Debezium sends as null but is not MySQL's zero date: a zero year,
    month or day ('2020-00-15', '2020-05-00', '0000-05-10', '2021-00-00 10:00:00')."""
    day = text[:10]
    if len(day) != 10 or is_zero_date(text):
        return False
    return day[:4] == "0000" or day[5:7] == "00" or day[8:10] == "00"


def date_columns(columns: Sequence[ColumnMapping]) -> tuple[str, ...]:
    """The date and datetime columns (MySQL names): the ones a partial zero date can be in."""
    return tuple(c.name for c in columns if c.kind in DATE_KINDS)


def null_dates(dates: Sequence[str], after: Mapping[str, Any]) -> tuple[str, ...]:
    """Of the ``dates`` columns (:func:`date_columns`), those ``after`` carries as null."""
    return tuple(c for c in dates if c in after and after[c] is None)


def lookup_sql(table_sql: str, key: Sequence[str], columns: Sequence[str], rows: int) -> str:
    """One statement reading ``columns`` as MySQL prints them for ``rows`` keys; each row comes
    with its lookup's position, so no key needs matching back (a key read by the driver need
    not equal the decoded one: bytes, collations)."""
    values = ", ".join(f"CAST({mysql_dialect.quote_ident(c)} AS CHAR)" for c in columns)
    where = " AND ".join(f"{mysql_dialect.quote_ident(k)} = {mysql_dialect.PARAM}" for k in key)
    return " UNION ALL ".join(
        f"SELECT {i}, {values} FROM {table_sql} WHERE {where}" for i in range(rows)
    )


def any_partial_sql(table_sql: str, key: Sequence[str], columns: Sequence[str], rows: int) -> str:
    """One cheap statement answering whether any of ``rows`` keys holds a partial zero date in
    ``columns``: almost always none (a null date is a NULL or the zero date), and then the
    exact lookup by position (:func:`lookup_sql`, ~7x the cost) is skipped. A key the
    collation matches more widely can only make it answer yes, never miss one."""
    quoted = [mysql_dialect.quote_ident(k) for k in key]
    if len(quoted) == 1:
        keys = f"{quoted[0]} IN ({', '.join([mysql_dialect.PARAM] * rows)})"
    else:
        one = "(" + " AND ".join(f"{k} = {mysql_dialect.PARAM}" for k in quoted) + ")"
        keys = " OR ".join([one] * rows)
    dates = " OR ".join(
        mysql_dialect.partial_zero_date_sql(mysql_dialect.quote_ident(c)) for c in columns
    )
    return f"SELECT 1 FROM {table_sql} WHERE ({keys}) AND ({dates}) LIMIT 1"


def first_partial_zero(
    wanted: Sequence[str], columns: Sequence[str], texts: Sequence[Any]
) -> tuple[str, str] | None:
    """(column, MySQL's text) of the first of ``wanted`` that holds a partial zero date."""
    by_name = dict(zip(columns, texts, strict=True))
    for name in wanted:
        text = by_name.get(name)
        if isinstance(text, str) and is_partial_zero(text):
            return name, text
    return None


class PartialZeroDates:
    """Looks up, in MySQL, the null dates of MySQL changes; one connection, opened when first
    needed, in autocommit so each lookup sees the latest committed rows."""

    def __init__(self, endpoint: DatabaseEndpoint) -> None:
        self.endpoint = endpoint
        self._conn: Any = None

    def find(
        self,
        db: str,
        table: str,
        key: Sequence[str],
        lookups: Sequence[tuple[Sequence[Any], Sequence[str]]],
    ) -> dict[int, tuple[str, str]]:
        """The lookups whose row holds a partial zero date in MySQL now, in one of the columns
        they carry as null."""
        columns = sorted({c for _, wanted in lookups for c in wanted})
        if not columns:
            return {}
        table_sql = mysql_dialect.qualified(db, table)
        found: Found = {}
        for start in range(0, len(lookups), LOOKUPS_PER_QUERY):
            chunk = lookups[start : start + LOOKUPS_PER_QUERY]
            params = [v for values, _ in chunk for v in values]
            if not self._query(any_partial_sql(table_sql, key, columns, len(chunk)), params):
                continue
            sql = lookup_sql(table_sql, key, columns, len(chunk))
            for position, *texts in self._query(sql, params):
                hit = first_partial_zero(chunk[position][1], columns, texts)
                if hit is not None:
                    found[start + position] = hit
        return found

    def values(
        self,
        db: str,
        table: str,
        key: Sequence[str],
        keys: Sequence[Sequence[Any]],
        expressions: Sequence[str],
    ) -> dict[int, tuple[Any, ...]]:
        """Position in ``keys`` -> the ``expressions`` (SQL over the table's columns) of that
        row in MySQL now; a row not found is left out (cdc/source_values.py)."""
        table_sql = mysql_dialect.qualified(db, table)
        where = " AND ".join(f"{mysql_dialect.quote_ident(k)} = {mysql_dialect.PARAM}" for k in key)
        found: dict[int, tuple[Any, ...]] = {}
        for start in range(0, len(keys), LOOKUPS_PER_QUERY):
            chunk = keys[start : start + LOOKUPS_PER_QUERY]
            sql = " UNION ALL ".join(
                f"SELECT {i}, {', '.join(expressions)} FROM {table_sql} WHERE {where}"
                for i in range(len(chunk))
            )
            for position, *row in self._query(sql, [v for values in chunk for v in values]):
                found[start + int(position)] = tuple(row)
        return found

    def column_names(self, db: str, table: str) -> set[str]:
        """The columns MySQL's table has now (the applier asks when a change lacks mapped ones:
        made before MySQL added them, or after it dropped or renamed them)."""
        rows = self._query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            [db, table],
        )
        return {str(row[0]) for row in rows}

    def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        for attempt in (1, 2):
            try:
                if self._conn is None:
                    self._conn = mysql_connect(self.endpoint, autocommit=True)
                cur = self._conn.cursor()
                cur.execute(sql, params)
                return [tuple(r) for r in cur.fetchall()]
            except Exception as exc:
                if attempt == 2 or not is_connection_lost(exc):
                    raise
                log.info("partial zero dates: MySQL connection lost (%s); reconnecting", exc)
                self.close()
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception as exc:  # best effort: a lost connection may fail to close
                log.debug("close: %s", exc)
