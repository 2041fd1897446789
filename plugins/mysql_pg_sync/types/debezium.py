"""Decode Debezium JSON-with-schema column values into the Python values the drivers hand out.

After decoding, a value from a MySQL event looks like what mysqlclient returns (with
:func:`.drivers.mysql_conv`), and one from a PostgreSQL event like what psycopg returns (with
:func:`.drivers.register_pg_loaders`), so :mod:`.convert` handles both paths the same way.

Encodings handled (Debezium 3.x, ``time.precision.mode`` adaptive(_time_microseconds) or
connect, ``decimal.handling.mode`` precise/string/double, ``binary.handling.mode`` bytes):
``org.apache.kafka.connect.data.Decimal`` (base64 two's complement, ``scale`` parameter),
``io.debezium.data.VariableScaleDecimal``, ``io.debezium.time.{Date, Timestamp, MicroTimestamp,
NanoTimestamp, ZonedTimestamp, Time, MicroTime, NanoTime, ZonedTime, Year, MicroDuration}``,
Kafka Connect ``Date/Time/Timestamp``, ``io.debezium.data.{Bits, Enum, EnumSet, Json, Uuid}``,
geometry structs, plain ``bytes`` (base64 in JSON).

Limits that come from Debezium itself: a MySQL zero date arrives as null (nullable column) or
as the epoch (NOT NULL column), so it cannot be told from a real value (the stream's decoders
read that epoch as the zero date: :func:`zero_date_decoder`); bigint unsigned needs
``bigint.unsigned.handling.mode=precise`` (``long`` wraps values above 2^63 - 1).

Shared with :mod:`mysql_pg_sync.cdc.decode`: :func:`exact_decimal`, :func:`zero_date_decoder`.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from collections.abc import Callable, Mapping
from decimal import MAX_PREC, Context, Decimal
from typing import Any

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.types.convert import ZERO_DATE, ZERO_DATETIME

UTC = dt.UTC
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DATE = dt.date(1970, 1, 1)
Schema = Mapping[str, Any]
# Decimal.scaleb rounds to its context's precision, 28 digits by default: a decimal(65,30)
# value lost its last 37 digits. Scaling exactly needs a context that never rounds.
_EXACT = Context(prec=MAX_PREC)
# The zero date's text (as mysqlclient hands it over) by the schema name Debezium gives the
# column: what its epoch stands for in a NOT NULL column (see zero_date_decoder).
_ZERO_BY_NAME = {
    "io.debezium.time.Date": ZERO_DATE,
    "org.apache.kafka.connect.data.Date": ZERO_DATE,
    "io.debezium.time.Timestamp": ZERO_DATETIME,
    "org.apache.kafka.connect.data.Timestamp": ZERO_DATETIME,
    "io.debezium.time.MicroTimestamp": ZERO_DATETIME,
    "io.debezium.time.NanoTimestamp": ZERO_DATETIME,
    "io.debezium.time.ZonedTimestamp": ZERO_DATETIME,
}
_ZONED_EPOCH = "1970-01-01T00:00:00"


def exact_decimal(unscaled: int, scale: int) -> Decimal:
    """``unscaled * 10**-scale`` with every digit kept."""
    return Decimal(unscaled).scaleb(-scale, _EXACT)


def zero_date_decoder(name: str | None, decode: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``decode`` for a NOT NULL MySQL date, datetime or timestamp field, reading Debezium's epoch
    as the zero date ('0000-00-00', as mysqlclient hands it over).

    Debezium sends a zero date in a NOT NULL column as the epoch, the same value as a real
    1970-01-01 (00:00:00): legacy schemas hold zero dates by the million and real epochs rarely,
    so the epoch is read as the zero date. A real epoch in such a DATE or DATETIME column reaches
    PostgreSQL as the zero date would (NULL) and reconcile repairs it from MySQL. A TIMESTAMP
    cannot hold the epoch itself (its range starts one second later): no ambiguity there.
    """
    zero = _ZERO_BY_NAME.get(name or "")
    if zero is None:
        return decode

    def decode_or_zero(value: Any) -> Any:
        if value == 0 or (isinstance(value, str) and value.startswith(_ZONED_EPOCH)):
            return zero
        return decode(value)

    return decode_or_zero


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return base64.b64decode(value)


def _signed_int(raw: bytes) -> int:
    return int.from_bytes(raw, "big", signed=True)


