"""Decoding real Debezium envelopes (captured from the local stack: MariaDB 3.5, PostgreSQL 3.6)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.cdc.decode import DecodeError, decode_change, key_payload
from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent, KafkaPosition

SAMPLES = json.loads((Path(__file__).parent / "data" / "debezium_envelopes.json").read_text())


def _decode(sample: dict[str, Any]) -> ChangeEvent:
    event = decode_change(
        json.dumps(sample["key"]).encode(),
        json.dumps(sample["value"]).encode(),
        KafkaPosition(sample["topic"], 0, 7),
    )
    assert event is not None
    return event


def _samples(side: str, op: str) -> list[dict[str, Any]]:
    connector = "postgresql" if side == "postgres" else "mariadb"
    return [
        s
        for s in SAMPLES
        if s["value"]["payload"]["source"]["connector"] == connector
        and s["value"]["payload"]["op"] == op
    ]


def test_mariadb_insert_values_decode_to_driver_types() -> None:
    event = _decode(_samples("mysql", "c")[0])
    after = event.after
    assert after is not None
    assert (event.side, event.namespace, event.table, event.op) == (
        "mysql",
        "legacy_sample",
        "t",
        "c",
    )
    assert event.key == {"id": 1}
    assert after["d"] == Decimal("12345.67")
    assert after["ub"] == Decimal(18446744073709551615)
    assert after["dt"] == dt.datetime(2024, 2, 29, 13, 14, 15, 123456)
    assert after["ts"] == dt.datetime(2024, 1, 1, 0, 0, 1, 500000, tzinfo=dt.UTC)
    assert after["da"] == dt.date(2024, 2, 29)
    assert after["ti"] == -dt.timedelta(hours=12, minutes=30, microseconds=500000)
    assert after["bl"] == b"\x00\xff\x10"
    assert after["bt"] == 0b10101
    assert after["s"] == "héllo 🐘"
    assert after["st"] == "x,y"
    assert after["j"] == '{"a": [1, 2]}'
    assert after["yr"] == 2024
    assert after["nul"] is None
    assert event.gtid == "0-1-82"
    assert event.server_id == 1
    assert event.position == KafkaPosition(event.position.topic, 0, 7)  # type: ignore[union-attr]


def test_mariadb_update_carries_full_before_image_and_negative_decimal() -> None:
    event = _decode(_samples("mysql", "u")[0])
    assert event.before is not None
    assert event.after is not None
    assert event.before["s"] == "héllo 🐘"
    assert event.after["d"] == Decimal("-0.01")


def test_postgres_events_carry_origin_and_key_only_delete_image() -> None:
    updates = [_decode(s) for s in _samples("postgres", "u")]
    assert [e.origin for e in updates] == [None, "mysql_pg_sync"]
    delete = _decode(_samples("postgres", "d")[0])
    assert delete.before is not None
    assert (delete.before["id"], delete.before["i"]) == (1, None)
    insert = _decode(_samples("postgres", "c")[0])
    assert insert.after is not None
    assert insert.after["tsz"] == dt.datetime(2024, 2, 29, 11, 14, 15, 123456, tzinfo=dt.UTC)
    assert insert.after["n"] == Decimal("12345.67")
    assert insert.after["ba"] == b"\x00\xff"
    assert insert.after["arr"] == ["x", "y"]
    assert insert.namespace == "public"


def test_toast_placeholder_becomes_unavailable() -> None:
    sample = json.loads(json.dumps(_samples("postgres", "u")[0]))
    sample["value"]["payload"]["after"]["big"] = "__debezium_unavailable_value"
    sample["value"]["payload"]["after"]["ba"] = base64.b64encode(
        b"__debezium_unavailable_value"
    ).decode()
    event = _decode(sample)
    assert event.unavailable_columns() == {"big", "ba"}
    assert event.after is not None
    assert event.after["big"] is UNAVAILABLE


def test_new_column_mid_stream_is_visible_in_fields() -> None:
    sample = json.loads(json.dumps(_samples("mysql", "c")[0]))
    after_schema = sample["value"]["schema"]["fields"][1]
    after_schema["fields"].append({"type": "string", "optional": True, "field": "added"})
    sample["value"]["payload"]["after"]["added"] = "x"
    event = _decode(sample)
    assert "added" in event.fields


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"not json", "value is not JSON"),
        (b'{"a": 1}', "not a JSON-with-schema Debezium envelope"),
        (b'{"schema": {}, "payload": {"op": "x", "source": {}}}', "unknown op"),
        (b'{"schema": {}, "payload": {"op": "c"}}', "malformed Debezium envelope"),
    ],
)
def test_bad_messages_raise_decode_error_naming_the_position(value: bytes, message: str) -> None:
    with pytest.raises(DecodeError, match=message) as err:
        decode_change(b'{"schema": {}, "payload": {"id": 1}}', value, KafkaPosition("t", 2, 9))
    assert "topic t partition 2 offset 9" in str(err.value)


def test_tombstone_is_skipped() -> None:
    assert decode_change(b"{}", None) is None


def _compact(obj: Any) -> bytes:
    """As Kafka Connect's JsonConverter writes it: no spaces, schema before payload."""
    return json.dumps(obj, separators=(",", ":")).encode()


