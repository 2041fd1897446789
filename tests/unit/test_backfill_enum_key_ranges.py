"""ENUM and SET key bounds: stored as member numbers, compared in the order MySQL sorts by."""

from __future__ import annotations

import pytest

from mysql_pg_sync.backfill.keys import MemberNumber, decode_key, encode_key, mysql_literal
from mysql_pg_sync.backfill.plan import chunks_from_boundaries, mysql_range_predicate
from mysql_pg_sync.dialects.mysql import (
    ENUM_MAX_INDEX,
    member_number_compare_sql,
    member_number_sql,
    quote_ident,
)


def _numbers(low: int, high: int) -> str:
    return ", ".join(str(i) for i in range(low, high + 1))


@pytest.mark.parametrize(
    ("data_type", "op", "number", "expected"),
    [
        ("enum", "=", 2, "`s` = 2"),
        ("enum", "<", 2, "`s` IN (0, 1)"),  # 0: the invalid value '', which sorts first
        ("enum", "<=", 2, "`s` IN (0, 1, 2)"),
        ("enum", "<", 0, "FALSE"),
        ("enum", ">", 2, f"`s` IN ({_numbers(3, ENUM_MAX_INDEX)})"),  # members appended later
        ("enum", ">=", 2, f"`s` IN ({_numbers(2, ENUM_MAX_INDEX)})"),
        ("enum", ">", ENUM_MAX_INDEX, "FALSE"),
        ("set", "=", 5, "`s` = 5"),
        ("set", "<", 3, "`s` IN (0, 1, 2)"),
        ("set", ">", 5, "`s` > 5"),  # up to 2**64 bit sets: compared as a number
        ("set", ">=", 5, "`s` >= 5"),
        ("set", "<", 2**40, f"`s` < {2**40}"),
    ],
)
def test_member_number_comparisons(data_type: str, op: str, number: int, expected: str) -> None:
    assert member_number_compare_sql("`s`", data_type, op, number) == expected


def test_member_number_comparisons_refuse_other_types_and_operators() -> None:
    with pytest.raises(ValueError, match="enum"):
        member_number_compare_sql("`s`", "varchar", "<", 1)
    with pytest.raises(ValueError, match="comparison"):
        member_number_compare_sql("`s`", "enum", "<>", 1)


def test_member_number_is_read_in_numeric_context() -> None:
    assert member_number_sql("`s`") == "(`s` + 0)"


def test_enum_bounds_render_in_member_order() -> None:
    lower = (MemberNumber("enum", 1), 7)
    upper = (MemberNumber("enum", 3), 0)
    where = mysql_range_predicate(["status", "id"], lower, upper, quote_ident)
    above = f"`status` IN ({_numbers(2, ENUM_MAX_INDEX)})"
    assert where == (
        f"(({above}) OR (`status` = 1 AND `id` >= 7)) AND "
        "((`status` IN (0, 1, 2)) OR (`status` = 3 AND `id` < 0))"
    )
    # an ENUM after the first key column: compared by member number all the same
    where = mysql_range_predicate(["g", "status"], None, (5, MemberNumber("enum", 2)), quote_ident)
    assert where == "((`g` < 5) OR (`g` = 5 AND `status` IN (0, 1)))"


def test_plans_from_before_keep_their_text_bounds() -> None:
    # a kept plan holds the member text: still compared as text, the order its chunks were cut in
    where = mysql_range_predicate(["status"], ("closed",), None, quote_ident)
    assert where == f"(`status` >= {mysql_literal('closed')})"


def test_member_numbers_round_trip_through_the_plan_state() -> None:
    key = (MemberNumber("enum", 2), MemberNumber("set", 2**63 + 1), "x", 4)
    stored = encode_key(key)
    assert stored == [["enum", "2"], ["set", str(2**63 + 1)], "x", 4]
    assert decode_key(stored) == key
    assert mysql_literal(MemberNumber("enum", 2)) == "2"


def test_member_number_boundaries_are_distinct_keys() -> None:
    chunks = chunks_from_boundaries(
        "db.t", [(MemberNumber("enum", 1), 500), (MemberNumber("enum", 2), 0)], strategy="keyset"
    )
    assert [c.lower for c in chunks] == [
        None,
        (MemberNumber("enum", 1), 500),
        (MemberNumber("enum", 2), 0),
    ]
