"""Decode Debezium change events (JSON converter with schemas) into :class:`ChangeEvent` values.

Values come out as the *source* driver would hand them over (``Decimal``, naive ``datetime`` for
MySQL DATETIME, aware ``datetime`` for timestamptz, ``date``, ``timedelta`` for TIME, ``bytes``),
so the per-value converters in :mod:`mysql_pg_sync.types.convert` apply unchanged. The field
schema names Debezium uses (``io.debezium.time.MicroTimestamp``, Kafka Connect ``Decimal`` with
its scale, ...) pick the decoder; decoders are compiled once per table schema version.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import struct
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar, cast

import msgspec

from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent, KafkaPosition, Side
from mysql_pg_sync.cdc.source_order import source_order
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.types.debezium import (
    TOAST_PLACEHOLDER,
    exact_decimal,
    mysql_geometry,
    postgres_array_decoder,
    zero_date_decoder,
)

_TOAST_PLACEHOLDER_B64 = base64.b64encode(TOAST_PLACEHOLDER.encode()).decode()
EPOCH = dt.datetime(1970, 1, 1)
EPOCH_DATE = dt.date(1970, 1, 1)
_SIDES: dict[str, Side] = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres"}
_OPS = ("c", "u", "d", "r", "t")

Decoder = Callable[[Any], Any]


class DecodeError(SyncError):
    """A Kafka message is not a Debezium change event we can read; names topic and offset."""


class FieldDecodeError(ValueError):
    """One column's value its decoder cannot read; :func:`decode_change` adds the message's
    position and the stream dead-letters it."""

    def __init__(self, column: str, value: Any, exc: Exception) -> None:
        why = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OverflowError):  # dates and times past what Python can hold
            why += (
                "; it is outside years 1-9999 (a year 0, a BC date, 'infinity'), which the "
                "other side cannot hold: fix the row where it was written (for PostgreSQL rows "
                "`make ddl` adds a CHECK refusing such values to tables synced to MySQL)"
            )
        super().__init__(f"column {column!r}: value {value!r} cannot be read ({why})")


def decode_fields(row: dict[str, Any], decoders: Mapping[str, Decoder]) -> None:
    """Decode ``row``'s values in place, naming the column a value fails in."""
    for name, decode in decoders.items():
        value = row.get(name)
        if value is not None:
            try:
                row[name] = decode(value)
            except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
                raise FieldDecodeError(name, value, exc) from exc


def _b64(value: str) -> bytes:
    return binascii.a2b_base64(value)


def _decimal(scale: int) -> Decoder:
    # decimal.handling.mode=precise (the MySQL source): base64 of the unscaled two's-complement
    # integer. The PostgreSQL source sends numeric as text (decimal.handling.mode=string: a
    # schema of type string, no name to tell it from text): the column's converter reads it.
    def decode(value: Any) -> Any:
        return exact_decimal(int.from_bytes(_b64(value), "big", signed=True), scale)

    return decode


def _variable_scale_decimal(value: Any) -> Any:
    unscaled = int.from_bytes(_b64(value["value"]), "big", signed=True)
    return exact_decimal(unscaled, int(value["scale"]))


_FLOAT32 = struct.Struct("f")


def _float32(value: Any) -> Any:
    """A Kafka Connect FLOAT32 (MySQL FLOAT, PostgreSQL real): Java prints the float32 shortest
    (0.1 for 0.100000001490116...), which read as a double is another number; the float32
    itself, as the Avro path hands it over. NaN and infinities come as text: the converter
    refuses them."""
    if type(value) is str:
        return value
    return _FLOAT32.unpack(_FLOAT32.pack(value))[0]


def _date(value: Any) -> Any:
    return EPOCH_DATE + dt.timedelta(days=value)


def _timestamp_ms(value: Any) -> Any:
    return EPOCH + dt.timedelta(milliseconds=value)


def _timestamp_us(value: Any) -> Any:
    return EPOCH + dt.timedelta(microseconds=value)


