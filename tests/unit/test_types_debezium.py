"""Debezium JSON-with-schema values decode (by the stream's decoders) to driver values, then
convert like any other value."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from mysql_pg_sync.cdc.decode import field_decoder
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, ValuePolicy
from mysql_pg_sync.types.convert import ZERO_DATETIME, to_mysql, to_pg
from mysql_pg_sync.types.debezium import zero_date_decoder


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def decimal_schema(scale: int) -> dict[str, Any]:
    return {
        "type": "bytes",
        "name": "org.apache.kafka.connect.data.Decimal",
        "parameters": {"scale": str(scale)},
    }


DECODES = [
    # (value as in the JSON, field schema, decoded)
    (b64((1234).to_bytes(2, "big")), decimal_schema(2), Decimal("12.34")),
    (b64((-1).to_bytes(1, "big", signed=True)), decimal_schema(30), Decimal("-1E-30")),
    (b64((2**64 - 1).to_bytes(9, "big")), decimal_schema(0), Decimal(2**64 - 1)),
    (
        {"scale": 3, "value": b64((-5).to_bytes(1, "big", signed=True))},
        {"type": "struct", "name": "io.debezium.data.VariableScaleDecimal"},
        Decimal("-0.005"),
    ),
    (19782, {"type": "int32", "name": "io.debezium.time.Date"}, dt.date(2024, 2, 29)),
    (
        1577934245123456,
        {"type": "int64", "name": "io.debezium.time.MicroTimestamp"},
        dt.datetime(2020, 1, 2, 3, 4, 5, 123456),
    ),
    (
        1577934245123,
        {"type": "int64", "name": "io.debezium.time.Timestamp"},
        dt.datetime(2020, 1, 2, 3, 4, 5, 123000),
    ),
    (
        "2020-01-02T03:04:05.123456Z",
        {"type": "string", "name": "io.debezium.time.ZonedTimestamp"},
        dt.datetime(2020, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
    ),
    (
        3020399000000,
        {"type": "int64", "name": "io.debezium.time.MicroTime"},
        dt.timedelta(hours=838, minutes=59, seconds=59),
    ),
    (
        -43200000000,
        {"type": "int64", "name": "io.debezium.time.MicroTime"},
        dt.timedelta(hours=-12),
    ),
    (
        -9223372036832400000,
        {"type": "int64", "name": "io.debezium.time.MicroTimestamp"},
        "-infinity",
    ),
    ("-infinity", {"type": "string", "name": "io.debezium.time.ZonedTimestamp"}, "-infinity"),
    (2155, {"type": "int32", "name": "io.debezium.time.Year"}, 2155),
    (b64(b"\x01\x02"), {"type": "bytes", "name": "io.debezium.data.Bits"}, 0x0201),
    (b64(b"ab\x00\x00"), {"type": "bytes"}, b"ab\x00\x00"),
    ("x,z", {"type": "string", "name": "io.debezium.data.EnumSet"}, "x,z"),
    (["x", "z"], {"type": "array", "items": {"type": "string"}}, ["x", "z"]),
    (
        {"wkb": b64(b"\x01\x01\x00\x00\x00"), "srid": None},
        {"type": "struct", "name": "io.debezium.data.geometry.Geometry"},
        b"\x00\x00\x00\x00\x01\x01\x00\x00\x00",
    ),
    (None, {"type": "int32"}, None),
]


def decode_value(value: Any, schema: dict[str, Any], side: Any = "mysql") -> Any:
    decode = field_decoder(schema, side)
    return value if value is None or decode is None else decode(value)


@pytest.mark.parametrize(("value", "schema", "expected"), DECODES)
def test_decode(value: Any, schema: dict[str, Any], expected: Any) -> None:
    side = "postgres" if expected in ("infinity", "-infinity") else "mysql"
    assert decode_value(value, schema, side) == expected


def column(column_type: str, **kw: Any) -> ColumnMapping:
    return ColumnMapping(name="c", column_type=column_type, **kw)


def test_decoded_mysql_values_convert_to_postgres() -> None:
    bits = decode_value(b64(b"\x01\x02"), {"type": "bytes", "name": "io.debezium.data.Bits"})
    assert to_pg(column("bit(10)"), bits) == "1000000001"
    assert to_mysql(column("bit(10)"), bits) == b"\x02\x01"
    interval = decode_value(3020399000000, {"type": "int64", "name": "io.debezium.time.MicroTime"})
    assert to_pg(column("time", pg_type="interval"), interval) == "838:59:59"
    zoned = decode_value("2020-01-02T03:04:05Z", {"name": "io.debezium.time.ZonedTimestamp"})
    assert to_mysql(column("timestamp"), zoned) == dt.datetime(2020, 1, 2, 3, 4, 5)
    sentinel = ValuePolicy(zero_dates="sentinel")
    assert to_mysql(column("datetime"), "-infinity", sentinel) == "0000-00-00 00:00:00"


def test_wrapped_unsigned_bigint_is_refused_with_the_connector_fix() -> None:
    with pytest.raises(ConversionError, match=r"bigint\.unsigned\.handling\.mode=precise"):
        to_pg(column("bigint(20) unsigned"), -1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1970-01-01T00:00:00Z", ZERO_DATETIME),
        ("1970-01-01T00:00:00.000000Z", ZERO_DATETIME),
        ("1970-01-01T00:00:00.5Z", dt.datetime(1970, 1, 1, 0, 0, 0, 500_000, tzinfo=dt.UTC)),
        ("1970-01-01T00:00:00.000001Z", dt.datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=dt.UTC)),
    ],
)
def test_only_the_epoch_itself_is_a_not_null_timestamps_zero_date(
    value: str, expected: Any
) -> None:
    """A TIMESTAMP(1) can hold half a second past the epoch: it is no zero date."""
    decode = zero_date_decoder(
        "io.debezium.time.ZonedTimestamp", lambda v: dt.datetime.fromisoformat(v)
    )
    assert decode(value) == expected
