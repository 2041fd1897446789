"""Per-value converters: MySQL value -> PostgreSQL value -> MySQL value, and the special cases."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping, ValuePolicy
from mysql_pg_sync.types.convert import (
    Stats,
    format_mysql_time,
    parse_mysql_time,
    row_to_mysql,
    row_to_pg,
    to_mysql,
    to_pg,
    zero_date_as_null,
)

UTC = dt.UTC
ZERO_TS = "0000-00-00 00:00:00"


def col(column_type: str, **kw: Any) -> ColumnMapping:
    return ColumnMapping(name="c", column_type=column_type, **kw)


# (column type, pg_type override, MySQL value, PostgreSQL value, MySQL value back)
ROUND_TRIPS: list[tuple[str, str, Any, Any, Any]] = [
    ("tinyint(1)", "", 1, True, 1),
    ("bigint(20) unsigned", "", 2**64 - 1, 2**64 - 1, 2**64 - 1),
    ("decimal(65,30)", "", Decimal("1." + "9" * 30), Decimal("1." + "9" * 30), None),
    ("double", "", 0.1, 0.1, 0.1),
    ("varchar(10)", "", "tab\tnl\n\\", "tab\tnl\n\\", "tab\tnl\n\\"),
    ("varchar(10)", "", "", "", ""),
    ("text", "", "😀", "😀", "😀"),
    ("enum('a','b c')", "", "b c", "b c", "b c"),
    ("set('x','y','z')", "", "x,z", ["x", "z"], "x,z"),
    ("set('x','y','z')", "", "", [], ""),
    ("json", "", '{"b": [1, {"ü": "😀"}], "a": 1}', '{"b": [1, {"ü": "😀"}], "a": 1}', None),
    ("binary(4)", "", b"ab\x00\x00", b"ab\x00\x00", b"ab\x00\x00"),
    ("binary(16)", "uuid", uuid.UUID(int=7).bytes, uuid.UUID(int=7), uuid.UUID(int=7).bytes),
    ("bit(64)", "", b"\xff" * 8, "1" * 64, b"\xff" * 8),
    ("bit(10)", "", b"\x02\x01", "1000000001", b"\x02\x01"),
    ("bit(1)", "", b"\x01", True, 1),
    ("year(4)", "", 0, 0, 0),
    ("year(4)", "", 2155, 2155, 2155),
    ("date", "", "2024-02-29", dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    (
        "datetime(6)",
        "",
        "2020-01-02 03:04:05.123456",
        dt.datetime(2020, 1, 2, 3, 4, 5, 123456),
        dt.datetime(2020, 1, 2, 3, 4, 5, 123456),
    ),
    (
        "timestamp(3)",
        "",
        "2020-01-01 00:00:00.123",
        dt.datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=UTC),
        dt.datetime(2020, 1, 1, 0, 0, 0, 123000),
    ),
    ("time", "", "23:59:59", dt.time(23, 59, 59), "23:59:59"),
    ("time", "interval", "838:59:59", "838:59:59", "838:59:59"),
    ("time(6)", "interval", "-12:00:00.5", "-12:00:00.500000", None),
    ("uuid", "", "123e4567-e89b-12d3-a456-426614174000", None, None),
]


@pytest.mark.parametrize(("mysql_type", "pg_type", "mysql", "pg", "back"), ROUND_TRIPS)
def test_round_trip(mysql_type: str, pg_type: str, mysql: Any, pg: Any, back: Any) -> None:
    column = col(mysql_type, pg_type=pg_type) if pg_type else col(mysql_type)
    pg_value = to_pg(column, mysql)
    if pg is not None:
        assert pg_value == pg
    mysql_again = to_mysql(column, pg_value)
    expected = back if back is not None else mysql
    if column.kind == "interval":
        assert parse_mysql_time(mysql_again) == parse_mysql_time(mysql)
    else:
        assert mysql_again == expected or str(mysql_again) == str(expected)


def test_null_is_null_both_ways() -> None:
    assert to_pg(col("int(11)"), None) is None
    assert to_mysql(col("int(11)"), None) is None


def test_tinyint1_other_than_0_1_fails_with_the_fix() -> None:
    with pytest.raises(ConversionError, match="set pg_type: smallint"):
        to_pg(col("tinyint(1)"), 2, where="table d.t key (id=1)")


def test_nul_bytes_fail_naming_the_row_or_are_stripped_and_counted() -> None:
    with pytest.raises(
        ConversionError, match=r"table d.t key \(id=7\).*NUL bytes.*nul_bytes: strip"
    ):
        to_pg(col("text"), "a\x00b", where="table d.t key (id=7)")
    stats = Stats()
    assert to_pg(col("text"), "a\x00b\x00", ValuePolicy(nul_bytes="strip"), stats=stats) == "ab"
    assert stats.nul_bytes_stripped == 1
    assert stats.by_column == {"nul_bytes_stripped:c": 1}
    assert to_pg(col("blob"), b"a\x00b") == b"a\x00b"  # bytea keeps them


@pytest.mark.parametrize(
    ("mysql_type", "zero"), [("date", "0000-00-00"), ("datetime", "0000-00-00 00:00:00")]
)
def test_zero_dates_become_null_or_a_sentinel_that_comes_back(mysql_type: str, zero: str) -> None:
    stats = Stats()
    assert to_pg(col(mysql_type), zero, stats=stats) is None
    assert stats.zero_dates == 1
    policy = ValuePolicy(zero_dates="sentinel")
    assert to_pg(col(mysql_type), zero, policy) == "-infinity"
    assert to_mysql(col(mysql_type), "-infinity", policy) == zero
    with pytest.raises(ConversionError, match="partial zero date"):
        to_pg(col(mysql_type), "2020-00-10" + zero[10:], policy)


def test_time_outside_a_day_needs_interval() -> None:
    with pytest.raises(ConversionError, match="set pg_type: interval"):
        to_pg(col("time"), "838:59:59")
    with pytest.raises(ConversionError, match="set pg_type: interval"):
        to_pg(col("time"), dt.timedelta(hours=-12))


@pytest.mark.parametrize("text", ["838:59:59", "-838:59:59", "-12:00:00.500000", "00:00:00.000001"])
def test_mysql_time_text_round_trip(text: str) -> None:
    assert format_mysql_time(parse_mysql_time(text)) == text


def test_uint64_out_of_range_from_postgres_fails() -> None:
    with pytest.raises(ConversionError, match="does not fit bigint unsigned"):
        to_mysql(col("bigint(20) unsigned"), Decimal(2**64))


def test_rows_renamed_excluded_and_errors_name_the_key() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "legacy.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "pg_name": "ID"},
                {"name": "flag", "column_type": "tinyint(1)"},
                {"name": "secret", "column_type": "blob", "exclude": True},
            ],
        }
    )
    row = row_to_pg(mapping, {"id": 5, "flag": 0, "secret": b"x"})
    assert row == {"ID": 5, "flag": False}
    assert row_to_mysql(mapping, row) == {"id": 5, "flag": 0}
    with pytest.raises(ConversionError, match=r"table legacy.t key \(id=6\): column 'flag'"):
        row_to_pg(mapping, {"id": 6, "flag": 9})


def test_enum_value_outside_the_members_is_refused() -> None:
    with pytest.raises(ConversionError, match=r"key \(id=3\).*not a member of the enum"):
        to_pg(col("enum('a','b')"), "", where="table d.t key (id=3)")


def test_debezium_escaped_enum_and_set_members_come_back_as_mysql_holds_them() -> None:
    """Debezium's MariaDB source sends 'a,b' as 'a\\,b' and a backslash doubled."""
    enum = col("enum('','a,b','it''s','back\\\\slash')")
    assert enum.values == ("", "a,b", "it's", "back\\slash")
    assert to_pg(enum, "a\\,b") == "a,b"
    assert to_pg(enum, "back\\\\slash") == "back\\slash"
    assert to_pg(enum, "back\\slash") == "back\\slash"  # as mysqlclient hands it over
    assert to_pg(enum, "") == ""
    members = col("set('read','back\\\\slash')")
    assert to_pg(members, "read,back\\\\slash") == ["read", "back\\slash"]
    with pytest.raises(ConversionError, match=r"key \(id=4\).*not a member of the set.*generate"):
        to_pg(members, "read,write", where="table d.t key (id=4)")