def _timestamp_ns(value: Any) -> Any:
    return EPOCH + dt.timedelta(microseconds=value // 1000)


def _zoned_timestamp(value: Any) -> Any:
    return dt.datetime.fromisoformat(value)


def _time_ms(value: Any) -> Any:
    return dt.timedelta(milliseconds=value)


def _time_us(value: Any) -> Any:
    return dt.timedelta(microseconds=value)


def _time_ns(value: Any) -> Any:
    return dt.timedelta(microseconds=value // 1000)


# Debezium's interval.handling.mode=string: P<y>Y<m>M<d>DT<h>H<m>M<s>S, each part signed
_ISO_INTERVAL = re.compile(
    r"^P(?:(-?\d+)Y)?(?:(-?\d+)M)?(?:(-?\d+)D)?"
    r"(?:T(?:(-?\d+)H)?(?:(-?\d+)M)?(?:(-?\d+(?:\.\d+)?)S)?)?$"
)


def _iso_interval(value: Any) -> Any:
    """A PostgreSQL interval as the timedelta a MySQL TIME holds ('-1 day -2 hours' is
    -26:00:00); months and years have no length in hours, so they are an error."""
    match = _ISO_INTERVAL.match(str(value))
    if match is None:
        raise ValueError(f"not an ISO 8601 interval: {value!r}")
    years, months, days, hours, minutes = (int(p or 0) for p in match.groups()[:5])
    if years or months:
        raise ValueError(
            f"{value!r} counts {years} year(s) and {months} month(s), which a MySQL TIME "
            "cannot hold (it counts hours); write it in days or hours"
        )
    micros = int(Decimal(match.group(6) or 0).scaleb(6))
    return dt.timedelta(days=days, hours=hours, minutes=minutes, microseconds=micros)


def _bits(value: Any) -> Any:
    return int.from_bytes(_b64(value), "little")  # Debezium emits BIT(n) little-endian


def _bit_string(length: int) -> Decoder:
    # psycopg hands bit varying out as '0101' text, which the converters expect
    def decode(value: Any) -> Any:
        return format(_bits(value), f"0{length}b")

    return decode


def _geometry(value: Any) -> Any:
    return mysql_geometry(_b64(value["wkb"]), value.get("srid"))


_BY_NAME: dict[str, Decoder] = {
    "io.debezium.data.VariableScaleDecimal": _variable_scale_decimal,
    "io.debezium.time.Date": _date,
    "org.apache.kafka.connect.data.Date": _date,
    "io.debezium.time.Timestamp": _timestamp_ms,
    "org.apache.kafka.connect.data.Timestamp": _timestamp_ms,
    "io.debezium.time.MicroTimestamp": _timestamp_us,
    "io.debezium.time.NanoTimestamp": _timestamp_ns,
    "io.debezium.time.ZonedTimestamp": _zoned_timestamp,
    "io.debezium.time.Time": _time_ms,
    "org.apache.kafka.connect.data.Time": _time_ms,
    "io.debezium.time.MicroTime": _time_us,
    "io.debezium.time.NanoTime": _time_ns,
    "io.debezium.time.MicroDuration": _time_us,
    "io.debezium.time.Interval": _iso_interval,
    "io.debezium.data.Bits": _bits,
    "io.debezium.data.geometry.Geometry": _geometry,
    "io.debezium.data.geometry.Point": _geometry,
}


# PostgreSQL's +-infinity as Debezium 3.5's PostgreSQL connector sends them (pgjdbc's infinity
# constants; a date's +infinity wraps around past int32), none of them a date Python can hold.
# They decode to PostgreSQL's own text: a values.zero_dates sentinel then reads back as MySQL's
# zero date, and any other infinity is refused by the converter naming the column.
_PG_INFINITIES: dict[str, dict[Any, str]] = {
    "io.debezium.time.Date": {-2147472691: "-infinity", -2147472692: "infinity"},
    "io.debezium.time.Timestamp": {-9223372036832400: "-infinity", 9223372036825200: "infinity"},
    "io.debezium.time.MicroTimestamp": {
        -9223372036832400000: "-infinity",
        9223372036825200000: "infinity",
    },
    "io.debezium.time.ZonedTimestamp": {"-infinity": "-infinity", "infinity": "infinity"},
}
_PG_INFINITIES["org.apache.kafka.connect.data.Date"] = _PG_INFINITIES["io.debezium.time.Date"]
_PG_INFINITIES["org.apache.kafka.connect.data.Timestamp"] = _PG_INFINITIES[
    "io.debezium.time.Timestamp"
]


def postgres_time_decoder(name: str, decode: Decoder) -> Decoder:
    """``decode`` for a PostgreSQL change, reading +-infinity as text (see _PG_INFINITIES)."""
    infinities = _PG_INFINITIES.get(name)
    if infinities is None:
        return decode

    def decode_or_infinity(value: Any) -> Any:
        infinity = infinities.get(value)
        return decode(value) if infinity is None else infinity

    return decode_or_infinity


def field_decoder(schema: Mapping[str, Any], side: Side) -> Decoder | None:
    """The decoder of one field's schema, or None when the JSON value is already right."""
    name = schema.get("name")
    kind = schema.get("type")
    if name == "org.apache.kafka.connect.data.Decimal":
        return _decimal(int(schema.get("parameters", {}).get("scale", 0)))
    if name == "io.debezium.data.Bits" and side == "postgres":
        return _bit_string(int(schema.get("parameters", {}).get("length", 1)))
    if name in _BY_NAME:
        if side == "mysql" and not schema.get("optional", True):
            return zero_date_decoder(name, _BY_NAME[name])  # a zero date comes as the epoch
        if side == "postgres":
            return postgres_time_decoder(name, _BY_NAME[name])
        return _BY_NAME[name]
    if kind == "float":
        return _float32
    if kind == "bytes":
        return _bytes_or_unavailable if side == "postgres" else _b64
    if kind == "array":
        item = field_decoder(schema.get("items", {}), side)
        if side == "postgres":  # an unchanged TOASTed array comes as a placeholder array
            return postgres_array_decoder(item)
        if item is None:
            return None
        return lambda values: [None if v is None else item(v) for v in values]
    return None


def _bytes_or_unavailable(value: Any) -> Any:
    return UNAVAILABLE if value == _TOAST_PLACEHOLDER_B64 else _b64(value)


class _RowDecoder:
    """Decodes one row struct; compiled once per (table schema, field list)."""

    def __init__(self, fields: list[Mapping[str, Any]], side: Side) -> None:
        self.names = tuple(str(f["field"]) for f in fields)
        self.decoders = {
            str(f["field"]): d for f in fields if (d := field_decoder(f, side)) is not None
        }
        self.check_toast = side == "postgres"

    def __call__(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        decode_fields(row, self.decoders)
        if self.check_toast:
            for name, value in row.items():
                if value == TOAST_PLACEHOLDER:
                    row[name] = UNAVAILABLE
        return row


class _Wire(msgspec.Struct):
    """A JSON-with-schema message; the schema stays raw bytes until a new version shows up."""

    payload: Any = None
    schema: msgspec.Raw = msgspec.Raw(b"")


_WIRE = msgspec.json.Decoder(_Wire)
_row_decoders: dict[tuple[bytes, Side], _RowDecoder] = {}
_key_decoders: dict[tuple[bytes, Side], _RowDecoder | None] = {}


def _row_decoder(raw_schema: bytes, side: Side) -> _RowDecoder:
    found = _row_decoders.get((raw_schema, side))
    if found is None:
        envelope_schema = msgspec.json.decode(raw_schema)
        images = {f.get("field"): f for f in envelope_schema["fields"]}
        after = images.get("after") or images["before"]
        found = _row_decoders[(raw_schema, side)] = _RowDecoder(after["fields"], side)
    return found


def _key_decoder(raw_schema: bytes, side: Side) -> _RowDecoder | None:
    if (raw_schema, side) not in _key_decoders:
        key_schema = msgspec.json.decode(raw_schema)
        decoder = None
        if isinstance(key_schema, dict) and key_schema.get("type") == "struct":
            decoder = _RowDecoder(key_schema["fields"], side)
        _key_decoders[(raw_schema, side)] = decoder
    return _key_decoders[(raw_schema, side)]


_ANY = msgspec.json.Decoder()
# Kafka Connect's JsonConverter writes {"schema":<schema>,"payload":<payload>} compactly and in
# that order, and a table's schema bytes repeat in every message until the table changes. So a
# message that starts with the last schema seen for its topic needs only its payload parsed: the
# schema is most of the bytes. Anything else takes the full parse.
_PREFIX_HEAD, _PREFIX_TAIL = b'{"schema":', b',"payload":'
_prefixes: dict[tuple[str, str], tuple[bytes, msgspec.Raw]] = {}


_T = TypeVar("_T")
# The payload-only path hands out the same Raw schema object for a topic, message after message:
# found by identity, its decoder needs no copy and hash of the schema bytes.
_by_identity: dict[tuple[int, Side, Callable[..., Any]], tuple[msgspec.Raw, Any]] = {}


def _by_schema(raw: msgspec.Raw, side: Side, compile_: Callable[[bytes, Side], _T]) -> _T:
    ident = (id(raw), side, compile_)
    found = _by_identity.get(ident)
    if found is not None and found[0] is raw:
        return cast(_T, found[1])
    value = compile_(bytes(raw), side)
    if any(raw is known for _, known in _prefixes.values()):  # cached raws live on: id is stable
        _by_identity[ident] = (raw, value)
    return value


def _slot(what: str, position: KafkaPosition | None) -> tuple[str, str]:
    return (what, position.topic if position is not None else "")


def _known_schema(data: bytes, what: str, position: KafkaPosition | None) -> msgspec.Raw | None:
    """The cached schema of ``data``'s topic when ``data`` starts with it."""
    known = _prefixes.get(_slot(what, position))
    if known is not None and data.startswith(known[0]) and data.endswith(b"}"):
        return known[1]
    return None


def _wire(data: bytes, what: str, position: KafkaPosition | None) -> _Wire:
    schema = _known_schema(data, what, position)
    if schema is not None:
        head = len(_PREFIX_HEAD) + len(schema) + len(_PREFIX_TAIL)
        try:
            payload = _ANY.decode(memoryview(data)[head:-1])
        except msgspec.DecodeError:
            pass  # not the compact two-key shape after all: the full parse decides
        else:
            if payload is not None:
                return _Wire(payload=payload, schema=schema)
    wire = _full_wire(data, what, position)
    prefix = _PREFIX_HEAD + bytes(wire.schema) + _PREFIX_TAIL
    if data.startswith(prefix):
        _prefixes[_slot(what, position)] = (prefix, wire.schema)
    return wire


def _full_wire(data: bytes, what: str, position: KafkaPosition | None) -> _Wire:
    try:
        wire = _WIRE.decode(data)
    except msgspec.ValidationError:
        wire = _Wire()
    except msgspec.DecodeError as exc:
        raise DecodeError(
            f"{where(position)}: {what} is not JSON ({exc}); is the JSON converter set?"
        ) from None
    if wire.payload is None or not len(wire.schema):
        raise DecodeError(
            f"{where(position)}: {what} is not a JSON-with-schema Debezium envelope; set "
            f"{what}.converter.schemas.enable=true on the source connector"
        )
    return wire


def decode_change(
    key: bytes | None,
    value: bytes | None,
    position: KafkaPosition | None = None,
) -> ChangeEvent | None:
    """One Kafka message -> a change event; None for a tombstone (deletes come as op 'd')."""
    if value is None:
        return None
    wire = _wire(value, "value", position)
    try:
        return _event(wire, key, position)
    except MESSAGE_FAULTS as exc:
        raise envelope_error(exc, position) from exc


# What decoding one message raises when the message is at fault: its dead letter, never a
# reason to stop the stream (an OverflowError stopped every table, at every restart). Not every
# exception: MemoryError, or a NameError of ours, must stop it.
MESSAGE_FAULTS = (
    DecodeError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    AttributeError,
    StopIteration,
    ArithmeticError,
)


def envelope_error(exc: Exception, position: KafkaPosition | None) -> DecodeError:
    """The dead-letter error for an exception raised while decoding one message."""
    if isinstance(exc, DecodeError):
        return exc
    if isinstance(exc, FieldDecodeError):
        return DecodeError(f"{where(position)}: {exc}")
    return DecodeError(f"{where(position)}: malformed Debezium envelope: {exc!r}")


def key_payload(key: bytes | None, side: Side) -> dict[str, Any] | None:
    """The key of a message that cannot be decoded, for its dead letter: decoded by the key's
    own schema (a date key arrives as epoch days, a decimal as base64, and a retry looked that
    up); None when the key cannot be read either."""
    if key is None:
        return None
    try:
        data = _ANY.decode(key)
    except msgspec.DecodeError:
        return None
    if not isinstance(data, dict):
        return None
    if "schema" not in data:
        return data  # a plain JSON object: the values as they are
    payload = data.get("payload")
    if not isinstance(payload, dict):
        return None
    try:
        decoder = _key_decoder(msgspec.json.encode(data["schema"]), side)
        return decoder(payload) if decoder is not None else None
    except (*MESSAGE_FAULTS, msgspec.DecodeError):
        return None


def _event(wire: _Wire, key: bytes | None, position: KafkaPosition | None) -> ChangeEvent:
    side = payload_side(wire.payload, position)
    rows = _by_schema(wire.schema, side, _row_decoder)
    return build_event(
        wire.payload,
        side,
        rows,
        lambda image: _key_values(key, image, position, side),
        position,
    )


def payload_side(payload: Mapping[str, Any], position: KafkaPosition | None) -> Side:
    """Which database the change comes from, checking the envelope on the way."""
    op = payload.get("op")
    if op not in _OPS:
        raise DecodeError(f"{where(position)}: unknown op {op!r} (expected one of c, u, d, r, t)")
    connector = payload["source"].get("connector")
    side = _SIDES.get(str(connector))
    if side is None:
        raise DecodeError(f"{where(position)}: unknown source connector {connector!r}")
    return side


def build_event(
    payload: Mapping[str, Any],
    side: Side,
    rows: Callable[[Any], dict[str, Any] | None],
    key_of: Callable[[Mapping[str, Any] | None], Mapping[str, Any]],
    position: KafkaPosition | None,
) -> ChangeEvent:
    """The event from a decoded envelope payload (JSON or Avro, same Debezium structure)."""
    op = payload["op"]
    source = payload["source"]
    before = rows(payload.get("before"))
    after = rows(payload.get("after"))
    namespace = source.get("schema") if side == "postgres" else source.get("db")
    return ChangeEvent(
        side=side,
        namespace=str(namespace),
        table=str(source["table"]),
        op=op,
        key={} if op == "t" else key_of(before if op == "d" else after),  # TRUNCATE: no key
        before=before,
        after=after,
        source_ts_ms=int(source.get("ts_ms") or payload.get("ts_ms") or 0),
        origin=source.get("origin"),
        gtid=source.get("gtid"),
        server_id=source.get("server_id"),
        position=position,
        fields=getattr(rows, "names", ()),
        source_order=source_order(side, op, source, payload.get("transaction")),
    )


def _key_values(
    key: bytes | None, image: Mapping[str, Any] | None, position: KafkaPosition | None, side: Side
) -> dict[str, Any]:
    if key is None:
        raise DecodeError(f"{where(position)}: message has no key; the table needs a primary key")
    known = _known_schema(key, "key", position) if image is not None else None
    if known is not None and image is not None:  # names from the key schema, values from image
        names = _by_schema(known, side, _key_decoder)
        if names is not None:
            return {name: image.get(name) for name in names.names}
    wire = _wire(key, "key", position)
    if not isinstance(wire.payload, dict):
        raise DecodeError(f"{where(position)}: key is not a JSON-with-schema struct")
    decoder = _by_schema(wire.schema, side, _key_decoder)
    if image is not None and decoder is not None:  # the image holds the same values, decoded
        return {name: image.get(name) for name in decoder.names}
    decoded = decoder(wire.payload) if decoder else wire.payload
    assert decoded is not None
    return decoded


def where(position: KafkaPosition | None) -> str:
    if position is None:
        return "message"
    return f"topic {position.topic} partition {position.partition} offset {position.offset}"
