"""Decode Debezium change events written with an Avro converter and a schema registry.

Used only when a registry is configured (``MPS_SCHEMA_REGISTRY_URL``); the local stack has none
and runs JSON with schemas (:mod:`.decode`). Messages use the Confluent wire format (magic byte
0, a 4-byte schema id, the Avro body), which Confluent's converter writes and Apicurio's writes
with ``apicurio.registry.as-confluent=true``; schemas are fetched once per id from the
Confluent-compatible API (``<url>/schemas/ids/<id>``, Apicurio: ``/apis/ccompat/v7``). Field
values go through the same Debezium logical-type decoders as the JSON path, keyed by the
``connect.name`` the converter stores in the Avro schema.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import fastavro
import requests

from mysql_pg_sync.cdc import decode as json_decode
from mysql_pg_sync.cdc.decode import (
    MESSAGE_FAULTS,
    TOAST_PLACEHOLDER,
    DecodeError,
    build_event,
    decode_fields,
    envelope_error,
    payload_side,
    where,
)
from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent, KafkaPosition, Side
from mysql_pg_sync.types.debezium import exact_decimal, zero_date_decoder

Fetch = Callable[[int], str]

_TOAST_BYTES = TOAST_PLACEHOLDER.encode()


def registry_fetch(url: str, timeout_s: float = 10) -> Fetch:
    """Schema text by id from a Confluent-compatible registry API."""

    def fetch(schema_id: int) -> str:
        response = requests.get(f"{url.rstrip('/')}/schemas/ids/{schema_id}", timeout=timeout_s)
        if response.status_code != 200:
            raise DecodeError(
                f"schema registry {url}: schema id {schema_id} -> HTTP {response.status_code}; "
                "check MPS_SCHEMA_REGISTRY_URL (Apicurio: .../apis/ccompat/v7)"
            )
        return str(response.json()["schema"])

    return fetch


def _unwrap(avro_type: Any) -> Any:
    """``["null", X]`` -> X."""
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return rest[0] if len(rest) == 1 else avro_type
    return avro_type


def _field_decoder(avro_type: Any, side: Side) -> Callable[[Any], Any] | None:
    t = _unwrap(avro_type)
    if not isinstance(t, dict):
        return _toast_or_same if side == "postgres" else None
    name = t.get("connect.name")
    params: dict[str, Any] = t.get("connect.parameters") or {}
    if name == "org.apache.kafka.connect.data.Decimal":
        scale = int(params.get("scale") or t.get("scale") or 0)
        return lambda v: v if isinstance(v, Decimal) else _unscaled(v, scale)
    if name == "io.debezium.data.Bits":
        length = int(params.get("length", 1))
        if side == "postgres":
            return lambda v: format(int.from_bytes(v, "little"), f"0{length}b")
        return lambda v: int.from_bytes(v, "little")
    if name in json_decode._BY_NAME and t.get("type") in ("int", "long", "string"):
        if side == "mysql" and t is avro_type:  # NOT NULL: a zero date comes as the epoch
            return zero_date_decoder(name, json_decode._BY_NAME[name])
        if side == "postgres":
            return json_decode.postgres_time_decoder(name, json_decode._BY_NAME[name])
        return json_decode._BY_NAME[name]
    if t.get("type") == "array":
        item = _field_decoder(t.get("items"), side)
        return None if item is None else (lambda vs: [None if v is None else item(v) for v in vs])
    return _toast_or_same if side == "postgres" else None


def _named(schema: Any, found: dict[str, Any] | None = None) -> dict[str, Any]:
    """Named types of a schema by name, so a reference such as ``"Value"`` resolves."""
    found = {} if found is None else found
    if isinstance(schema, dict):
        if schema.get("type") == "record" and "name" in schema:
            found[schema["name"]] = schema
        for part in (*schema.get("fields", ()), schema.get("type"), schema.get("items")):
            _named(part, found)
    elif isinstance(schema, list):
        for part in schema:
            _named(part, found)
    return found


def _unscaled(value: bytes, scale: int) -> Decimal:
    return exact_decimal(int.from_bytes(value, "big", signed=True), scale)


def _toast_or_same(value: Any) -> Any:
    if value in (TOAST_PLACEHOLDER, _TOAST_BYTES):
        return UNAVAILABLE
    return value


class _AvroRows:
    def __init__(self, record: Mapping[str, Any], side: Side) -> None:
        fields = record["fields"]
        self.names = tuple(str(f["name"]) for f in fields)
        self.decoders = {
            str(f["name"]): d for f in fields if (d := _field_decoder(f["type"], side)) is not None
        }

    def __call__(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        decode_fields(row, self.decoders)
        return row


class AvroDecoder:
    """Decodes Confluent-framed Avro Debezium events; schemas cached per registry id."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch
        self._schemas: dict[int, tuple[Any, dict[str, Any]]] = {}
        self._rows: dict[tuple[int, Side], _AvroRows] = {}

    def _schema(self, schema_id: int) -> tuple[Any, dict[str, Any]]:
        if schema_id not in self._schemas:
            raw = json.loads(self._fetch(schema_id))
            self._schemas[schema_id] = (fastavro.parse_schema(raw), raw)
        return self._schemas[schema_id]

    def _read(self, data: bytes, what: str, position: KafkaPosition | None) -> tuple[int, Any]:
        if len(data) < 5 or data[0] != 0:
            raise DecodeError(
                f"{where(position)}: {what} is not Confluent-framed Avro (magic byte 0 + "
                "schema id); set the converter's Confluent compatibility, or use JSON"
            )
        schema_id = struct.unpack(">I", data[1:5])[0]
        parsed, _ = self._schema(schema_id)
        try:
            return schema_id, fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed)
        except (EOFError, ValueError, TypeError, IndexError) as exc:
            raise DecodeError(
                f"{where(position)}: {what} does not match its schema ({exc})"
            ) from None

    def decode_change(
        self, key: bytes | None, value: bytes | None, position: KafkaPosition | None = None
    ) -> ChangeEvent | None:
        if value is None:
            return None
        schema_id, payload = self._read(value, "value", position)
        if not isinstance(payload, dict):
            raise DecodeError(f"{where(position)}: value is not a Debezium envelope record")
        try:
            side = payload_side(payload, position)
            rows = self._rows.get((schema_id, side))
            if rows is None:
                _, raw = self._schema(schema_id)
                image = next(f for f in raw["fields"] if f["name"] == "after")
                record = _named(raw).get(_unwrap(image["type"]), _unwrap(image["type"]))
                rows = self._rows[(schema_id, side)] = _AvroRows(record, side)
            return build_event(payload, side, rows, self._key_of(key, position), position)
        except MESSAGE_FAULTS as exc:  # a registry that does not answer is no such fault
            raise envelope_error(exc, position) from exc

    def _key_of(
        self, key: bytes | None, position: KafkaPosition | None
    ) -> Callable[[Mapping[str, Any] | None], Mapping[str, Any]]:
        def key_of(image: Mapping[str, Any] | None) -> Mapping[str, Any]:
            if key is None:
                raise DecodeError(f"{where(position)}: message has no key")
            _, record = self._read(key, "key", position)
            if not isinstance(record, dict):
                raise DecodeError(f"{where(position)}: key is not a record")
            if image is not None:
                return {name: image.get(name, value) for name, value in record.items()}
            return record

        return key_of
