"""Decode Debezium change events written with an Avro converter and a schema registry.

Used only when a registry is configured (``MPS_SCHEMA_REGISTRY_URL``); the local stack has none
and runs JSON with schemas (:mod:`.decode`). Messages use the Confluent wire format (magic byte
0, a 4-byte schema id, the Avro body), which Confluent's converter writes and Apicurio's writes
with ``apicurio.registry.as-confluent=true``; schemas are fetched once per id from the
Confluent-compatible API (``<url>/schemas/ids/<id>``, Apicurio: ``/apis/ccompat/v7``). Field
values go through the same Debezium logical-type decoders as the JSON path, keyed by the
``connect.name`` the converter stores in the Avro schema. Kafka Connect's own Date, Time and
Timestamp are read as the numbers on the wire (their Avro logical types dropped from the reader
schema), so they decode exactly as in JSON: zero dates, PostgreSQL's +-infinity, TIME as a
timedelta.

A schema id the registry does not know is the message's fault (a dead letter); a registry that
does not answer (5xx, refused, timed out, a URL that is no schema API) is not:
:class:`SchemaRegistryError` stops the run, which is retried.
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
from fastavro.schema import SchemaParseException, expand_schema

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
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.types.debezium import (
    exact_decimal,
    mysql_geometry,
    postgres_array_decoder,
    zero_date_decoder,
)

Fetch = Callable[[int], str]

_TOAST_BYTES = TOAST_PLACEHOLDER.encode()
# Kafka Connect's logical types that fastavro would hand over as date, time and datetime objects
_CONNECT_TIMES = frozenset(
    (
        "org.apache.kafka.connect.data.Date",
        "org.apache.kafka.connect.data.Time",
        "org.apache.kafka.connect.data.Timestamp",
    )
)
_GEOMETRIES = frozenset(("io.debezium.data.geometry.Geometry", "io.debezium.data.geometry.Point"))


class SchemaRegistryError(SyncError):
    """The schema registry did not answer a schema lookup (an HTTP error other than 404, a
    refused or timed-out connection, a body that is no schema): no fault of the message, so
    never its dead letter; the run stops and is retried."""


# Confluent's error code for an id the registry does not hold (Apicurio's ccompat API answers
# it too); any other 404 is a path that is no schema API at all
SCHEMA_NOT_FOUND = 40403


def _schema_not_found(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("error_code") == SCHEMA_NOT_FOUND


def registry_fetch(url: str, timeout_s: float = 10) -> Fetch:
    """Schema text by id from a Confluent-compatible registry API. An id the registry does not
    know (404 with error code 40403) is a :class:`DecodeError`; any other failure, a wrong URL's
    bare 404 among them (it would dead-letter every message), a :class:`SchemaRegistryError`."""

    def fetch(schema_id: int) -> str:
        address = f"{url.rstrip('/')}/schemas/ids/{schema_id}"
        hint = "check MPS_SCHEMA_REGISTRY_URL (Apicurio: .../apis/ccompat/v7)"
        try:
            response = requests.get(address, timeout=timeout_s)
        except requests.RequestException as exc:
            raise SchemaRegistryError(
                f"schema registry {url}: schema id {schema_id}: {exc}; is it up? {hint}"
            ) from exc
        if response.status_code == 404 and _schema_not_found(response):
            raise DecodeError(
                f"schema registry {url} does not know schema id {schema_id} (HTTP 404): the "
                f"message was written with another registry, or its schema was deleted; {hint}"
            )
        if response.status_code == 404:  # no such API path: the URL is wrong, not the message
            raise SchemaRegistryError(
                f"schema registry {url}: {address} -> HTTP 404 without the registry's "
                f"'schema not found' code ({SCHEMA_NOT_FOUND}): the URL does not point at a "
                f"Confluent-compatible schema API; no message was dead-lettered; {hint}"
            )
        if response.status_code != 200:
            raise SchemaRegistryError(
                f"schema registry {url}: schema id {schema_id} -> HTTP "
                f"{response.status_code}; the run is retried; {hint}"
            )
        try:
            return str(response.json()["schema"])
        except (ValueError, KeyError, TypeError) as exc:
            raise SchemaRegistryError(
                f"schema registry {url}: schema id {schema_id}: the answer is no schema "
                f"({exc!r}); {hint}"
            ) from exc

    return fetch


def _unwrap(avro_type: Any) -> Any:
    """``["null", X]`` -> X."""
    if isinstance(avro_type, list):
        rest = [t for t in avro_type if t != "null"]
        return rest[0] if len(rest) == 1 else avro_type
    return avro_type


def _field_decoder(avro_type: Any, side: Side, item: bool = False) -> Callable[[Any], Any] | None:
    """The decoder of one field's (expanded) Avro type, or of an array's items (``item``)."""
    t = _unwrap(avro_type)
    if not isinstance(t, dict):
        return _plain(t, side, item)
    name = t.get("connect.name")
    params: dict[str, Any] = t.get("connect.parameters") or {}
    kind = t.get("type")
    if name == "org.apache.kafka.connect.data.Decimal":
        scale = int(params.get("scale") or t.get("scale") or 0)
        return lambda v: v if isinstance(v, Decimal) else _unscaled(v, scale)
    if name == "io.debezium.data.Bits":
        length = int(params.get("length", 1))
        if side == "postgres":
            return lambda v: format(int.from_bytes(v, "little"), f"0{length}b")
        return lambda v: int.from_bytes(v, "little")
    if name == "io.debezium.data.VariableScaleDecimal" and kind == "record":
        return _variable_scale_decimal
    if name in _GEOMETRIES and kind == "record":
        return _geometry
    if name in json_decode._BY_NAME and kind in ("int", "long", "string"):
        if side == "mysql" and t is avro_type:  # NOT NULL: a zero date comes as the epoch
            return zero_date_decoder(name, json_decode._BY_NAME[name])
        if side == "postgres":
            return json_decode.postgres_time_decoder(name, json_decode._BY_NAME[name])
        return json_decode._BY_NAME[name]
    if kind == "array":
        items = _field_decoder(t.get("items"), side, item=True)
        if side == "postgres":  # an unchanged TOASTed array comes as a placeholder array
            return postgres_array_decoder(items)
        return None if items is None else (lambda vs: [None if v is None else items(v) for v in vs])
    return _plain(kind, side, item)


def _plain(kind: Any, side: Side, item: bool) -> Callable[[Any], Any] | None:
    """A value the reader hands over as it is: a PostgreSQL one may be TOAST's placeholder (an
    array's item only as bytes, as the JSON path reads it)."""
    if side != "postgres":
        return None
    if not item:
        return _toast_or_same
    return _toast_or_same if kind == "bytes" else None


