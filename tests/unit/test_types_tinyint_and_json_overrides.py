"""A hand-set pg_type is enough: a tinyint(1) mapped to an integer type carries its values as
they are, and JSON holding \\u0000 mapped to json (not jsonb) is kept; both converter paths."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from mysql_pg_sync.ddl import plan_default
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.generate import generate
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveIndex, LiveTable
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.types.arrow import to_pg_table
from mysql_pg_sync.types.convert import to_mysql, to_pg
from mysql_pg_sync.types.typemap import kind_of

pytestmark = pytest.mark.unit


def _mapping(column: dict[str, Any]) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.adv",
            "target": "public.adv",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, column],
        }
    )


@pytest.mark.parametrize("pg_type", ["smallint", "integer", "bigint", "int4"])
def test_an_integer_pg_type_makes_a_tinyint_1_an_integer(pg_type: str) -> None:
    assert kind_of("tinyint(1)", pg_type) == "int"
    assert kind_of("tinyint(1)", "boolean") == "bool"
    assert kind_of("tinyint(1)", pg_type, "bool") == "bool"  # a named converter still wins


def test_values_other_than_0_and_1_cross_both_ways_with_pg_type_smallint_alone() -> None:
    mapping = _mapping({"name": "tb", "column_type": "tinyint(1)", "pg_type": "smallint"})
    column = mapping.column("tb")
    for value in (2, -1, 127, -128, 0, 1):
        assert to_pg(column, value, mapping.values) == value
        assert to_mysql(column, value, mapping.values) == value


def test_boolean_still_refuses_them_and_names_the_fix_that_works() -> None:
    mapping = _mapping({"name": "tb", "column_type": "tinyint(1)"})
    with pytest.raises(ConversionError, match=r"set pg_type: smallint"):
        to_pg(mapping.column("tb"), 2, mapping.values)


def _arrow(mapping: TableMapping, column: str, values: list[Any], arrow_type: pa.DataType) -> Any:
    table = pa.table(
        {
            "id": pa.array(range(1, len(values) + 1), pa.int32()),
            column: pa.array(values, arrow_type),
        }
    )
    return to_pg_table(mapping, table, wire="text").column(column).to_pylist()


def test_the_arrow_path_copies_them_too() -> None:
    mapping = _mapping({"name": "tb", "column_type": "tinyint(1)", "pg_type": "smallint"})
    assert _arrow(mapping, "tb", [2, -1, 127, None], pa.int8()) == [2, -1, 127, None]
    boolean = _mapping({"name": "tb", "column_type": "tinyint(1)"})
    with pytest.raises(ConversionError, match=r"set pg_type: smallint"):
        _arrow(boolean, "tb", [2], pa.int8())


def test_a_default_outside_0_and_1_is_carried_to_smallint() -> None:
    mapping = _mapping(
        {"name": "tb", "column_type": "tinyint(1)", "pg_type": "smallint", "default": "2"}
    )
    assert plan_default(mapping, mapping.column("tb")).sql == "2"


def test_regeneration_keeps_the_hand_set_pg_type() -> None:
    table = LiveTable(
        "legacy",
        "adv",
        columns=[
            LiveColumn("id", "int(11)", False, None, ""),
            LiveColumn("tb", "tinyint(1)", True, None, ""),
        ],
        indexes=[LiveIndex("PRIMARY", ("id",), True, False)],
    )
    entries, _ = generate([table], {}, ["legacy"])
    entry = entries["legacy.adv"]
    assert entry["columns"][1]["pg_type"] == "boolean"
    entry["columns"][1]["pg_type"] = "smallint"  # the hand edit
    again, drift = generate([table], {"legacy.adv": entry}, ["legacy"])
    column = TableMapping.model_validate(again["legacy.adv"]).column("tb")
    assert (column.pg_type, column.kind) == ("smallint", "int")
    assert not drift.retyped_columns


JSON_WITH_NUL = '{"a": "x\\u0000y"}'


def test_jsonb_refuses_json_holding_nul_and_names_pg_type_json() -> None:
    mapping = _mapping({"name": "j", "column_type": "json"})
    with pytest.raises(ConversionError, match=r"jsonb cannot store.*set pg_type: json"):
        to_pg(mapping.column("j"), JSON_WITH_NUL, mapping.values)
    with pytest.raises(ConversionError, match=r"jsonb cannot store.*set pg_type: json"):
        _arrow(mapping, "j", [JSON_WITH_NUL], pa.string())


def test_json_keeps_it() -> None:
    mapping = _mapping({"name": "j", "column_type": "json", "pg_type": "json"})
    assert to_pg(mapping.column("j"), JSON_WITH_NUL, mapping.values) == JSON_WITH_NUL
    assert _arrow(mapping, "j", [JSON_WITH_NUL], pa.string()) == [JSON_WITH_NUL]
