"""The same Debezium event through both decoders gives the same values.

Each event is written once as Kafka Connect's JSON with schemas and once as the Avro that
Apicurio's (Confluent-compatible) AvroConverter writes for the same Connect schema: records per
struct (referenced by name the second time), ``["null", X]`` for optional fields,
``connect.name``/``connect.parameters`` on named types and the ``decimal`` logical type for
Connect's Decimal (as the stack's registry holds them). Every test asserts Avro == JSON.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import struct
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import fastavro
import pytest

from mysql_pg_sync.cdc.decode import DecodeError, decode_change, key_payload
from mysql_pg_sync.cdc.decode_avro import AvroDecoder, registry_fetch
from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent, KafkaPosition
from mysql_pg_sync.types.debezium import exact_decimal

SAMPLES = json.loads((Path(__file__).parent / "data" / "debezium_envelopes.json").read_text())
DECIMAL = "org.apache.kafka.connect.data.Decimal"
CONNECT_LOGICAL = {
    "org.apache.kafka.connect.data.Date": "date",
    "org.apache.kafka.connect.data.Time": "time-millis",
    "org.apache.kafka.connect.data.Timestamp": "timestamp-millis",
}
_PRIMITIVES = {
    "int8": "int",
    "int16": "int",
    "int32": "int",
    "int64": "long",
    "float": "float",
    "double": "double",
    "boolean": "boolean",
    "string": "string",
    "bytes": "bytes",
}


# -- Connect schema (JSON converter form) -> Avro schema and datum, as AvroData does -----------


def avro_schema(schema: dict[str, Any], named: set[str], space: str = "") -> Any:
    """As Avro's Java Schema.toString writes it: a name already defined is a reference, both
    relative to the enclosing namespace."""
    kind = schema["type"]
    avro: Any
    if kind == "struct":
        full = schema.get("name") or "ConnectDefault"
        namespace, _, name = full.rpartition(".")
        if full in named:
            avro = name if namespace == space else full
        else:
            named.add(full)
            avro = {"type": "record", "name": name, "fields": []}
            if namespace != space:
                avro["namespace"] = namespace
            for field in schema["fields"]:
                entry: dict[str, Any] = {
                    "name": field["field"],
                    "type": avro_schema(field, named, namespace),
                }
                if field.get("optional"):
                    entry["default"] = None
                avro["fields"].append(entry)
            if schema.get("name"):
                avro["connect.name"] = full
    elif kind == "array":
        avro = {"type": "array", "items": avro_schema(schema["items"], named, space)}
    else:
        avro = _PRIMITIVES[kind]
        extra: dict[str, Any] = {}
        if kind in ("int8", "int16"):
            extra["connect.type"] = kind
        if schema.get("version") is not None:
            extra["connect.version"] = schema["version"]
        if schema.get("parameters"):
            extra["connect.parameters"] = schema["parameters"]
        if schema.get("name"):
            extra["connect.name"] = schema["name"]
        if schema.get("name") in CONNECT_LOGICAL:  # time.precision.mode=connect
            extra["logicalType"] = CONNECT_LOGICAL[schema["name"]]
        if schema.get("name") == DECIMAL:
            params = schema.get("parameters", {})
            extra["logicalType"] = "decimal"
            extra["precision"] = int(params.get("connect.decimal.precision", 64))
            extra["scale"] = int(params.get("scale", 0))
        if extra:
            avro = {"type": avro, **extra}
    if schema.get("optional"):
        avro = ["null", avro]
    return avro


def avro_datum(schema: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    kind = schema["type"]
    if kind == "struct":
        return {f["field"]: avro_datum(f, value.get(f["field"])) for f in schema["fields"]}
    if kind == "array":
        return [avro_datum(schema["items"], v) for v in value]
    if kind == "bytes":
        raw = base64.b64decode(value)
        if schema.get("name") == DECIMAL:
            scale = int(schema.get("parameters", {}).get("scale", 0))
            return exact_decimal(int.from_bytes(raw, "big", signed=True), scale)
        return raw
    return value


def framed(schema_id: int, avro: Any, datum: Any) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(avro), datum)
    return b"\x00" + struct.pack(">I", schema_id) + out.getvalue()


POSITION = KafkaPosition("mps_test_av.topic", 0, 7)


def both(key: dict[str, Any], value: dict[str, Any] | None) -> tuple[Any, Any]:
    """(JSON result, Avro result): the event, or the DecodeError's text."""
    key_avro = avro_schema(key["schema"], set())
    schemas: dict[int, Any] = {1: key_avro}
    key_bytes = framed(1, key_avro, avro_datum(key["schema"], key["payload"]))
    value_bytes = None
    if value is not None:
        value_avro = avro_schema(value["schema"], set())
        schemas[2] = value_avro
        value_bytes = framed(2, value_avro, avro_datum(value["schema"], value["payload"]))
    results = []
    for decode in (
        lambda: decode_change(
            json.dumps(key).encode(),
            None if value is None else json.dumps(value).encode(),
            POSITION,
        ),
        lambda: AvroDecoder(lambda i: json.dumps(schemas[i])).decode_change(
            key_bytes, value_bytes, POSITION
        ),
    ):
        try:
            results.append(_comparable(decode()))
        except DecodeError as exc:
            results.append(f"DecodeError: {exc}")
    return results[0], results[1]