def _decode_compact(sample: dict[str, Any], value: Any | None = None) -> ChangeEvent | None:
    return decode_change(
        _compact(sample["key"]),
        _compact(sample["value"] if value is None else value),
        KafkaPosition(sample["topic"], 0, 7),
    )


def test_a_known_schema_is_skipped_and_only_the_payload_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mysql_pg_sync.cdc import decode

    decode._prefixes.clear()
    first = [_decode_compact(s) for s in SAMPLES]  # full parses; they learn each topic's schema
    assert {topic for _, topic in decode._prefixes} == {s["topic"] for s in SAMPLES}

    def no_full_parse(*args: Any) -> Any:
        raise AssertionError("a message with a known schema was parsed in full")

    monkeypatch.setattr(decode, "_full_wire", no_full_parse)
    again = [_decode_compact(s) for s in SAMPLES]
    assert again == first
    assert all((e is not None and e.after is not None) or e.op == "d" for e in again)


def test_a_changed_schema_or_another_shape_takes_the_full_parse() -> None:
    from mysql_pg_sync.cdc import decode

    decode._prefixes.clear()
    sample = _samples("mysql", "c")[0]
    known = _decode_compact(sample)
    assert known is not None
    # a new column: the schema bytes differ, so the cached prefix does not match
    changed = json.loads(json.dumps(sample["value"]))
    changed["schema"]["fields"][1]["fields"].append(
        {"type": "int32", "optional": True, "field": "added"}
    )
    changed["payload"]["after"]["added"] = 5
    event = _decode_compact(sample, changed)
    assert event is not None
    assert event.after is not None
    assert event.after["added"] == 5
    # a key after the payload: the payload-only parse refuses it, the full parse reads it
    extra = _compact(sample["value"])[:-1] + b',"extra":1}'
    event = decode_change(_compact(sample["key"]), extra, KafkaPosition(sample["topic"], 0, 8))
    assert event == replace(known, position=KafkaPosition(sample["topic"], 0, 8))


def _with_fields(side: str, fields: list[dict[str, Any]], values: dict[str, Any]) -> ChangeEvent:
    """A sample insert of ``side`` whose row has these extra fields and values."""
    sample = json.loads(json.dumps(_samples(side, "c")[0]))
    envelope = sample["value"]
    for part in envelope["schema"]["fields"]:
        if part["field"] in ("before", "after"):
            part["fields"] = [f for f in part["fields"] if f["field"] == "id"] + fields
    envelope["payload"]["after"] = {"id": 1, **values}
    return _decode(sample)


def _field(name: str, schema_name: str, kind: str, optional: bool) -> dict[str, Any]:
    return {"type": kind, "optional": optional, "name": schema_name, "field": name}


def test_a_decimal_keeps_all_of_its_65_digits() -> None:
    """Decimal.scaleb rounds to 28 digits by default: decimal(65,30) lost 37 of them."""
    value = Decimal("-12345678901234567890123456789012345.123456789012345678901234567890")
    unscaled = int(str(value).replace(".", ""))
    raw = base64.b64encode(unscaled.to_bytes(28, "big", signed=True)).decode()
    decimal = _field("d", "org.apache.kafka.connect.data.Decimal", "bytes", True)
    decimal["parameters"] = {"scale": "30", "connect.decimal.precision": "65"}
    event = _with_fields("mysql", [decimal], {"d": raw})
    assert event.after is not None
    assert event.after["d"] == value
    assert str(event.after["d"]) == str(value)


