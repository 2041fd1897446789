"""What a drift row stores for the report: each differing column's value on both sides."""

from __future__ import annotations

import json

import pytest

from mysql_pg_sync.reconcile.diff import SHOWN_CHARS, CanonicalRow, RowDiff, shown_value

pytestmark = pytest.mark.unit


def _rows(left: dict, right: dict) -> tuple[CanonicalRow, CanonicalRow]:
    return CanonicalRow((1,), left), CanonicalRow((1,), right)


def test_a_different_row_shows_only_its_differing_columns_on_both_sides() -> None:
    left, right = _rows({"a": "1", "b": "x", "c": None}, {"a": "1", "b": "y", "c": ""})
    diff = RowDiff(("1",), "different", ("b", "c"), left, right)
    assert diff.shown_values() == {
        "b": {"mysql": "x", "postgres": "y"},
        "c": {"mysql": None, "postgres": ""},
    }


def test_missing_and_extra_rows_carry_no_values() -> None:
    left, right = _rows({"a": "1"}, {"a": "1"})
    assert RowDiff(("1",), "missing", mysql=left).shown_values() is None
    assert RowDiff(("1",), "extra", postgres=right).shown_values() is None


def test_floats_show_their_shortest_round_trip_and_long_text_says_it_was_cut() -> None:
    assert shown_value(0.1 + 0.2) == "0.30000000000000004"
    assert shown_value(None) is None
    assert shown_value("\U0001f600 ") == "\U0001f600 "
    long = "x" * (SHOWN_CHARS + 5)
    assert shown_value(long) == "x" * SHOWN_CHARS + f"... ({SHOWN_CHARS + 5:,} chars)"
    assert shown_value("y" * SHOWN_CHARS) == "y" * SHOWN_CHARS


def test_a_nul_character_is_shown_escaped() -> None:
    """The drift's shown values are stored as jsonb, which refuses a NUL character: a
    differing MySQL text holding one failed the whole table."""
    assert shown_value("a\x00b") == "a\\x00b"
    diff = RowDiff(
        ("1",),
        "different",
        ("s",),
        CanonicalRow((1,), {"s": "a\x00b"}),
        CanonicalRow((1,), {"s": "ab"}),
    )
    shown = diff.shown_values()
    assert shown == {"s": {"mysql": "a\\x00b", "postgres": "ab"}}
    assert "\\u0000" not in json.dumps(shown)  # what PostgreSQL's jsonb refuses
