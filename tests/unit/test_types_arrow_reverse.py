"""PostgreSQL -> MySQL on Arrow arrays shaped like ADBC's output (no server)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.types.arrow_reverse import select_list, to_mysql_table


def mapping(columns: list[dict[str, object]]) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "pg_name": "ID"}, *columns],
        }
    )


def test_adbc_shapes_become_mysql_values() -> None:
    m = mapping(
        [
            {"name": "flag", "column_type": "tinyint(1)"},
            {"name": "tags", "column_type": "set('x','y')"},
            {"name": "dur", "column_type": "time(6)", "pg_type": "interval"},
            {"name": "ts", "column_type": "timestamp(6)"},
            {"name": "b", "column_type": "bit(10)"},
            {"name": "u", "column_type": "binary(16)", "pg_type": "uuid"},
        ]
    )
    assert select_list(m) == '"ID", "flag", "tags", "dur", "ts", "b"::text AS "b", "u"::text AS "u"'
    interval = pa.array(
        [pa.MonthDayNano([0, 34, 82799 * 10**9]), pa.MonthDayNano([0, 0, -500 * 10**3])],
        pa.month_day_nano_interval(),
    )
    table = pa.table(
        {
            "ID": pa.array([1, 2], pa.int32()),
            "flag": pa.array([True, None]),
            "tags": pa.array([["x", "y"], []], pa.list_(pa.string())),
            "dur": interval,
            "ts": pa.array([0, None], pa.timestamp("us", tz="UTC")),
            "b": pa.array(["1000000001", None]),
            "u": pa.array(["00000000-0000-0000-0000-000000000007", None]),
        }
    )
    rows = to_mysql_table(m, table).to_pylist()
    assert rows[0] == {
        "id": 1,
        "flag": 1,
        "tags": "x,y",
        "dur": "838:59:59",
        "ts": dt.datetime(1970, 1, 1),
        "b": b"\x02\x01",
        "u": b"\x00" * 15 + b"\x07",
    }
    assert rows[1]["tags"] == ""
    assert rows[1]["dur"] == "-00:00:00.000500"


def test_infinite_dates_fail_naming_the_key() -> None:
    m = mapping([{"name": "d", "column_type": "date"}])
    minus_infinity_from_adbc = -2147472691
    table = pa.table(
        {
            "ID": pa.array([1, 2], pa.int32()),
            "d": pa.array([0, minus_infinity_from_adbc], pa.int32()).cast(pa.date32()),
        }
    )
    with pytest.raises(ConversionError, match=r"key \(ID=2\): column 'd': infinite"):
        to_mysql_table(m, table)
