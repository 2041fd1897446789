"""Which PostgreSQL canonical form a column gets: the interval and 64-bit forms cost more, so only
interval and bit-string columns pay for them (their output is checked on the real servers in
tests/integration/test_reconcile_time_and_bits.py)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.dialects.stored_type import StoredType


@pytest.mark.parametrize(
    ("kind", "pg_type", "stored", "expected"),
    [
        ("time", "time(6)", StoredType("time without time zone"), "to_char(c, 'HH24:MI:SS.US')"),
        ("time", "", None, "to_char(c, 'HH24:MI:SS.US')"),
        ("bit", "bigint", None, "(c)::text"),
        ("bit", "numeric(20,0)", None, "(c)::text"),
    ],
)
def test_other_columns_keep_their_cheap_form(
    kind: str, pg_type: str, stored: StoredType | None, expected: str
) -> None:
    assert postgres.canonical_text_sql("c", kind, pg_type=pg_type, stored=stored) == expected


@pytest.mark.parametrize(
    ("pg_type", "stored"),
    [("interval", None), ("INTERVAL(6)", None), ("", StoredType("interval"))],
)
def test_an_interval_column_gets_the_signed_hours_form(
    pg_type: str, stored: StoredType | None
) -> None:
    sql = postgres.canonical_text_sql("c", "time", pg_type=pg_type, stored=stored)
    assert sql.startswith("(CASE WHEN c < '0'::interval THEN '-' || to_char(")


@pytest.mark.parametrize("pg_type", ["bit varying(64)", "bit varying(8)", "bit(64)"])
def test_a_bit_string_is_read_unsigned(pg_type: str) -> None:
    sql = postgres.canonical_text_sql("c", "bit", pg_type=pg_type)
    assert "length(c) < 64 OR get_bit(c, 0) = 0" in sql
    assert "::numeric + 18446744073709551616" in sql
