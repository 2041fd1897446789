"""Loop guard (echo detection) and the cross-driver row comparison that skips no-op writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from mysql_pg_sync.cdc.compare import rows_equal
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.cdc.loop_guard import LoopTags, is_echo


def event(side: str, origin: str | None = None, gtid: str | None = None) -> ChangeEvent:
    return ChangeEvent(side, "db", "t", "u", {"id": 1}, None, {}, 0, origin=origin, gtid=gtid)  # type: ignore[arg-type]


def test_echoes_are_recognised_by_native_tags() -> None:
    tags = LoopTags(pg_origin="mysql_pg_sync", mariadb_gtid_domain=77, mysql_gtid_tag="mps")
    assert is_echo(event("postgres", origin="mysql_pg_sync"), tags)
    assert not is_echo(event("postgres", origin=None), tags)
    assert not is_echo(event("postgres", origin="other_origin"), tags)
    # concurrent appliers each hold one origin of the pool
    assert is_echo(event("postgres", origin="mysql_pg_sync_3"), tags)
    assert not is_echo(event("postgres", origin="mysql_pg_sync_x"), tags)
    assert is_echo(event("mysql", gtid="77-1-1234"), tags)
    assert not is_echo(event("mysql", gtid="0-1-1234"), tags)
    assert not is_echo(event("mysql", gtid="770-1-5"), tags)
    assert is_echo(event("mysql", gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:mps:17"), tags)
    assert not is_echo(event("mysql", gtid="3e11fa47-71ca-11e1-9e33-c80aa9429562:17"), tags)
    assert not is_echo(event("mysql"), tags)


def test_rows_equal_across_driver_types() -> None:
    kinds = {
        "j": "json",
        "t": "time",
        "ts": "timestamp",
        "d": "decimal",
        "s": "set",
        "f": "float32",
        "dt": "datetime",
    }
    target = {
        "j": {"a": [1, 2]},
        "t": dt.timedelta(hours=13, seconds=1),
        "ts": dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
        "d": Decimal("1.50"),
        "s": "x,y",
        "f": 0.1,
        "dt": "2024-02-29 13:14:15.123456",
    }
    image = {
        "j": '{"a": [1, 2]}',
        "t": "13:00:01",
        "ts": dt.datetime(2024, 1, 1, 14, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "d": Decimal("1.5"),
        "s": ["y", "x"],
        "f": 0.10000000149011612,
        "dt": dt.datetime(2024, 2, 29, 13, 14, 15, 123456),
    }
    assert rows_equal(kinds, target, image, kinds)
    assert not rows_equal(kinds, target, {**image, "d": Decimal("1.51")}, kinds)
    assert not rows_equal(kinds, target, {**image, "j": None}, kinds)


def test_values_that_do_not_round_trip_as_text_still_compare_equal() -> None:
    """A PostgreSQL change to another column was thrown away as a false update_update
    conflict: jsonb prints 1.0e400 in full, and PostgreSQL's real is printed shortest for a
    float32 while MySQL's FLOAT is read as the double it holds."""
    kinds = {"f": "float32", "j": "json"}
    mysql_row = {
        "f": -3.4028234663852886e38,
        "j": '{"b":1,"n":12345678901234567890123,"f":1.0e400,"x":1.0}',
    }
    pg_image = {
        "f": -3.4028235e38,
        "j": '{"b": 1, "f": 1' + "0" * 400 + ', "n": 12345678901234567890123, "x": 1}',
    }
    assert rows_equal(kinds, mysql_row, pg_image, kinds)
    assert rows_equal(kinds, {"j": {"a": 1.5, "b": [2]}}, {"j": '{"b":[2.0],"a":1.50}'}, ["j"])


def test_real_changes_still_differ() -> None:
    """A FLOAT change past the 6th digit is a change (skipped as "same" it was lost), and JSON
    true is not 1."""
    kinds = {"f": "float32", "j": "json"}
    assert not rows_equal(kinds, {"f": 123456.703125}, {"f": 123456.8}, ["f"])
    assert rows_equal(kinds, {"f": 123456.796875}, {"f": 123456.8}, ["f"])
    assert not rows_equal(kinds, {"j": '{"a": 1}'}, {"j": '{"a": 1.000001}'}, ["j"])
    assert not rows_equal(kinds, {"j": '{"a": true}'}, {"j": '{"a": 1}'}, ["j"])
    assert not rows_equal(kinds, {"j": {"a": False}}, {"j": '{"a": 0}'}, ["j"])
    assert not rows_equal(kinds, {"j": '{"a": true}'}, {"j": '{"a": "true"}'}, ["j"])


def test_a_null_zero_date_from_mysql_becomes_the_sentinel_or_stays_null() -> None:
    """ZeroDateAsNull sends a NOT NULL date column's zero date as null: under zero_dates:
    sentinel the PostgreSQL row gets the sentinel, as the backfill writes it; under null, NULL."""
    from mysql_pg_sync.cdc.apply import plan_for
    from mysql_pg_sync.cdc.decode import field_decoder
    from mysql_pg_sync.dialects import postgres
    from mysql_pg_sync.mapping.models import TableMapping

    def mapping(policy: str) -> TableMapping:
        return TableMapping.model_validate(
            {
                "source": "db.t",
                "target": "public.t",
                "key": ["id"],
                "values": {"zero_dates": policy, "zero_date_sentinel": "0001-01-01"},
                "columns": [
                    {"name": "id", "column_type": "int(11)", "nullable": False},
                    {"name": "day", "column_type": "date", "nullable": False},
                    {"name": "at", "column_type": "datetime", "nullable": False, "pg_name": "at_"},
                    {"name": "maybe", "column_type": "date"},
                ],
            }
        )

    plan = plan_for(mapping("sentinel"), "mysql", postgres)
    assert dict(plan.zero_for_null) == {"day": "0001-01-01", "at_": "0001-01-01"}
    assert plan_for(mapping("null"), "mysql", postgres).zero_for_null == ()
    # the converter's optional field decodes as is: 0 is the real 1970-01-01, null the zero date
    converted = {"type": "int32", "optional": True, "name": "io.debezium.time.Date"}
    decode = field_decoder(converted, "mysql")
    assert decode is not None
    assert decode(0) == dt.date(1970, 1, 1)
    # Debezium's own field (no converter): its epoch is read as the zero date, as before
    debezium = {"type": "int32", "optional": False, "name": "io.debezium.time.Date"}
    old = field_decoder(debezium, "mysql")
    assert old is not None
    assert old(0) == "0000-00-00"


def test_decimals_and_json_numbers_differing_past_28_digits_are_not_equal() -> None:
    """Decimal.normalize() rounds to 28 digits by default: a DECIMAL(65,30) update that changed
    only its 30th decimal compared equal to the target row, was skipped, and reconcile's repair
    of it was counted as applied while nothing was written."""
    kinds = {"d": "decimal", "j": "json"}
    target = {"d": Decimal("12345678901234567890.123456789012345678901234567890"), "j": "[1]"}
    changed = {**target, "d": Decimal("12345678901234567890.123456789012345678901234567891")}
    assert not rows_equal(kinds, target, changed, kinds)
    assert rows_equal(kinds, target, {**target, "d": Decimal(str(target["d"]) + "000")}, kinds)
    wide = "1.000000000000000000000000000000001"
    assert not rows_equal(kinds, target, {**target, "j": f"[{wide}]"}, kinds)
    assert rows_equal(kinds, {**target, "j": f"[{wide}]"}, {**target, "j": f"[{wide}00]"}, kinds)