def test_the_epoch_of_a_not_null_mysql_date_column_is_the_zero_date() -> None:
    """Debezium sends MySQL's zero date in a NOT NULL column as the epoch; a NULLable column's
    zero date comes as null, so its epoch is a real one. PostgreSQL has no zero date."""
    fields = [
        _field("created", "io.debezium.time.Timestamp", "int64", False),
        _field("born", "io.debezium.time.Date", "int32", False),
        _field("fine", "io.debezium.time.MicroTimestamp", "int64", False),
        _field("modified", "io.debezium.time.ZonedTimestamp", "string", False),
        _field("maybe", "io.debezium.time.Date", "int32", True),
        _field("later", "io.debezium.time.Date", "int32", False),
    ]
    values = {
        "created": 0,
        "born": 0,
        "fine": 0,
        "modified": "1970-01-01T00:00:00Z",
        "maybe": 0,
        "later": 1,
    }
    after = _with_fields("mysql", fields, values).after
    assert after is not None
    assert {k: after[k] for k in values} == {
        "created": "0000-00-00 00:00:00",
        "born": "0000-00-00",
        "fine": "0000-00-00 00:00:00",
        "modified": "0000-00-00 00:00:00",
        "maybe": dt.date(1970, 1, 1),
        "later": dt.date(1970, 1, 2),
    }
    pg_after = _with_fields("postgres", fields, values).after
    assert pg_after is not None
    assert pg_after["born"] == dt.date(1970, 1, 1)  # PostgreSQL has no zero date


@pytest.mark.parametrize(
    ("schema_name", "kind", "value"),
    [
        # '0001-01-01 00:00:00 BC' and '0044-03-15 BC' as Debezium's PostgreSQL connector sends
        # them ('infinity' reads as text: see the test below)
        ("io.debezium.time.MicroTimestamp", "int64", -62167219200000000),
        ("io.debezium.time.Date", "int32", -735160),
        ("io.debezium.time.Date", "int32", 2147483647),
    ],
)
def test_a_date_python_cannot_hold_is_a_decode_error_naming_the_column(
    schema_name: str, kind: str, value: int
) -> None:
    """It crashed the consumer with OverflowError at the same offset on every restart."""
    with pytest.raises(DecodeError) as raised:
        _with_fields("postgres", [_field("dt6", schema_name, kind, True)], {"dt6": value})
    message = str(raised.value)
    assert message.startswith("topic ")
    assert f"column 'dt6': value {value} cannot be read (OverflowError" in message
    assert "outside years 1-9999" in message


def test_postgres_infinities_read_as_postgres_text() -> None:
    """A zero_dates sentinel ('-infinity') coming back from PostgreSQL was a dead letter
    (OverflowError) on every change of such a row; as text it is MySQL's zero date again, and
    any other infinity is refused by the converter naming the column. The values are what
    Debezium 3.5 sent for each column type (captured from the local stack)."""
    fields = [
        _field("d_lo", "io.debezium.time.Date", "int32", True),
        _field("d_hi", "io.debezium.time.Date", "int32", True),
        _field("ms_lo", "io.debezium.time.Timestamp", "int64", True),
        _field("ms_hi", "io.debezium.time.Timestamp", "int64", True),
        _field("us_lo", "io.debezium.time.MicroTimestamp", "int64", True),
        _field("us_hi", "io.debezium.time.MicroTimestamp", "int64", True),
        _field("tz_lo", "io.debezium.time.ZonedTimestamp", "string", True),
        _field("tz_hi", "io.debezium.time.ZonedTimestamp", "string", True),
        _field("real", "io.debezium.time.Date", "int32", True),
    ]
    values = {
        "d_lo": -2147472691,
        "d_hi": -2147472692,  # +infinity wrapped around past int32
        "ms_lo": -9223372036832400,
        "ms_hi": 9223372036825200,
        "us_lo": -9223372036832400000,
        "us_hi": 9223372036825200000,
        "tz_lo": "-infinity",
        "tz_hi": "infinity",
        "real": 1,
    }
    after = _with_fields("postgres", fields, values).after
    assert after is not None
    assert {k: after[k] for k in values} == {
        **{k: "-infinity" for k in values if k.endswith("_lo")},
        **{k: "infinity" for k in values if k.endswith("_hi")},
        "real": dt.date(1970, 1, 2),
    }
    # MySQL has no infinity: the same numbers from MySQL are years Python cannot hold
    with pytest.raises(DecodeError, match="column 'd_hi': value -2147472692 cannot be read"):
        _with_fields("mysql", fields[1:2], {"d_hi": -2147472692})


