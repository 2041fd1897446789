"""Which open dead letters `dead-letters retry` recovers, and how (pure: no servers)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from mysql_pg_sync.cdc.dead_letter_plan import (
    DeadLetterRow,
    Selection,
    candidate,
    copied_resolution,
    direction_text,
    fix_hint,
    hand_resolution,
    key_text,
    not_found_hint,
    plan_retries,
    raw_key,
    short_error,
)
from mysql_pg_sync.cdc.topics import change_topics
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.status.model import StateSnapshot, build_status

pytestmark = pytest.mark.unit

T0 = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
MYSQL_TOPIC = "mps_mysql.shop.items"
PG_TOPIC = "mps_pg.public.items"


def _mapping(direction: str = "both", **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "shop.items",
            "target": "public.items",
            "key": ["id", "code"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "code", "column_type": "binary(16)", "nullable": False},
                {"name": "Label", "column_type": "varchar(20)", "pg_name": "label"},
            ],
            "direction": direction,
            **extra,
        }
    )


MAPPINGS = MappingSet((_mapping(),))
TOPICS = change_topics(MAPPINGS, "mps_mysql", "mps_pg")
TABLES = {"shop.items": table_from_mapping(_mapping())}


def _letter(
    id: int, topic: str | None = MYSQL_TOPIC, key: dict[str, Any] | None = None, minutes: int = 0
) -> DeadLetterRow:
    return DeadLetterRow(
        id=id,
        recorded_at=T0 + dt.timedelta(minutes=minutes),
        source_table="shop.items",
        key={"id": 3, "code": "\\x" + "ab" * 16} if key is None else key,
        error_class="CheckViolation",
        error="new row violates check constraint",
        kafka_topic=topic,
        kafka_partition=0,
        kafka_offset=id,
    )


EVERY = Selection()


def _plan(letters: list[DeadLetterRow], selection: Selection = EVERY) -> Any:
    return plan_retries([candidate(x, TOPICS, TABLES) for x in letters], selection.matches)


def test_change_topics_name_both_directions_of_a_two_way_mapping() -> None:
    assert TOPICS == {MYSQL_TOPIC: ("mysql", "shop.items"), PG_TOPIC: ("postgres", "shop.items")}
    one_way = change_topics(MappingSet((_mapping("mysql_to_pg"),)), "mps_mysql", "mps_pg")
    assert one_way == {MYSQL_TOPIC: ("mysql", "shop.items")}


def test_the_stored_key_becomes_the_mysql_key_order_with_driver_values() -> None:
    table = TABLES["shop.items"]
    key = {"code": "\\x" + "00" * 16, "id": 7}
    assert raw_key(table, "mysql", key) == (7, bytes(16))
    with pytest.raises(ValueError, match=r"no PostgreSQL key column 'code' of shop\.items"):
        raw_key(table, "postgres", {"id": 7})


@pytest.mark.parametrize(
    ("column_type", "stored", "value"),
    [
        ("bigint(20)", "12", 12),
        ("decimal(10,2)", "1.50", Decimal("1.50")),
        ("date", "2026-05-01", dt.date(2026, 5, 1)),
        ("datetime(6)", "2026-05-01T10:00:00.5", dt.datetime(2026, 5, 1, 10, 0, 0, 500000)),
        ("varchar(10)", "x ", "x "),
    ],
)
def test_a_key_value_comes_back_from_its_json_form(
    column_type: str, stored: str, value: Any
) -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "shop.k",
            "target": "public.k",
            "key": ["k"],
            "columns": [{"name": "k", "column_type": column_type, "nullable": False}],
        }
    )
    assert raw_key(table_from_mapping(mapping), "mysql", {"k": stored}) == (value,)


def test_a_postgresql_uuid_key_is_read_back_as_a_uuid() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "shop.u",
            "target": "public.u",
            "key": ["u"],
            "columns": [
                {"name": "u", "column_type": "binary(16)", "pg_type": "uuid", "nullable": False}
            ],
        }
    )
    value = uuid.uuid4()
    assert raw_key(table_from_mapping(mapping), "postgres", {"u": str(value)}) == (value,)


def test_letters_of_one_key_and_direction_are_one_retry_oldest_first() -> None:
    other = {"id": 4, "code": "\\x" + "cd" * 16}
    retries, refusals = _plan([_letter(2, minutes=5), _letter(1), _letter(3, key=other)])
    assert refusals == []
    assert [(r.letter_ids, r.source_side, r.target_side) for r in retries] == [
        ((1, 2), "mysql", "postgres"),
        ((3,), "mysql", "postgres"),
    ]
    assert retries[0].raw_key == (3, bytes.fromhex("ab" * 16))
    assert retries[0].describe() == (f"shop.items id=3, code=\\x{'ab' * 16} (MySQL -> PostgreSQL)")


def test_the_direction_is_the_side_of_the_topic_the_change_was_read_from() -> None:
    pg_key = {"id": 3, "code": "\\x" + "ab" * 16}
    (retry,), _ = _plan([_letter(1, topic=PG_TOPIC, key=pg_key)])
    assert (retry.source_side, retry.target_side) == ("postgres", "mysql")


def test_a_key_with_open_letters_in_both_directions_is_refused_even_if_one_is_chosen() -> None:
    letters = [_letter(1), _letter(2, topic=PG_TOPIC)]
    retries, refusals = _plan(letters, Selection(ids=frozenset({1})))
    assert retries == []
    assert [r.letter_ids for r in refusals] == [(1,)]
    assert "open dead letters in both directions" in refusals[0].reason
    assert "dead-letters resolve" in refusals[0].reason


def test_letters_that_cannot_be_retried_say_why_and_point_to_resolve() -> None:
    undecodable = DeadLetterRow(9, T0, "shop.items", {}, "DecodeError", "bad", MYSQL_TOPIC, 0, 99)
    foreign = _letter(10, topic="other.shop.items")
    old_key = _letter(11, key={"id": 5})
    retries, refusals = _plan([undecodable, foreign, old_key])
    assert retries == []
    reasons = {r.letter_ids[0]: r.reason for r in refusals}
    assert "could not be decoded" in reasons[9]
    assert "other.shop.items" in reasons[10]
    assert "no MySQL key column 'code'" in reasons[11]
    for reason in reasons.values():
        assert "dead-letters resolve --id" in reason


def test_selection_by_table_and_ids() -> None:
    letter = _letter(1)
    assert Selection().matches(letter)
    assert Selection(table="shop.items", ids=frozenset({1})).matches(letter)
    assert not Selection(table="shop.other").matches(letter)
    assert not Selection(ids=frozenset({2})).matches(letter)


def test_texts() -> None:
    assert copied_resolution("mysql") == "retried: copied MySQL's current row to PostgreSQL"
    assert hand_resolution("  fixed\n in PG ") == "resolved by hand: fixed in PG"
    assert key_text(None) == "(no key)"
    assert direction_text("postgres") == "PostgreSQL -> MySQL"
    assert short_error("a\nb " + "x" * 300, 20) == "a b xxxxxxxxxxxxx..."
    (retry,), _ = _plan([_letter(4)])
    hint = fix_hint(retry, "CheckViolation: qty_not_negative")
    assert "fix the cause in PostgreSQL" in hint
    assert "dead-letters retry --id 4" in hint
    gone = not_found_hint(retry)
    assert "has no row with this key now, so nothing was written" in gone
    assert "resolve the letter by hand" in gone
    kept = fix_hint(retry, "the version rule kept the postgres row", kept_by_rule=True)
    assert "dead-letters resolve --id 4" in kept


def test_open_dead_letters_make_a_table_warn_and_say_what_to_do() -> None:
    mapping = _mapping()
    snapshot = StateSnapshot(table_state={"shop.items": {"state": "streaming"}}, dead_letters={})
    (row,) = build_status([mapping], snapshot)
    assert (row.health, row.reason) == ("ok", "")
    with_letters = StateSnapshot(
        table_state={"shop.items": {"state": "streaming"}}, dead_letters={"shop.items": 2}
    )
    (row,) = build_status([mapping], with_letters)
    assert (row.dead_letters, row.open_dead_letters, row.health) == ("2", 2, "warn")
    assert row.reason.startswith("2 open dead letter(s): changes not applied.")
    assert 'make cli ARGS="dead-letters list --table shop.items"' in row.reason
    assert 'dead-letters retry --table shop.items"' in row.reason
