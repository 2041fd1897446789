"""A key a side reads as NULL (a MySQL zero date): ordering never fails on it, and the table is
refused with a message naming the table, the key and the fix. Pure logic, no servers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from mysql_pg_sync.reconcile.bisect import KeyText, RowRef, Suspect, compare_leaf, key_order
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import (
    CompareColumn,
    ReconcileTable,
    refuse_null_keys,
)


def _table(*key: CompareColumn) -> ReconcileTable:
    columns = (*key, CompareColumn("v", "v", "int", "integer"))
    return ReconcileTable(
        "legacy.dtkey",
        "legacy",
        "dtkey",
        "public",
        "dtkey",
        columns,
        tuple(c.mysql_name for c in key),
    )


DATETIME_KEY = _table(CompareColumn("k", "k", "datetime", "timestamp(3)"))
COMPOSITE_KEY = _table(
    CompareColumn("id", "id", "int", "integer"), CompareColumn("d", "d", "date", "date")
)


def _keys(leaf: Sequence[Suspect]) -> list[KeyText]:
    return [s.key for s in leaf]


def test_a_leaf_with_a_null_key_part_is_ordered_not_a_type_error() -> None:
    mysql = {
        (None,): RowRef((None,), "h0"),
        ("2020-01-01 00:00:00",): RowRef(("raw",), "h1"),
        ("2019-01-01 00:00:00",): RowRef(("raw",), "h2"),
    }
    postgres = {
        ("2020-01-01 00:00:00",): RowRef(("raw",), "h1"),
        ("2021-01-01 00:00:00",): RowRef(("raw",), "h3"),
    }
    assert _keys(compare_leaf(mysql, postgres)) == [
        ("2019-01-01 00:00:00",),
        ("2021-01-01 00:00:00",),
        (None,),  # NULL last
    ]


def test_key_order_is_text_order_with_null_parts_last() -> None:
    keys: list[KeyText] = [("b", None), ("a", "2"), (None, "1"), ("b", "1"), ("", "0")]
    assert sorted(keys, key=key_order) == [
        ("", "0"),
        ("a", "2"),
        ("b", "1"),
        ("b", None),
        (None, "1"),
    ]


def test_keys_without_null_parts_pass() -> None:
    refuse_null_keys(DATETIME_KEY, "mysql", [((object(),), ("2020-01-01 00:00:00",))])
    refuse_null_keys(DATETIME_KEY, "mysql", [])


@pytest.mark.parametrize(
    ("table", "rows", "shown"),
    [
        # the zero date: None from the driver, NULL as canonical text
        (DATETIME_KEY, [((None,), (None,))], "k='0000-00-00 00:00:00'"),
        # a zero month: None from the driver, but MySQL prints its text
        (DATETIME_KEY, [((None,), ("2020-00-15 00:00:00",))], "k='2020-00-15 00:00:00'"),
        (COMPOSITE_KEY, [((7, None), ("7", None))], "id=7, d='0000-00-00'"),
    ],
)
def test_a_null_key_is_refused_naming_table_key_and_fix(
    table: ReconcileTable, rows: list[tuple[tuple[Any, ...], tuple[Any, ...]]], shown: str
) -> None:
    good = ((1,) * len(table.key), ("1",) * len(table.key))
    with pytest.raises(ReconcileError) as err:
        refuse_null_keys(table, "mysql", [good, *rows])
    message = str(err.value)
    assert message.startswith(f"legacy.dtkey: MySQL reads a key as NULL ({shown}): a zero date")
    assert "Give the row a real date in MySQL (or delete it), then run reconcile again" in message


def test_many_null_keys_show_a_few_and_count_the_rest() -> None:
    rows = [((None,), (None,))] * 5
    with pytest.raises(ReconcileError, match=r"as NULL \(k=.*; k=.*; k=.* and 2 more\): "):
        refuse_null_keys(DATETIME_KEY, "mysql", rows)
