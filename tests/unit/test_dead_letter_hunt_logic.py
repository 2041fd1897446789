"""Dead-letter retries and Avro decoding, the pure parts (no servers): which retries must check
the target against the failed change's before-image, what a letter of a removed table or an
undecodable message says, and Avro values through unions, logical types, a schema that gains
a column mid-stream and a registry that fails once."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from mysql_pg_sync.cdc.dead_letter_plan import (
    DeadLetterRow,
    Retry,
    Selection,
    candidate,
    needs_before_image,
    plan_retries,
    unchecked_hint,
)
from mysql_pg_sync.cdc.decode_avro import AvroDecoder, SchemaRegistryError
from mysql_pg_sync.cdc.topics import change_topics
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.model import table_from_mapping

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
MAPPING = TableMapping.model_validate(
    {
        "source": "shop.items",
        "target": "public.items",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "bigint(20)", "nullable": False},
            {"name": "label", "column_type": "varchar(20)"},
        ],
        "direction": "both",
    }
)
TOPICS = change_topics(MappingSet((MAPPING,)), "mps_mysql", "mps_pg")
TABLES: dict[str, Any] = {"shop.items": table_from_mapping(MAPPING)}
PG_TOPIC = "mps_pg.public.items"


def _letter(id: int, offset: int, topic: str = PG_TOPIC, **changes: Any) -> DeadLetterRow:
    fields: dict[str, Any] = {
        "id": id,
        "recorded_at": T0 + dt.timedelta(minutes=id),
        "source_table": "shop.items",
        "key": {"id": 2},
        "error_class": "IntegrityError",
        "error": "Duplicate entry",
        "kafka_topic": topic,
        "kafka_partition": 1,
        "kafka_offset": offset,
        "dead_letter_topic": "mps.dead-letters",
    }
    return DeadLetterRow(**(fields | changes))


@pytest.mark.parametrize(
    ("rule", "source", "checked"),
    [
        ("mysql_wins", "postgres", True),
        ("mysql_wins", "mysql", False),
        ("postgres_wins", "mysql", True),
        ("postgres_wins", "postgres", False),
        ("last_writer_wins", "postgres", False),
        ("version", "mysql", False),
    ],
)
def test_only_a_retry_from_the_losing_side_checks_the_before_image(
    rule: str, source: Any, checked: bool
) -> None:
    assert needs_before_image(rule, source) is checked


def test_a_retry_starts_from_the_earliest_change_of_its_key() -> None:
    """Letters recorded out of offset order (a replayed batch records again): the change the
    target must still match is the one at the lowest offset."""
    letters = [_letter(1, 40), _letter(2, 17), _letter(3, 99)]
    retries, refusals = plan_retries(
        [candidate(x, TOPICS, TABLES) for x in letters], Selection().matches
    )
    assert refusals == []
    (retry,) = retries
    assert (retry.letter_ids, retry.first_change) == ((1, 2, 3), (PG_TOPIC, 1, 17))


def test_a_letter_of_a_removed_table_says_so_not_that_the_settings_are_wrong() -> None:
    removed = _letter(4, 5, topic="mps_mysql.shop.gone", source_table="shop.gone")
    found = candidate(removed, TOPICS, TABLES)
    assert found.problem is not None
    assert "shop.gone is not among the enabled mappings" in found.problem
    assert "MPS_CONNECTOR_PREFIX" not in found.problem
    assert "dead-letters resolve --id 4" in found.problem


def test_an_undecodable_letter_names_where_it_was_read_and_its_dead_letter_copy() -> None:
    poison = _letter(5, 77, key={}, error_class="DecodeError")
    found = candidate(poison, TOPICS, TABLES)
    assert found.problem is not None
    assert f"read from {PG_TOPIC}[1] offset 77" in found.problem
    assert "dead-letter topic mps.dead-letters with header __connect.errors.offset=77" in (
        found.problem
    )


def test_an_unchecked_retry_says_what_was_not_written_and_what_to_do() -> None:
    retry = Retry("shop.items", "postgres", (2,), {"id": 2}, (7, 8), (PG_TOPIC, 1, 17))
    text = unchecked_hint(retry, "mysql_wins", "gone with the topic's retention")
    assert text.startswith("shop.items id=2 (PostgreSQL -> MySQL): nothing was written")
    assert f"{PG_TOPIC}[1] offset 17" in text
    assert "dead-letters resolve --id 7 --id 8" in text


# -- Avro ---------------------------------------------------------------------------------------


def _value(extra: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    row = {
        "type": "record",
        "name": "Value",
        "fields": [
            {"name": "id", "type": "long"},
            {
                "name": "amount",  # null second: union order must not matter
                "type": [
                    {
                        "type": "bytes",
                        "logicalType": "decimal",
                        "precision": 12,
                        "scale": 4,
                        "connect.name": "org.apache.kafka.connect.data.Decimal",
                        "connect.parameters": {"scale": "4"},
                    },
                    "null",
                ],
            },
            {
                "name": "at",
                "type": [
                    {"type": "long", "connect.name": "io.debezium.time.MicroTimestamp"},
                    "null",
                ],
            },
            {
                "name": "day",
                "type": ["null", {"type": "int", "connect.name": "io.debezium.time.Date"}],
                "default": None,
            },
            {
                "name": "ref",
                "type": ["null", {"type": "string", "connect.name": "io.debezium.data.Uuid"}],
                "default": None,
            },
            {
                "name": "doc",
                "type": ["null", {"type": "string", "connect.name": "io.debezium.data.Json"}],
                "default": None,
            },
            *extra,
        ],
    }
    source = {
        "type": "record",
        "name": "Source",
        "fields": [
            {"name": "connector", "type": "string"},
            {"name": "ts_ms", "type": "long"},
            {"name": "db", "type": "string"},
            {"name": "table", "type": "string"},
        ],
    }
    return {
        "type": "record",
        "name": "Envelope",
        "fields": [
            {"name": "before", "type": ["null", row], "default": None},
            {"name": "after", "type": ["null", "Value"], "default": None},
            {"name": "source", "type": source},
            {"name": "op", "type": "string"},
        ],
    }


KEY = {"type": "record", "name": "Key", "fields": [{"name": "id", "type": "long"}]}
NOTE = [{"name": "note", "type": ["null", "string"], "default": None}]
SCHEMAS: dict[int, Any] = {1: KEY, 2: _value(), 3: _value(NOTE)}
SOURCE = {"connector": "mysql", "ts_ms": 5, "db": "shop", "table": "items"}


def _framed(schema_id: int, record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(SCHEMAS[schema_id]), record)
    return b"\x00" + struct.pack(">I", schema_id) + out.getvalue()


def _row(**extra: Any) -> dict[str, Any]:
    return {
        "id": 7,
        "amount": Decimal("-0.0001"),
        "at": -1_000_001,  # 1969-12-31 23:59:58.999999
        "day": -1,
        "ref": "6f1c0c2e-8d5b-4c1a-9a57-0b9f1f0f7a11",
        "doc": '{"b": 1, "a": [1.50, "x"]}',
        **extra,
    }


def test_avro_logical_types_round_trip_exactly_whatever_the_union_order() -> None:
    decoder = AvroDecoder(lambda i: json.dumps(SCHEMAS[i]))
    value = _framed(2, {"before": None, "after": _row(), "source": SOURCE, "op": "c"})
    event = decoder.decode_change(_framed(1, {"id": 7}), value)
    assert event is not None
    assert event.after == _decoded_row()
    assert str(event.after["amount"]) == "-0.0001"  # the scale kept
    nulls = dict.fromkeys(("amount", "at", "day", "ref", "doc"))
    value = _framed(2, {"before": None, "after": _row(**nulls), "source": SOURCE, "op": "c"})
    event = decoder.decode_change(_framed(1, {"id": 7}), value)
    assert event is not None
    assert event.after == {"id": 7, **nulls}


def test_a_column_added_mid_stream_decodes_by_each_messages_own_schema() -> None:
    decoder = AvroDecoder(lambda i: json.dumps(SCHEMAS[i]))
    old = _framed(2, {"before": None, "after": _row(), "source": SOURCE, "op": "c"})
    new = _framed(
        3, {"before": _row(note=None), "after": _row(note="n"), "source": SOURCE, "op": "u"}
    )
    first, second, again = (
        decoder.decode_change(_framed(1, {"id": 7}), v) for v in (old, new, old)
    )
    assert first is not None
    assert second is not None
    assert again is not None
    assert "note" not in (first.after or {})
    assert (second.after or {})["note"] == "n"
    assert (second.before or {})["note"] is None
    assert again.after == first.after


def test_a_registry_that_fails_once_is_asked_again_not_remembered() -> None:
    calls: list[int] = []

    def fetch(schema_id: int) -> str:
        calls.append(schema_id)
        if len(calls) == 1:
            raise SchemaRegistryError("registry down")
        return json.dumps(SCHEMAS[schema_id])

    decoder = AvroDecoder(fetch)
    value = _framed(2, {"before": None, "after": _row(), "source": SOURCE, "op": "c"})
    with pytest.raises(SchemaRegistryError):
        decoder.decode_change(_framed(1, {"id": 7}), value)
    event = decoder.decode_change(_framed(1, {"id": 7}), value)
    assert event is not None
    assert event.after == _decoded_row()


def _decoded_row() -> dict[str, Any]:
    return {
        "id": 7,
        "amount": Decimal("-0.0001"),
        "at": dt.datetime(1969, 12, 31, 23, 59, 58, 999999),
        "day": dt.date(1969, 12, 31),
        "ref": "6f1c0c2e-8d5b-4c1a-9a57-0b9f1f0f7a11",
        "doc": '{"b": 1, "a": [1.50, "x"]}',
    }