def _comparable(event: ChangeEvent | None) -> Any:
    if event is None:
        return None
    return (event.op, dict(event.key), event.before, event.after, event.fields)


# -- envelopes ------------------------------------------------------------------------------


def _field(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"optional": True, **schema, "field": name}


def envelope(
    side: str,
    columns: dict[str, dict[str, Any]],
    after: dict[str, Any] | None,
    before: dict[str, Any] | None = None,
    op: str = "u",
    key: tuple[str, ...] = ("id",),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(key, value) messages in JSON-with-schema form for a table with ``columns``."""
    prefix = "mps_test_av_pg.public.t" if side == "postgres" else "mps_test_av_my.db.t"
    fields = [_field(n, s) for n, s in columns.items()]
    value_struct = {"type": "struct", "name": f"{prefix}.Value", "fields": fields}
    source = {
        "type": "struct",
        "name": "io.debezium.connector.Source",
        "optional": False,
        "field": "source",
        "fields": [
            {"type": "string", "optional": False, "field": "connector"},
            {"type": "int64", "optional": False, "field": "ts_ms"},
            {"type": "string", "optional": False, "field": "db"},
            {"type": "string", "optional": True, "field": "schema"},
            {"type": "string", "optional": False, "field": "table"},
        ],
    }
    schema = {
        "type": "struct",
        "name": f"{prefix}.Envelope",
        "optional": False,
        "fields": [
            {**value_struct, "optional": True, "field": "before"},
            {**value_struct, "optional": True, "field": "after"},
            source,
            {"type": "string", "optional": False, "field": "op"},
        ],
    }
    connector = "postgresql" if side == "postgres" else "mariadb"
    payload = {
        "before": before,
        "after": after,
        "source": {
            "connector": connector,
            "ts_ms": 1,
            "db": "app" if side == "postgres" else "db",
            "schema": "public" if side == "postgres" else None,
            "table": "t",
        },
        "op": op,
    }
    key_fields = [{**columns[k], "optional": False, "field": k} for k in key]
    key_schema = {
        "type": "struct",
        "name": f"{prefix}.Key",
        "optional": False,
        "fields": key_fields,
    }
    image = before if op == "d" else after
    assert image is not None
    key_msg = {"schema": key_schema, "payload": {k: image[k] for k in key}}
    return key_msg, {"schema": schema, "payload": payload}


ID = {"id": {"type": "int32", "optional": False}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unscaled(n: int) -> str:
    return _b64(n.to_bytes((n.bit_length() + 8) // 8 or 1, "big", signed=True))


def _vsd(text: str) -> dict[str, Any]:
    d = Decimal(text)
    exp = -int(d.as_tuple().exponent)
    return {"scale": exp, "value": _unscaled(int(d.scaleb(exp)))}


VSD = {
    "type": "struct",
    "name": "io.debezium.data.VariableScaleDecimal",
    "version": 1,
    "fields": [
        {"type": "int32", "optional": False, "field": "scale"},
        {"type": "bytes", "optional": False, "field": "value"},
    ],
}
GEOMETRY: dict[str, Any] = {
    "type": "struct",
    "name": "io.debezium.data.geometry.Point",
    "version": 1,
    "fields": [
        {"type": "double", "optional": False, "field": "x"},
        {"type": "double", "optional": False, "field": "y"},
        {"type": "bytes", "optional": True, "field": "wkb"},
        {"type": "int32", "optional": True, "field": "srid"},
    ],
}
WKB = b"\x01\x01\x00\x00\x00" + struct.pack("<dd", 1, 2)
PLACEHOLDER = "__debezium_unavailable_value"
TEXTS = {"type": "array", "items": {"type": "string", "optional": True}}
POINT = {"x": 1.0, "y": 2.0, "wkb": base64.b64encode(WKB).decode(), "srid": 4326}


def _dec(scale: int, precision: int) -> dict[str, Any]:
    return {
        "type": "bytes",
        "name": DECIMAL,
        "version": 1,
        "parameters": {"scale": str(scale), "connect.decimal.precision": str(precision)},
    }


def _named(kind: str, name: str, **params: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "name": name, "version": 1}
    if params:
        schema["parameters"] = params
    return schema


# (case id, side, column schema, JSON payload value)
CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    # decimals
    ("pg numeric (VariableScaleDecimal)", "postgres", VSD, _vsd("12.50")),
    ("pg numeric 40 digits (VSD)", "postgres", VSD,
     _vsd("-1234567890123456789012345678.9012345678")),
    ("pg numeric[] (VSD items)", "postgres", {"type": "array", "items": {**VSD, "optional": True}},
     [_vsd("1.5"), None]),
    ("mysql decimal(65,30)", "mysql", _dec(30, 65),
     _unscaled(int("12345678901234567890123456789012345123456789012345678901234567890"))),
    ("pg numeric(12,2) negative", "postgres", _dec(2, 12), _unscaled(-1)),
    ("pg numeric(10,2)[]", "postgres",
     {"type": "array", "items": {**_dec(2, 10), "optional": True}}, [_unscaled(150), None]),
    ("mysql bigint unsigned", "mysql", _dec(0, 20), _unscaled(2**64 - 1)),
    # dates and times
    ("mysql date", "mysql", _named("int32", "io.debezium.time.Date"), 19782),
    ("mysql NOT NULL date epoch", "mysql",
     {**_named("int32", "io.debezium.time.Date"), "optional": False}, 0),
    ("mysql NOT NULL timestamp epoch", "mysql",
     {**_named("string", "io.debezium.time.ZonedTimestamp"), "optional": False},
     "1970-01-01T00:00:00Z"),
    ("mysql datetime(3)", "mysql", _named("int64", "io.debezium.time.Timestamp"), 1709212455123),
    ("mysql datetime(6)", "mysql", _named("int64", "io.debezium.time.MicroTimestamp"),
     1709212455123456),
    ("mysql time(6) negative", "mysql", _named("int64", "io.debezium.time.MicroTime"),
     -45000500000),
    ("pg time(3)", "postgres", _named("int32", "io.debezium.time.Time"), 45000500),
    ("pg nano timestamp", "postgres", _named("int64", "io.debezium.time.NanoTimestamp"),
     1709212455123456789),
    ("pg timestamptz", "postgres", _named("string", "io.debezium.time.ZonedTimestamp"),
     "2024-02-29T11:14:15.123456Z"),
    ("pg date +infinity", "postgres", _named("int32", "io.debezium.time.Date"), -2147472692),
    ("pg timestamp -infinity", "postgres", _named("int64", "io.debezium.time.MicroTimestamp"),
     -9223372036832400000),
    ("pg timestamptz infinity", "postgres", _named("string", "io.debezium.time.ZonedTimestamp"),
     "infinity"),
    ("pg interval", "postgres", _named("string", "io.debezium.time.Interval"),
     "P0Y0M1DT2H3M4.5S"),
    ("pg date[]", "postgres",
     {"type": "array", "items": {**_named("int32", "io.debezium.time.Date"), "optional": True}},
     [19782, None]),
    # Kafka Connect's own logical types (Debezium's time.precision.mode=connect)
    ("connect Date", "mysql", _named("int32", "org.apache.kafka.connect.data.Date"), 19782),
    ("connect Time", "mysql", _named("int32", "org.apache.kafka.connect.data.Time"), 45000500),
    ("connect Timestamp", "postgres",
     _named("int64", "org.apache.kafka.connect.data.Timestamp"), 1709212455123),
    ("connect NOT NULL Date epoch", "mysql",
     {**_named("int32", "org.apache.kafka.connect.data.Date"), "optional": False}, 0),
    ("connect Date +infinity", "postgres",
     _named("int32", "org.apache.kafka.connect.data.Date"), -2147472692),
    ("connect Timestamp -infinity", "postgres",
     _named("int64", "org.apache.kafka.connect.data.Timestamp"), -9223372036832400),
    # bits, bytes, text
    ("mysql bit(12)", "mysql", _named("bytes", "io.debezium.data.Bits", length="12"),
     _b64(b"\x01\x08")),
    ("pg bit varying(12)", "postgres", _named("bytes", "io.debezium.data.Bits", length="12"),
     _b64(b"\x01\x08")),
    ("mysql blob", "mysql", {"type": "bytes"}, _b64(b"\x00\xff")),
    ("pg bytea", "postgres", {"type": "bytes"}, _b64(b"\x00\xff")),
    ("pg bytea TOAST", "postgres", {"type": "bytes"}, _b64(PLACEHOLDER.encode())),
    ("pg text TOAST", "postgres", {"type": "string"}, PLACEHOLDER),
    ("pg jsonb TOAST", "postgres", _named("string", "io.debezium.data.Json"), PLACEHOLDER),
    ("pg text[] TOAST", "postgres", TEXTS, [PLACEHOLDER]),
    # Debezium's other unchanged-TOAST arrays (as the stack's Debezium sends them)
    ("pg integer[] TOAST", "postgres", {"type": "array", "items": {"type": "int32"}},
     list(PLACEHOLDER.encode())),
    ("pg date[] TOAST", "postgres",
     {"type": "array", "items": _named("int32", "io.debezium.time.Date")},
     list(PLACEHOLDER.encode())),
    ("pg bytea[] TOAST", "postgres", {"type": "array", "items": {"type": "bytes"}},
     [_b64(PLACEHOLDER.encode())]),
    ("pg uuid[] TOAST", "postgres",
     {"type": "array", "items": _named("string", "io.debezium.data.Uuid")},
     ["b68a35a7-17ad-35b3-af2a-ae46edb4545a"]),
    ("pg integer[]", "postgres", {"type": "array", "items": {"type": "int32"}}, [95, 95]),
    ("pg jsonb", "postgres", _named("string", "io.debezium.data.Json"), '{"a": 1.10}'),
    ("pg uuid", "postgres", _named("string", "io.debezium.data.Uuid"),
     "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
    ("mysql enum", "mysql", _named("string", "io.debezium.data.Enum", allowed="a,b"), "b"),
    ("mysql set", "mysql", _named("string", "io.debezium.data.EnumSet", allowed="x,y"), "x,y"),
    ("pg text[] (a set)", "postgres", TEXTS, ["x", None]),
    ("mysql year", "mysql", _named("int32", "io.debezium.time.Year"), 2024),
    ("mysql tinyint", "mysql", {"type": "int16"}, -3),
    ("pg real", "postgres", {"type": "float"}, 0.5),
    # geometry
    ("mysql point (Point)", "mysql", GEOMETRY, POINT),
    ("mysql geometry (Geometry)", "mysql",
     {**GEOMETRY, "name": "io.debezium.data.geometry.Geometry", "fields": GEOMETRY["fields"][2:]},
     {"wkb": _b64(WKB), "srid": None}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "side", "schema", "value"), CASES, ids=[c[0] for c in CASES])
def test_same_value_from_both_decoders(
    case: str, side: str, schema: dict[str, Any], value: Any
) -> None:
    columns = {**ID, "c": schema}
    key, message = envelope(side, columns, after={"id": 1, "c": value})
    from_json, from_avro = both(key, message)
    assert not isinstance(from_json, str), from_json
    assert from_avro == from_json


TOAST_CASES = [c for c in CASES if "TOAST" in c[0]]


@pytest.mark.parametrize(
    ("case", "side", "schema", "value"), TOAST_CASES, ids=[c[0] for c in TOAST_CASES]
)
def test_unchanged_toasted_value_is_unavailable(
    case: str, side: str, schema: dict[str, Any], value: Any
) -> None:
    key, message = envelope(side, {**ID, "c": schema}, after={"id": 1, "c": value})
    from_json, from_avro = both(key, message)
    assert from_json[3]["c"] is UNAVAILABLE, from_json
    assert from_avro[3]["c"] is UNAVAILABLE, from_avro


def test_repeated_struct_types_by_reference() -> None:
    """A second numeric (or geometry) column's Avro type is only a reference to the first's
    named record: each decodes alike."""
    vsd_items = {"type": "array", "items": {**VSD, "optional": True}}
    columns = {**ID, "a": VSD, "b": VSD, "c": vsd_items, "d": {**VSD, "optional": False}}
    after = {"id": 1, "a": _vsd("1.25"), "b": _vsd("-3"), "c": [_vsd("0.001"), None]}
    key, message = envelope("postgres", columns, after=after | {"d": _vsd("7.0")})
    from_json, from_avro = both(key, message)
    assert from_json[3]["b"] == Decimal("-3")
    assert from_json[3]["c"] == [Decimal("0.001"), None]
    assert from_avro == from_json
    columns = {**ID, "g": GEOMETRY, "h": GEOMETRY}
    key, message = envelope("mysql", columns, after={"id": 1, "g": POINT, "h": POINT | {"srid": 0}})
    from_json, from_avro = both(key, message)
    assert from_json[3]["h"] == bytes(4) + WKB
    assert from_avro == from_json


@pytest.mark.parametrize("side", ["mysql", "postgres"])
def test_nulls_from_both_decoders(side: str) -> None:
    columns = {
        **ID,
        **{f"c{i}": {**c, "optional": True} for i, (_, s, c, _) in enumerate(CASES) if s == side},
    }
    after = dict.fromkeys(columns) | {"id": 1}
    key, message = envelope(side, columns, after=after)
    from_json, from_avro = both(key, message)
    assert from_avro == from_json


def test_composite_date_decimal_key_and_delete_before_image() -> None:
    columns = {
        "d": {**_named("int32", "io.debezium.time.Date"), "optional": False},
        "amt": {**_dec(2, 10), "optional": False},
        "note": {"type": "string"},
    }
    before = {"d": 19782, "amt": _unscaled(150), "note": "x"}
    key, message = envelope("mysql", columns, after=None, before=before, op="d", key=("d", "amt"))
    from_json, from_avro = both(key, message)
    assert from_json[1] == {"d": dt.date(2024, 2, 29), "amt": Decimal("1.50")}
    assert from_avro == from_json


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_captured_envelopes_decode_alike(index: int) -> None:
    sample = SAMPLES[index]
    from_json, from_avro = both(sample["key"], sample["value"])
    assert not isinstance(from_json, str), from_json
    assert from_avro == from_json


def test_tombstone_from_both_decoders() -> None:
    key, _ = envelope("postgres", ID, after={"id": 1})
    assert both(key, None) == (None, None)


# -- errors: the same wording, the same dead-letter key ---------------------------------------


def test_undecodable_value_error_names_position_and_column_alike() -> None:
    columns = {**ID, "tm": _named("string", "io.debezium.time.Interval")}
    key, message = envelope("postgres", columns, after={"id": 7, "tm": "P0Y1M0DT0H0M0S"})
    from_json, from_avro = both(key, message)
    assert "topic mps_test_av.topic partition 0 offset 7: column 'tm'" in from_json
    assert from_avro == from_json


def test_dead_letter_key_of_an_undecodable_message_alike() -> None:
    """The consumer records the active decoder's ``key_payload(key, side)`` with a message it
    cannot decode (consumer.py); ``dead-letters retry`` needs that key to copy the row. Avro
    key bytes need the registry's schema: the Avro decoder reads them, not JSON's function."""
    key, _ = envelope("postgres", ID, after={"id": 7})
    key_avro = avro_schema(key["schema"], set())
    avro_key = framed(1, key_avro, avro_datum(key["schema"], key["payload"]))
    decoder = AvroDecoder(lambda i: json.dumps({1: key_avro}[i]))
    assert key_payload(json.dumps(key).encode(), "postgres") == {"id": 7}
    assert decoder.key_payload(avro_key, "postgres") == {"id": 7}
    # a date and a decimal key are decoded by the key's schema, as from JSON
    columns = {
        "d": {**_named("int32", "io.debezium.time.Date"), "optional": False},
        "amt": {**_dec(2, 10), "optional": False},
    }
    key, _ = envelope("mysql", columns, after={"d": 19782, "amt": _unscaled(150)}, key=("d", "amt"))
    key_avro = avro_schema(key["schema"], set())
    avro_key = framed(3, key_avro, avro_datum(key["schema"], key["payload"]))
    decoder = AvroDecoder(lambda i: json.dumps({3: key_avro}[i]))
    want = {"d": dt.date(2024, 2, 29), "amt": Decimal("1.50")}
    assert key_payload(json.dumps(key).encode(), "mysql") == want
    assert decoder.key_payload(avro_key, "mysql") == want
    assert decoder.key_payload(b"not avro", "mysql") is None


@pytest.fixture
def flaky_registry() -> Iterator[str]:
    """A registry answering 503 (restarting, overloaded)."""

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/apis/ccompat/v7"
    finally:
        server.shutdown()
        server.server_close()


def test_registry_outage_is_not_a_dead_letter(flaky_registry: str) -> None:
    """The consumer dead-letters a DecodeError (the message is at fault) and stops on anything
    else; a registry answering 503 is no fault of the message (a refused connection is not a
    DecodeError either), so it must not read as one."""
    value = b"\x00" + struct.pack(">I", 5) + b"\x02"
    decoder = AvroDecoder(registry_fetch(flaky_registry))
    with pytest.raises(Exception) as raised:
        decoder.decode_change(value, value, POSITION)
    assert not isinstance(raised.value, DecodeError), raised.value


def test_registry_refusing_connections_is_not_a_dead_letter() -> None:
    value = b"\x00" + struct.pack(">I", 5) + b"\x02"
    decoder = AvroDecoder(registry_fetch("http://127.0.0.1:1/apis/ccompat/v7", timeout_s=2))
    with pytest.raises(Exception) as raised:
        decoder.decode_change(value, value, POSITION)
    assert not isinstance(raised.value, DecodeError), raised.value
    with pytest.raises(Exception) as raised:  # nor the dead letter's key: the run stops
        decoder.key_payload(value, "postgres")
    assert not isinstance(raised.value, DecodeError), raised.value