def test_the_zero_year_debezium_sends_as_1900_is_zero() -> None:
    year = col("year(4)")
    assert [to_pg(year, v) for v in (1900, 0, 1901, 2155)] == [0, 0, 1901, 2155]
    assert to_mysql(year, 0) == 0


@pytest.mark.parametrize(
    ("mysql_type", "zero"),
    [("date", "0000-00-00"), ("datetime", "0000-00-00 00:00:00"), ("timestamp", ZERO_TS)],
)
def test_a_null_from_postgres_is_the_zero_date_of_a_not_null_mysql_column(
    mysql_type: str, zero: str
) -> None:
    """NOT NULL date columns hold zero dates, which are NULL in PostgreSQL (zero_dates: null):
    the way back gives MySQL its zero date, not a NULL it refuses."""
    not_null = col(mysql_type, nullable=False)
    assert zero_date_as_null(not_null, ValuePolicy())
    assert to_pg(not_null, zero) is None
    assert to_mysql(not_null, None) == zero
    assert to_mysql(col(mysql_type), None) is None  # a NULLable column keeps its NULL
    sentinel = ValuePolicy(zero_dates="sentinel")  # the column stays NOT NULL in PostgreSQL
    assert not zero_date_as_null(not_null, sentinel)
    assert to_mysql(not_null, None, sentinel) is None
    assert not zero_date_as_null(col("time", nullable=False), ValuePolicy())
