"""Vectorized converters on Arrow arrays shaped like connectorx's output (no server)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.types.arrow import select_list, to_pg_table
from mysql_pg_sync.types.convert import Stats

UTC = dt.UTC


def mapping(columns: list[dict[str, object]], **values: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)"}, *columns],
            "values": values,
        }
    )


def test_connectorx_shapes_become_postgres_types() -> None:
    m = mapping(
        [
            {"name": "flag", "column_type": "tinyint(1)", "pg_name": "Flag"},
            {"name": "price", "column_type": "decimal(12,2)"},
            {"name": "big", "column_type": "bigint(20) unsigned"},
            {"name": "wide", "column_type": "decimal(65,30)"},
            {"name": "at", "column_type": "datetime(6)"},
            {"name": "ts", "column_type": "timestamp(6)"},
            {"name": "tags", "column_type": "set('x','y','z')"},
            {"name": "dur", "column_type": "time(6)", "pg_type": "interval"},
            {"name": "t", "column_type": "time"},
            {"name": "b", "column_type": "bit(10)"},
            {"name": "gone", "column_type": "blob", "exclude": True},
        ]
    )
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "flag": pa.array([1, None], pa.int8()),
            "price": pa.array([Decimal("12.3400000000"), None], pa.decimal128(38, 10)),
            "big": pa.array([2**64 - 1, 0], pa.uint64()),
            "wide": pa.array(["1." + "1" * 30, None]),
            "at": pa.array(["2020-01-02 03:04:05.123456", "0000-00-00 00:00:00.000000"]),
            "ts": pa.array(["2020-01-02 03:04:05.000001", None]),
            "tags": pa.array(["x,z", ""]),
            "dur": pa.array([3_020_399_000_000, -43_200_000_000], pa.int64()),
            "t": pa.array([86_399_000_000, 0], pa.int64()),
            "b": pa.array([b"\x02\x01", None], pa.large_binary()),
            "gone": pa.array([b"x", b"y"]),
        }
    )
    stats = Stats()
    out = to_pg_table(m, table, stats, wire="text")
    assert out.column_names == [
        "id", "Flag", "price", "big", "wide", "at", "ts", "tags", "dur", "t", "b",
    ]  # fmt: skip
    assert out.schema.field("Flag").type == pa.bool_()
    assert out.schema.field("price").type == pa.decimal128(12, 2)
    assert out.schema.field("big").type == pa.decimal128(20, 0)
    assert out.schema.field("wide").type == pa.decimal256(65, 30)
    rows = out.to_pylist()
    assert rows[0]["Flag"] is True
    assert rows[1]["Flag"] is None
    assert rows[0]["big"] == Decimal(2**64 - 1)
    assert rows[0]["at"] == dt.datetime(2020, 1, 2, 3, 4, 5, 123456)
    assert rows[1]["at"] is None
    assert stats.zero_dates == 1
    assert rows[0]["ts"] == dt.datetime(2020, 1, 2, 3, 4, 5, 1, tzinfo=UTC)
    assert [r["tags"] for r in rows] == [["x", "z"], []]
    assert rows[0]["dur"] == dt.timedelta(hours=838, minutes=59, seconds=59)
    assert rows[1]["dur"] == dt.timedelta(hours=-12)
    assert rows[0]["t"] == dt.time(23, 59, 59)
    assert rows[0]["b"] == "1000000001"


def test_select_list_reads_what_connectorx_cannot() -> None:
    m = mapping(
        [
            {"name": "wide", "column_type": "decimal(65,30)"},
            {"name": "narrow", "column_type": "decimal(12,2)"},
            {"name": "w30", "column_type": "decimal(30,10)"},  # 30 digits: past connectorx's 28
            {"name": "w28", "column_type": "decimal(28,10)"},
            {"name": "d", "column_type": "date"},
            {"name": "order", "column_type": "time"},
            {"name": "g", "column_type": "geometry"},
            {"name": "skip", "column_type": "blob", "exclude": True},
        ]
    )
    assert select_list(m) == (
        "`id`, CAST(`wide` AS CHAR) AS `wide`, `narrow`, CAST(`w30` AS CHAR) AS `w30`, `w28`, "
        "CAST(`d` AS CHAR) AS `d`, "
        "CAST(TIME_TO_SEC(`order`) * 1000000 AS SIGNED) AS `order`, CAST(`g` AS BINARY) AS `g`"
    )


def test_errors_name_the_first_bad_rows_key_and_the_fix() -> None:
    ids = pa.array([7, 8, 9], pa.int32())
    flags = mapping([{"name": "flag", "column_type": "tinyint(1)"}])
    with pytest.raises(ConversionError, match=r"key \(id=8\).*2 row\(s\).*set pg_type: smallint"):
        to_pg_table(flags, pa.table({"id": ids, "flag": pa.array([1, 2, 5], pa.int8())}))
    times = mapping([{"name": "t", "column_type": "time"}])
    with pytest.raises(ConversionError, match=r"key \(id=9\).*set pg_type: interval"):
        to_pg_table(times, pa.table({"id": ids, "t": pa.array([0, 1, -1], pa.int64())}))


def test_nul_bytes_fail_or_are_stripped_and_counted() -> None:
    ids = pa.array([1, 2], pa.int32())
    text = pa.array(["ok", "a\x00b"])
    strict = mapping([{"name": "s", "column_type": "text"}])
    with pytest.raises(ConversionError, match=r"key \(id=2\): column 's'.*NUL bytes"):
        to_pg_table(strict, pa.table({"id": ids, "s": text}))
    lenient = mapping([{"name": "s", "column_type": "text"}], nul_bytes="strip")
    stats = Stats()
    out = to_pg_table(lenient, pa.table({"id": ids, "s": text}), stats)
    assert out.column("s").to_pylist() == ["ok", "ab"]
    assert stats.nul_bytes_stripped == 1


def test_zero_date_sentinel_must_be_representable_in_arrow() -> None:
    ids = pa.array([1], pa.int32())
    dates = pa.array(["0000-00-00"])
    unrepresentable = mapping([{"name": "d", "column_type": "date"}], zero_dates="sentinel")
    with pytest.raises(ConversionError, match="row-by-row path"):
        to_pg_table(unrepresentable, pa.table({"id": ids, "d": dates}))
    representable = mapping(
        [{"name": "d", "column_type": "date"}],
        zero_dates="sentinel",
        zero_date_sentinel="0001-01-01",
    )
    out = to_pg_table(representable, pa.table({"id": ids, "d": dates}))
    assert out.column("d").to_pylist() == [dt.date(1, 1, 1)]


def test_enum_value_outside_the_members_is_refused() -> None:
    m = mapping([{"name": "e", "column_type": "enum('a','b')"}])
    table = pa.table({"id": pa.array([1, 2, 3], pa.int32()), "e": pa.array(["a", None, ""])})
    with pytest.raises(ConversionError, match=r"key \(id=3\).*not a member of the enum"):
        to_pg_table(m, table)