def test_any_exception_while_decoding_is_the_message_s_decode_error() -> None:
    """Decoding reads only the message: whatever it raises must become a dead letter."""
    bad = _field("d", "org.apache.kafka.connect.data.Decimal", "bytes", True)
    bad["parameters"] = {"scale": "2"}
    with pytest.raises(DecodeError, match=r"column 'd': value 'not base64!' cannot be read"):
        _with_fields("mysql", [bad], {"d": "not base64!"})


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (b'{"schema":{"type":"struct","fields":[]},"payload":{"id":3}}', {"id": 3}),
        (b'{"id": 99}', {"id": 99}),
        (b"\xff not json", None),
        (b"[1]", None),
        (None, None),
    ],
)
def test_the_key_of_a_message_that_cannot_be_decoded(key: bytes | None, expected: Any) -> None:
    assert key_payload(key, "mysql") == expected


def test_an_undecodable_message_s_key_is_decoded_by_its_own_schema() -> None:
    """A date key arrives as epoch days: stored raw, a retry looked up the wrong row."""
    key = _compact(
        {
            "schema": {
                "type": "struct",
                "fields": [
                    _field("day", "io.debezium.time.Date", "int32", False),
                    {"type": "string", "optional": False, "field": "code"},
                ],
            },
            "payload": {"day": 20000, "code": "x"},
        }
    )
    assert key_payload(key, "postgres") == {"day": dt.date(2024, 10, 4), "code": "x"}
    assert key_payload(key.replace(b"20000", b'"bad"'), "postgres") is None


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("P0Y0M-1DT-2H0M0S", -dt.timedelta(hours=26)),
        ("P0Y0M0DT36H0M0.123456S", dt.timedelta(hours=36, microseconds=123456)),
        ("P0Y0M0DT0H0M-0.5S", -dt.timedelta(microseconds=500000)),
        ("P0Y0M-34DT-22H-59M-59.999999S", -dt.timedelta(hours=838, minutes=59, seconds=59.999999)),
        ("P0Y0M0DT0H0M0S", dt.timedelta(0)),
    ],
)
def test_a_postgres_interval_decodes_to_the_time_mysql_holds(
    iso: str, expected: dt.timedelta
) -> None:
    """The stream dead-lettered '-1 day -2 hours' as "not a MySQL TIME: 'P0Y0M-1DT-2H0M0S'"."""
    field = _field("tm", "io.debezium.time.Interval", "string", True)
    after = _with_fields("postgres", [field], {"tm": iso}).after
    assert after is not None
    assert after["tm"] == expected


def test_an_interval_with_months_is_a_decode_error_naming_the_column() -> None:
    field = _field("tm", "io.debezium.time.Interval", "string", True)
    with pytest.raises(DecodeError, match=r"column 'tm'.*1 month\(s\), which a MySQL TIME"):
        _with_fields("postgres", [field], {"tm": "P0Y1M0DT0H0M0S"})


def test_a_truncate_decodes_to_a_keyless_table_event() -> None:
    """Debezium's TRUNCATE: op 't', no key, no images (the consumer dead-letters it)."""
    envelope = {
        "schema": {
            "type": "struct",
            "fields": [
                {"field": "before", "type": "struct", "optional": True, "fields": []},
                {"field": "after", "type": "struct", "optional": True, "fields": []},
            ],
        },
        "payload": {
            "before": None,
            "after": None,
            "op": "t",
            "ts_ms": 1_764_000_000_000,
            "source": {"connector": "mariadb", "db": "legacy", "table": "orders", "ts_ms": 5},
        },
    }
    event = decode_change(None, json.dumps(envelope).encode(), KafkaPosition("t", 0, 7))
    assert event is not None
    assert (event.op, event.key, event.before, event.after) == ("t", {}, None, None)
    assert event.source_table == "legacy.orders"
