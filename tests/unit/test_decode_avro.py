"""Avro-encoded Debezium events decode to the same values as the JSON path (no registry needed:
the schema fetch is a function, given the schema text here)."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from mysql_pg_sync.cdc.decode import DecodeError
from mysql_pg_sync.cdc.decode_avro import AvroDecoder
from mysql_pg_sync.cdc.events import UNAVAILABLE

KEY = {"type": "record", "name": "Key", "fields": [{"name": "id", "type": "long"}]}
VALUE = {
    "type": "record",
    "name": "Value",
    "fields": [
        {"name": "id", "type": "long"},
        {
            "name": "price",
            "type": [
                "null",
                {
                    "type": "bytes",
                    "logicalType": "decimal",
                    "precision": 12,
                    "scale": 2,
                    "connect.name": "org.apache.kafka.connect.data.Decimal",
                    "connect.parameters": {"scale": "2"},
                },
            ],
            "default": None,
        },
        {
            "name": "ts",
            "type": ["null", {"type": "long", "connect.name": "io.debezium.time.MicroTimestamp"}],
            "default": None,
        },
        {
            "name": "day",
            "type": ["null", {"type": "int", "connect.name": "io.debezium.time.Date"}],
            "default": None,
        },
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "blob", "type": ["null", "bytes"], "default": None},
    ],
}
SOURCE = {
    "type": "record",
    "name": "Source",
    "fields": [
        {"name": "connector", "type": "string"},
        {"name": "ts_ms", "type": "long"},
        {"name": "db", "type": "string"},
        {"name": "schema", "type": ["null", "string"], "default": None},
        {"name": "table", "type": "string"},
        {"name": "origin", "type": ["null", "string"], "default": None},
    ],
}
ENVELOPE = {
    "type": "record",
    "name": "Envelope",
    "fields": [
        {"name": "before", "type": ["null", VALUE], "default": None},
        {"name": "after", "type": ["null", "Value"], "default": None},
        {"name": "source", "type": SOURCE},
        {"name": "op", "type": "string"},
    ],
}
SCHEMAS = {1: KEY, 2: ENVELOPE}


def framed(schema_id: int, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMAS[schema_id]), record)
    return b"\x00" + struct.pack(">I", schema_id) + out.getvalue()


def decoder() -> AvroDecoder:
    return AvroDecoder(lambda schema_id: json.dumps(SCHEMAS[schema_id]))


def test_avro_event_decodes_logical_types_and_toast_placeholder() -> None:
    after = {
        "id": 7,
        "price": Decimal("12.34"),
        "ts": 1709212455123456,
        "day": 19782,
        "note": "__debezium_unavailable_value",
        "blob": b"\x00\xff",
    }
    source = {"connector": "postgresql", "ts_ms": 5, "db": "app", "schema": "public", "table": "t"}
    value = framed(2, {"before": None, "after": after, "source": source, "op": "u"})
    event = decoder().decode_change(framed(1, {"id": 7}), value)
    assert event is not None
    assert (event.side, event.source_table, event.op, dict(event.key)) == (
        "postgres",
        "public.t",
        "u",
        {"id": 7},
    )
    assert event.after == {
        "id": 7,
        "price": Decimal("12.34"),
        "ts": dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
        "day": dt.date(2024, 2, 29),
        "note": UNAVAILABLE,
        "blob": b"\x00\xff",
    }


def test_unframed_avro_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not Confluent-framed Avro"):
        decoder().decode_change(b"\x00", b'{"json": true}')
