"""Pure logic behind tests/integration/test_schema_change_hunt.py: values a column retyped on
its side sends under the old mapping, and MySQL changes from before an added column."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from mysql_pg_sync.cdc.apply import (
    Applier,
    BatchResult,
    MissingSourceColumnError,
    _changed_by_converter,
)
from mysql_pg_sync.cdc.events import UNAVAILABLE, ChangeEvent
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("kind", "value", "to_pg"),
    [
        ("int", Decimal("2.75"), True),  # MySQL int -> decimal(10,2)
        ("int", 2.5, False),  # PostgreSQL integer -> double precision (MySQL int -> double)
        ("uint64", Decimal("1.5"), True),
        ("year", 2020.5, True),
        ("int", Decimal("NaN"), True),
        ("bool", 5, False),  # PostgreSQL boolean -> smallint
        ("bool", "false", False),  # PostgreSQL boolean -> text: bool('false') is True
        ("bit1", b"\x05", True),  # MySQL bit(1) -> bit(8)
    ],
)
def test_a_value_the_converter_would_change_is_named(kind: str, value: Any, to_pg: bool) -> None:
    assert _changed_by_converter(kind, value, to_pg) is not None


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("int", Decimal("7.00")),  # a whole decimal converts exactly
        ("int", 7.0),
        ("int", True),
        ("int", "12"),  # int() reads it exactly, or refuses it
        ("int", None),
        ("bool", True),
        ("bool", 0),
        ("bit1", b"\x01"),
        ("bool", UNAVAILABLE),
        ("text", b"abc"),  # other kinds: their converters decide
        ("decimal", 2.5),
    ],
)
def test_values_converted_exactly_pass(kind: str, value: Any) -> None:
    assert _changed_by_converter(kind, value, True) is None
    assert _changed_by_converter(kind, value, False) is None


def test_mysql_tinyint1_values_are_left_to_their_own_converter() -> None:
    """Its refusal names the fix (pg_type: smallint)."""
    assert _changed_by_converter("bool", 5, to_pg=True) is None


def _mapping(*extra: str) -> TableMapping:
    columns = [{"name": "id", "column_type": "bigint(20)", "nullable": False}]
    columns += [{"name": c, "column_type": "varchar(20)"} for c in ("name", *extra)]
    return TableMapping.model_validate(
        {"source": "shop.items", "target": "public.items", "key": ["id"], "columns": columns}
    )


def _event(*fields: str) -> ChangeEvent:
    return ChangeEvent(
        side="mysql",
        namespace="shop",
        table="items",
        op="u",
        key={"id": 1},
        before=None,
        after=dict.fromkeys(fields),
        source_ts_ms=0,
        fields=fields,
    )


class _MySQL:
    """MySQL's current columns of the table, as information_schema lists them."""

    def __init__(self, *columns: str) -> None:
        self.columns = columns
        self.queries = 0

    def column_names(self, db: str, table: str) -> set[str]:
        assert (db, table) == ("shop", "items")
        self.queries += 1
        return set(self.columns)


def _check(mapping: TableMapping, event: ChangeEvent, mysql: _MySQL | None) -> None:
    session: Any = SimpleNamespace(side="postgres", dialect=pg)  # changes from MySQL
    applier = Applier(session, MappingSet((mapping,)), partial_zero_dates=mysql)  # type: ignore[arg-type]
    plan = applier.plan("shop.items")
    assert plan is not None
    for _ in range(3):  # MySQL is asked once per schema version
        applier._check_drift(plan, event, BatchResult())


def test_a_change_from_before_mysql_added_the_column_applies() -> None:
    mysql = _MySQL("id", "name", "coupon")
    _check(_mapping("coupon"), _event("id", "name"), mysql)
    assert mysql.queries == 1


@pytest.mark.parametrize(
    ("fields", "now"),
    [
        (("id", "name"), ("id", "name")),  # dropped in MySQL: the mapping still lists it
        (("id", "name", "memo"), ("id", "name", "memo")),  # renamed coupon -> memo
        # from before a rename, under the fixed mapping: it carries the old name's value
        (("id", "name", "coupon"), ("id", "name", "memo")),
    ],
)
def test_a_change_lacking_a_column_mysql_renamed_or_dropped_is_refused(
    fields: tuple[str, ...], now: tuple[str, ...]
) -> None:
    mapping = _mapping("memo" if "coupon" in fields else "coupon")
    with pytest.raises(MissingSourceColumnError):
        _check(mapping, _event(*fields), _MySQL(*now))


def test_without_a_mysql_lookup_a_change_lacking_a_column_is_refused() -> None:
    with pytest.raises(MissingSourceColumnError):
        _check(_mapping("coupon"), _event("id", "name"), None)


class _Cursor:
    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows

    def execute(self, sql: str, params: Any) -> None:
        assert "information_schema.COLUMNS" in sql
        assert tuple(params) == ("shop", "items")

    def fetchall(self) -> list[tuple[str, str]]:
        return self.rows

    def close(self) -> None:
        pass


def _narrowed(now: dict[str, str]) -> dict[str, tuple[int, str]]:
    mapping = TableMapping.model_validate(
        {
            "source": "shop.items",
            "target": "public.items",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "price", "column_type": "decimal(12,2)"},
                {"name": "at", "column_type": "datetime(6)"},
                {"name": "name", "column_type": "varchar(20)"},
            ],
        }
    )
    rows = [("id", "bigint(20)"), *now.items()]
    conn = SimpleNamespace(cursor=lambda: _Cursor(rows))
    session: Any = SimpleNamespace(side="mysql", dialect=my, conn=conn)  # from PostgreSQL
    applier = Applier(session, MappingSet((mapping,)))
    plan = applier.plan("public.items")
    assert plan is not None
    return applier._narrowed_in_target(plan)


def test_mysql_columns_keeping_fewer_digits_than_the_mapping_are_found() -> None:
    found = _narrowed({"price": "decimal(12,1)", "at": "datetime", "name": "varchar(5)"})
    assert found == {"price": (1, "decimal(12,1)"), "at": (0, "datetime")}


def test_widened_same_or_other_kind_columns_are_not_narrowed() -> None:
    assert _narrowed({"price": "decimal(14,4)", "at": "datetime(6)"}) == {}
    assert _narrowed({"price": "double", "at": "date"}) == {}
    assert _narrowed({}) == {}  # dropped in MySQL: its own errors say so


def test_postgres_columns_keeping_fewer_digits_than_the_mapping_are_found() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "shop.items",
            "target": "public.items",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "price", "column_type": "decimal(12,2)"},
                {"name": "at", "column_type": "datetime(6)"},
                {"name": "wide", "column_type": "decimal(12,2)"},
            ],
        }
    )
    rows = [
        ("id", "bigint"),
        ("price", "numeric(12,1)"),
        ("at", "timestamp(0) without time zone"),
        ("wide", "numeric(14,4)"),
    ]
    conn = SimpleNamespace(execute=lambda sql, params: SimpleNamespace(fetchall=lambda: rows))
    session: Any = SimpleNamespace(side="postgres", dialect=pg, conn=conn)  # from MySQL
    applier = Applier(session, MappingSet((mapping,)))
    plan = applier.plan("shop.items")
    assert plan is not None
    assert applier._narrowed_in_target(plan) == {
        "price": (1, "numeric(12,1)"),
        "at": (0, "timestamp(0) without time zone"),
    }
