"""The backfill's value checks, without servers: what the readers select, and the converters
refusing a value they would otherwise change (tests/integration/test_backfill_value_hunt.py
runs the same cases through a real backfill)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pyarrow as pa
import pytest

from mysql_pg_sync.backfill import binary_copy, readers
from mysql_pg_sync.backfill.conversion import Rejects, convert_batch
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.types.arrow import select_list, to_pg_table, without_prefix
from mysql_pg_sync.types.convert import to_pg

SRID_4326 = (4326).to_bytes(4, "little")
POINT_WKB = bytes.fromhex("0101000000000000000000F03F0000000000000040")  # POINT(1 2)


def _mapping(*columns: dict[str, Any], **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "db.t",
            "target": "public.t",
            "key": ["id"],
            "direction": "mysql_to_pg",
            "columns": [{"name": "id", "column_type": "int(11)"}, *columns],
            **extra,
        }
    )


def _table(values: Any, arrow_type: pa.DataType) -> pa.Table:
    return pa.table(
        {"id": pa.array(range(1, len(values) + 1), pa.int32()), "c": pa.array(values, arrow_type)}
    )


def _fails(mapping: TableMapping, table: pa.Table, *needles: str) -> str:
    """The error convert_batch raises (as the copy does), which must name each of ``needles``."""
    with pytest.raises(ConversionError) as failed:
        convert_batch(mapping, table.to_batches()[0])
    message = str(failed.value)
    for needle in needles:
        assert needle in message, message
    return message


# --- what the readers select ------------------------------------------------------------------


def test_the_fallback_reads_a_float_as_a_double_and_utf8_text_as_bytes() -> None:
    m = _mapping(
        {"name": "f", "column_type": "float"},
        {"name": "t", "column_type": "varchar(10)"},
        {"name": "l", "column_type": "varchar(10)", "charset": "latin1"},
        {"name": "j", "column_type": "json"},
    )
    assert select_list(m) == "`id`, `f`, `t`, `l`, `j`"  # connectorx: binary protocol, exact
    assert select_list(m, fallback=True) == (
        "`id`, CAST(`f` AS DOUBLE) AS `f`, CAST(`t` AS BINARY) AS `t`, `l`, "
        "CAST(`j` AS BINARY) AS `j`"
    )
    assert readers.select_sql(m, "1=1", readers.FALLBACK).startswith(
        f"SELECT {select_list(m, fallback=True)} FROM "
    )
    assert readers.empty_batch(m).schema.field("t").type == pa.binary()
    assert readers.empty_batch(m).schema.field("l").type == pa.string()


def test_ascii_text_an_enum_with_an_empty_member_and_geometry_are_read_in_full() -> None:
    m = _mapping(
        {"name": "a", "column_type": "char(3)", "charset": "ascii"},
        {"name": "e", "column_type": "enum('','a')"},
        {"name": "plain", "column_type": "enum('a','b')"},
        {"name": "g", "column_type": "geometry"},
    )
    assert select_list(m) == (
        "`id`, CAST(`a` AS BINARY) AS `a`, CONCAT(`e` + 0, ':', `e`) AS `e`, `plain`, "
        "CAST(`g` AS BINARY) AS `g`"
    )


# --- 1. FLOAT through the fallback ------------------------------------------------------------


def test_a_float_read_as_a_double_keeps_its_value() -> None:
    m = _mapping({"name": "c", "column_type": "float"})
    out = convert_batch(
        m, _table([123456792.0, 3.4028234663852886e38], pa.float64()).to_batches()[0]
    )
    assert out.schema.field("c").type == pa.float32()
    assert out.column("c").cast(pa.float64()).to_pylist() == [123456792.0, 3.4028234663852886e38]


# --- 2. fractional seconds the target cannot keep ------------------------------------------


@pytest.mark.parametrize(
    ("column", "values", "arrow_type", "bad"),
    [
        (  # connectorx's native DATETIME(6) into a stale mapping's timestamp(0)
            {"column_type": "datetime", "pg_type": "timestamp(0)"},
            [dt.datetime(2020, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)],
            pa.timestamp("us"),
            "datetime(9999, 12, 31, 23, 59, 59, 999999)",
        ),
        (  # the fallback's text
            {"column_type": "datetime(6)", "pg_type": "timestamp(3)"},
            ["2020-01-01 00:00:00.123000", "2020-01-01 00:00:00.123400"],
            pa.string(),
            "2020-01-01 00:00:00.123400",
        ),
        (
            {"column_type": "timestamp(6)", "pg_type": "timestamptz(0)"},
            [dt.datetime(2020, 1, 1), dt.datetime(2038, 1, 19, 3, 14, 7, 999999)],
            pa.timestamp("us"),
            "datetime(2038, 1, 19, 3, 14, 7, 999999)",
        ),
        (  # TIME is read as microseconds
            {"column_type": "time(6)", "pg_type": "time(0)"},
            [36_000_000_000, 86_399_999_999],
            pa.int64(),
            "23:59:59.999999",
        ),
        (
            {"column_type": "time(6)", "pg_type": "interval(0)"},
            [-500_000, 0],
            pa.int64(),
            "-00:00:00.500000",
        ),
    ],
)
def test_fractional_seconds_the_target_would_round_fail(
    column: dict[str, str], values: list[Any], arrow_type: pa.DataType, bad: str
) -> None:
    m = _mapping({"name": "c", **column})
    _fails(m, _table(values, arrow_type), "column 'c'", bad, "would round", "keeps (")


def test_fractional_seconds_that_are_zeros_fit_any_precision() -> None:
    m = _mapping({"name": "c", "column_type": "datetime", "pg_type": "timestamp(0)"})
    whole = [dt.datetime(2020, 1, 1, 10), dt.datetime(1969, 12, 31, 23, 59, 59), None]
    out = convert_batch(m, _table(whole, pa.timestamp("us")).to_batches()[0])
    assert out.column("c").to_pylist() == whole


# --- 4. year 0 --------------------------------------------------------------------------------

_YEAR_ZERO_DAY = -719_528  # 0000-01-01 as days since 1970-01-01 (connectorx's date32)


@pytest.mark.parametrize(
    ("column_type", "values", "arrow_type", "shown"),
    [
        ("date", [18_262, _YEAR_ZERO_DAY], pa.date32(), "0000-01-01"),
        ("date", ["2020-01-01", "0000-01-01"], pa.string(), "0000-01-01"),
        ("datetime", ["2020-01-01 00:00:00", "0000-12-31 23:59:59"], pa.string(), "0000-12-31"),
        ("timestamp", [0, (_YEAR_ZERO_DAY + 365) * 86_400_000_000], pa.int64(), "0000-12-31"),
    ],
)
def test_a_year_zero_date_fails_on_both_readers(
    column_type: str, values: list[Any], arrow_type: pa.DataType, shown: str
) -> None:
    table = _table(values, arrow_type)
    if column_type == "timestamp":  # connectorx's native timestamps
        table = table.set_column(1, "c", table.column("c").cast(pa.timestamp("us")))
    m = _mapping({"name": "c", "column_type": column_type})
    _fails(m, table, "key {'id': 2}", "column 'c'", shown, "year 0")


def test_a_year_zero_date_is_a_reject_in_reject_mode() -> None:
    m = _mapping({"name": "c", "column_type": "date"}, backfill={"on_bad_value": "reject"})
    rejects = Rejects()
    out = convert_batch(
        m, _table([18_262, _YEAR_ZERO_DAY], pa.date32()).to_batches()[0], None, rejects
    )
    assert out.column("id").to_pylist() == [1]
    assert [(r.key, r.column, r.value) for r in rejects.rows] == [({"id": 2}, "c", "0000-01-01")]


# --- 5. the invalid enum value ----------------------------------------------------------------


def test_the_invalid_enum_value_is_told_from_the_empty_member_by_its_index() -> None:
    m = _mapping({"name": "c", "column_type": "enum('','a')"})
    good = convert_batch(m, _table(["1:", "2:a", None], pa.string()).to_batches()[0])
    assert good.column("c").to_pylist() == ["", "a", None]
    _fails(m, _table(["1:", "0:"], pa.string()), "key {'id': 2}", "column 'c'", "index 0")


# --- 6. geometry SRID ---------------------------------------------------------------------------


def test_a_geometry_in_srid_0_is_copied_as_wkb_and_another_srid_fails() -> None:
    m = _mapping({"name": "c", "column_type": "geometry"})
    srid_0 = bytes(4) + POINT_WKB
    out = convert_batch(m, _table([srid_0, None, srid_0], pa.large_binary()).to_batches()[0])
    assert out.column("c").to_pylist() == [POINT_WKB, None, POINT_WKB]
    bad = _table([srid_0, SRID_4326 + POINT_WKB], pa.binary())
    _fails(m, bad, "key {'id': 2}", "column 'c'", "SRID 4326")


def test_the_stream_refuses_a_geometry_srid_too() -> None:
    column = ColumnMapping(name="g", column_type="geometry")
    assert to_pg(column, bytes(4) + POINT_WKB) == POINT_WKB
    with pytest.raises(ConversionError, match=r"column 'g'.*SRID 4326"):
        to_pg(column, SRID_4326 + POINT_WKB)


def test_without_prefix_cuts_each_value_and_keeps_nulls_and_offsets() -> None:
    rng = random.Random(7)
    for _ in range(300):
        values = [
            None if rng.random() < 0.3 else rng.randbytes(rng.randrange(4, 40))
            for _ in range(rng.randrange(0, 9))
        ]
        array = pa.array(values, pa.large_binary())
        if len(array) > 2:
            array = array.slice(1, len(array) - 2)  # an offset into shared buffers
        cut = without_prefix(array, 4)
        cut.validate(full=True)
        assert cut.to_pylist() == [None if v is None else v[4:] for v in array.to_pylist()]


# --- 7. bytes the character set does not allow -----------------------------------------------


@pytest.mark.parametrize(
    ("charset", "stored"),
    [
        (None, b"\xed\xa0\x80"),  # a UTF-8 encoded surrogate, stored by MariaDB in utf8mb4
        ("utf8mb3", b"\xc3"),  # cut short
        ("ascii", b"\xe9"),  # not UTF-8 either
        ("ascii", "é".encode()),  # valid UTF-8, but not ascii: the server would send '?'
    ],
)
def test_text_read_as_bytes_that_do_not_decode_fails_naming_them(
    charset: str | None, stored: bytes
) -> None:
    m = _mapping({"name": "c", "column_type": "varchar(10)", "charset": charset})
    table = _table([b"ok", stored], pa.binary())
    _fails(m, table, "key {'id': 2}", "column 'c'", repr(stored), "not valid")


def test_text_read_as_bytes_that_decode_is_copied_as_text() -> None:
    m = _mapping({"name": "c", "column_type": "varchar(10)"})
    out = convert_batch(m, _table(["naïve ✓".encode(), b"", None], pa.binary()).to_batches()[0])
    assert out.column("c").to_pylist() == ["naïve ✓", "", None]


def test_json_read_as_bytes_that_do_not_decode_fails_naming_them() -> None:
    m = _mapping({"name": "c", "column_type": "json", "pg_type": "json"})
    _fails(m, _table([b"[1]", b'"\xed\xa0\x80"'], pa.binary()), "key {'id': 2}", "not valid")


# --- 3. a pg_type whose binary COPY input is another kind's ---------------------------------


@pytest.mark.parametrize(
    ("column_type", "pg_type", "receiver"),
    [
        ("double", "bigint", "int8recv"),
        ("varchar(4)", "integer", "int4recv"),
        ("date", "integer", "int4recv"),
        ("bigint(20)", "double precision", "float8recv"),
        ("decimal(10,2)", "bigint", "int8recv"),
        ("time", "text", "textrecv"),
        ("blob", "text", "textrecv"),
        ("varchar(10)", "bytea", "bytearecv"),
    ],
)
def test_a_pg_type_that_would_misread_the_copy_is_a_problem_naming_the_column(
    column_type: str, pg_type: str, receiver: str
) -> None:
    m = _mapping({"name": "c", "column_type": column_type, "pg_type": pg_type})
    schema = convert_batch(m, readers.empty_batch(m)).schema
    problems = binary_copy.problems(m, schema, {"id": "int4recv", "c": receiver})
    assert len(problems) == 1
    assert f"column 'c' ({column_type} -> pg_type '{pg_type}')" in problems[0]
    assert receiver in problems[0]


@pytest.mark.parametrize(
    ("column_type", "pg_type", "receiver"),
    [
        ("tinyint(1)", "boolean", "boolrecv"),
        ("tinyint(1)", "smallint", "int2recv"),
        ("int(10) unsigned", "bigint", "int8recv"),
        ("int(11)", "int4", "int4recv"),
        ("bigint(20) unsigned", "numeric(20,0)", "numeric_recv"),
        ("float", "real", "float4recv"),
        ("varchar(10)", "varchar(10)", "varcharrecv"),
        ("char(3)", "char(3)", "bpcharrecv"),
        ("enum('a','b')", "t_e", "enum_recv"),
        ("enum('a','b')", "text", "textrecv"),
        ("set('a','b')", "text[]", "array_recv"),
        ("json", "jsonb", "jsonb_recv"),
        ("json", "json", "json_recv"),
        ("bit(5)", "bit varying(5)", "varbit_recv"),
        ("binary(16)", "uuid", "uuid_recv"),
        ("date", "date", "date_recv"),
        ("datetime(6)", "timestamp(6)", "timestamp_recv"),
        ("timestamp", "timestamptz(0)", "timestamptz_recv"),
        ("timestamp", "timestamp(0)", "timestamp_recv"),  # same bytes: no reinterpretation
        ("time", "time(0)", "time_recv"),
        ("time(6)", "interval", "interval_recv"),
        ("geometry", "bytea", "bytearecv"),
        ("inet6", "inet", "inet_recv"),
    ],
)
def test_a_pg_type_of_the_columns_kind_reads_the_copy(
    column_type: str, pg_type: str, receiver: str
) -> None:
    m = _mapping({"name": "c", "column_type": column_type, "pg_type": pg_type})
    schema = convert_batch(m, readers.empty_batch(m)).schema
    assert binary_copy.problems(m, schema, {"id": "int4recv", "c": receiver}) == []


def test_an_integer_pg_type_alias_gets_its_own_width() -> None:
    m = _mapping({"name": "c", "column_type": "int(11)", "pg_type": "int2"})
    out = to_pg_table(m, _table([1, -2], pa.int32()))
    assert out.schema.field("c").type == pa.int16()