def _decimal(value: Any, schema: Schema) -> Any:
    if isinstance(value, str) and schema.get("type") == "string":
        return Decimal(value)
    if isinstance(value, float | int) and schema.get("type") in ("double", "float64"):
        return value
    scale = int((schema.get("parameters") or {}).get("scale", 0))
    return exact_decimal(_signed_int(_bytes(value)), scale)


def _variable_decimal(value: Any, schema: Schema) -> Any:
    return exact_decimal(_signed_int(_bytes(value["value"])), int(value["scale"]))


def _infinite(sign: int) -> str:
    return "infinity" if sign > 0 else "-infinity"


def _from_epoch(amount: int, unit: dt.timedelta) -> Any:
    try:
        return EPOCH + amount * unit
    except OverflowError:
        return _infinite(amount)  # PostgreSQL +-infinity arrive as extreme values


def _date(value: Any, schema: Schema) -> Any:
    try:
        return EPOCH_DATE + dt.timedelta(days=int(value))
    except OverflowError:
        return _infinite(int(value))


def _zoned_timestamp(value: Any, schema: Schema) -> Any:
    if value in ("infinity", "-infinity"):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _zoned_time(value: Any, schema: Schema) -> Any:
    return dt.time.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def _bits(value: Any, schema: Schema) -> Any:
    return int.from_bytes(_bytes(value), "little")  # Debezium packs bits little-endian


def _geometry(value: Any, schema: Schema) -> Any:
    srid = value.get("srid") or 0
    return struct.pack("<I", srid) + _bytes(value["wkb"])  # MySQL's internal format


def _same(value: Any, schema: Schema) -> Any:
    return value


def _us(n: int) -> dt.timedelta:
    return dt.timedelta(microseconds=n)


_BY_NAME: dict[str, Callable[[Any, Schema], Any]] = {
    "org.apache.kafka.connect.data.Decimal": _decimal,
    "io.debezium.data.VariableScaleDecimal": _variable_decimal,
    "io.debezium.time.Date": _date,
    "org.apache.kafka.connect.data.Date": _date,
    "io.debezium.time.Timestamp": lambda v, s: _from_epoch(int(v), dt.timedelta(milliseconds=1)),
    "org.apache.kafka.connect.data.Timestamp": lambda v, s: _from_epoch(
        int(v), dt.timedelta(milliseconds=1)
    ),
    "io.debezium.time.MicroTimestamp": lambda v, s: _from_epoch(int(v), _us(1)),
    "io.debezium.time.NanoTimestamp": lambda v, s: _from_epoch(int(v) // 1000, _us(1)),
    "io.debezium.time.ZonedTimestamp": _zoned_timestamp,
    "io.debezium.time.Time": lambda v, s: dt.timedelta(milliseconds=int(v)),
    "org.apache.kafka.connect.data.Time": lambda v, s: dt.timedelta(milliseconds=int(v)),
    "io.debezium.time.MicroTime": lambda v, s: _us(int(v)),
    "io.debezium.time.NanoTime": lambda v, s: _us(int(v) // 1000),
    "io.debezium.time.ZonedTime": _zoned_time,
    "io.debezium.time.MicroDuration": lambda v, s: _us(int(v)),
    "io.debezium.time.Year": lambda v, s: int(v),
    "io.debezium.data.Bits": _bits,
    "io.debezium.data.Enum": _same,
    "io.debezium.data.EnumSet": _same,
    "io.debezium.data.Json": _same,
    "io.debezium.data.Uuid": _same,
    "io.debezium.data.geometry.Geometry": _geometry,
    "io.debezium.data.geometry.Point": _geometry,
    "io.debezium.data.geometry.Geography": _geometry,
}


def decode_value(value: Any, schema: Schema) -> Any:
    """One column value of an event, given its field schema from the event's ``schema``."""
    if value is None:
        return None
    name = schema.get("name")
    if name in _BY_NAME:
        return _BY_NAME[name](value, schema)
    kind = schema.get("type")
    if kind == "bytes":
        return _bytes(value)
    if kind == "array":
        item = schema.get("items") or {}
        return [decode_value(v, item) for v in value]
    return value


def decode_row(row: Mapping[str, Any] | None, struct_schema: Schema) -> dict[str, Any] | None:
    """A ``before``/``after`` struct -> column values, using the struct's field schemas."""
    if row is None:
        return None
    fields = {f["field"]: f for f in struct_schema.get("fields", ())}
    decoded = {}
    for name, value in row.items():
        if name not in fields:
            raise ConversionError(
                f"event column {name!r} has no schema; the connector must use "
                "JsonConverter with schemas.enable=true"
            )
        decoded[name] = decode_value(value, fields[name])
    return decoded