def _reader_schema(schema: Any) -> Any:
    """``schema`` without the Avro logical types of Kafka Connect's Date, Time and Timestamp:
    read as numbers, they decode as in JSON (fastavro's objects could not hold +-infinity)."""
    if isinstance(schema, list):
        return [_reader_schema(part) for part in schema]
    if not isinstance(schema, dict):
        return schema
    found = {
        k: _reader_schema(v) if k in ("type", "items", "fields") else v for k, v in schema.items()
    }
    if found.get("connect.name") in _CONNECT_TIMES:
        found.pop("logicalType", None)
    return found


def _unscaled(value: bytes, scale: int) -> Decimal:
    return exact_decimal(int.from_bytes(value, "big", signed=True), scale)


def _variable_scale_decimal(value: Any) -> Any:
    return _unscaled(value["value"], int(value["scale"]))


def _geometry(value: Any) -> Any:
    return mysql_geometry(value["wkb"], value.get("srid"))


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
        # per id: the reader's parsed schema, and the schema with every named type expanded
        self._schemas: dict[int, tuple[Any, Any]] = {}
        self._rows: dict[tuple[int, Side], _AvroRows] = {}

    def _schema(self, schema_id: int, position: KafkaPosition | None) -> tuple[Any, Any]:
        found = self._schemas.get(schema_id)
        if found is None:
            try:
                text = self._fetch(schema_id)
            except DecodeError as exc:
                raise DecodeError(f"{where(position)}: {exc}") from None
            try:
                raw = json.loads(text)
                found = (fastavro.parse_schema(_reader_schema(raw)), expand_schema(raw))
            except (*MESSAGE_FAULTS, SchemaParseException) as exc:  # the registry's fault
                raise SchemaRegistryError(
                    f"schema id {schema_id} from the registry is no Avro schema: {exc!r}"
                ) from exc
            self._schemas[schema_id] = found
        return found

    def _read(self, data: bytes, what: str, position: KafkaPosition | None) -> tuple[int, Any]:
        if len(data) < 5 or data[0] != 0:
            raise DecodeError(
                f"{where(position)}: {what} is not Confluent-framed Avro (magic byte 0 + "
                "schema id); set the converter's Confluent compatibility, or use JSON"
            )
        schema_id = struct.unpack(">I", data[1:5])[0]
        parsed, _ = self._schema(schema_id, position)
        try:
            return schema_id, fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed)
        except (EOFError, ValueError, TypeError, IndexError, ArithmeticError) as exc:
            raise DecodeError(
                f"{where(position)}: {what} does not match its schema ({exc})"
            ) from None

    def _compiled(self, schema_id: int, side: Side, image: str | None) -> _AvroRows:
        """Row decoders of a value schema's ``image`` field, or of a key schema (None)."""
        slot = (schema_id if image else -1 - schema_id, side)
        rows = self._rows.get(slot)
        if rows is None:
            _, expanded = self._schemas[schema_id]
            record = expanded
            if image is not None:
                record = _unwrap(next(f for f in expanded["fields"] if f["name"] == image)["type"])
            rows = self._rows[slot] = _AvroRows(record, side)
        return rows

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
            rows = self._compiled(schema_id, side, "after")
            return build_event(payload, side, rows, self._key_of(key, position, side), position)
        except MESSAGE_FAULTS as exc:  # a registry that does not answer is no such fault
            raise envelope_error(exc, position) from exc

    def key_payload(self, key: bytes | None, side: Side) -> dict[str, Any] | None:
        """The key of a message that cannot be decoded, for its dead letter (as
        :func:`.decode.key_payload` for JSON): decoded by the key's own schema; None when the
        key cannot be read either. A registry that does not answer stops the run."""
        if key is None:
            return None
        try:
            schema_id, record = self._read(key, "key", None)
            if not isinstance(record, dict):
                return None
            return self._compiled(schema_id, side, None)(record)
        except MESSAGE_FAULTS:
            return None

    def _key_of(
        self, key: bytes | None, position: KafkaPosition | None, side: Side
    ) -> Callable[[Mapping[str, Any] | None], Mapping[str, Any]]:
        def key_of(image: Mapping[str, Any] | None) -> Mapping[str, Any]:
            if key is None:
                raise DecodeError(f"{where(position)}: message has no key")
            schema_id, record = self._read(key, "key", position)
            if not isinstance(record, dict):
                raise DecodeError(f"{where(position)}: key is not a record")
            if image is not None:
                return {name: image.get(name, value) for name, value in record.items()}
            decoded = self._compiled(schema_id, side, None)(record)
            assert decoded is not None
            return decoded

        return key_of
