"""The ids a batch writes, per sequence column: what the applier moves PostgreSQL sequences past."""

from __future__ import annotations

from decimal import Decimal

from mysql_pg_sync.cdc.apply import highest_values
from mysql_pg_sync.cdc.events import UNAVAILABLE


def test_the_largest_whole_number_of_each_column() -> None:
    images = [
        {"id": 4, "ticket": 70, "name": "a"},
        None,  # a delete
        {"id": 2, "ticket": 90},
        {"id": 11, "ticket": None},
    ]
    assert highest_values(images, ("id", "ticket")) == {"id": 11, "ticket": 90}


def test_a_column_without_a_value_is_left_out() -> None:
    images = [{"id": 3, "ticket": None}, {"id": 1, "ticket": UNAVAILABLE}, {"id": 2}]
    assert highest_values(images, ("id", "ticket", "absent")) == {"id": 3}
    assert highest_values([], ("id",)) == {}
    assert highest_values([None], ("id",)) == {}


def test_numeric_keys_count_when_whole_and_anything_else_is_ignored() -> None:
    # bigint unsigned travels as numeric(20,0): values past bigint stay exact
    images = [
        {"id": Decimal("18446744073709551615")},
        {"id": Decimal("7.5")},
        {"id": Decimal("NaN")},
        {"id": True},
        {"id": "12"},
        {"id": -3},
    ]
    assert highest_values(images, ("id",)) == {"id": 18446744073709551615}
    assert highest_values([{"id": -3}, {"id": -9}], ("id",)) == {"id": -3}
