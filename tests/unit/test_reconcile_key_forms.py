"""How reconcile holds, prints, binds and matches keys across the two sides: float key texts
made from the exact double, SET keys held hashable, BIT/boolean/SET keys bound in the other
driver's form, keys a MySQL character set cannot hold, keys two rows share, suspects found on
neither side, leaves whose counts differ unexplained, and segments too wide for a bigint
offset. Pure logic, no servers."""

from __future__ import annotations

import math
import struct
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from mysql_pg_sync.dialects import mysql, postgres
from mysql_pg_sync.reconcile.bisect import (
    BisectConfig,
    Checksum,
    KeyText,
    RowRef,
    Suspect,
    bisect,
    unexplained_leaves,
)
from mysql_pg_sync.reconcile.diff import CanonicalRow, classify, vanished
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.keyforms import (
    float_key_text,
    key_forms,
    raw_key_part,
    refuse_duplicate_keys,
)
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable
from mysql_pg_sync.reconcile.segments import BIGINT_SPAN, Segment, Split


def _float32(value: float) -> float:
    """The double a FLOAT / real holds for ``value``."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


# --- float key texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.5, "0.5"),
        (3.0, "3"),  # both engines print a whole double without '.0'
        (-0.1, "-0.1"),
        (123456789.123, "123456789.123"),
        (1e-4, "0.0001"),  # fixed notation from 1e-4 ...
        (1e14, "100000000000000"),
        (1e15, "1e15"),  # ... to 1e15, digits and a power of ten past it
        (9.99e-5, "999e-5"),
        (1.5e-5, "15e-5"),
        (1e23, "1e23"),  # PostgreSQL prints 9.999999999999999e+22, MariaDB 1e23
        (2e23, "2e23"),
        (-2.5e-300, "-25e-300"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "17976931348623157e308"),
        (_float32(0.001), "0.0010000000474974513"),  # the FLOAT 0.001, not the double
        (_float32(0.1), "0.10000000149011612"),
    ],
)
def test_a_float_key_text_is_the_exact_doubles_shortest_digits(value: float, text: str) -> None:
    assert float_key_text(value) == text
    if 1e-4 <= abs(value) < 1e15:
        assert float(text) == value  # it reads back as the same double
    else:  # the canonical digits and power of ten of the first digit: 1.5e-5 is '15e-5'
        digits, _, power = text.lstrip("-").partition("e")
        assert float(f"{digits[0]}.{digits[1:] or 0}e{power}") == abs(value)


def test_a_float_key_text_has_one_zero_and_postgres_names_for_the_non_finite() -> None:
    assert float_key_text(0.0) == float_key_text(-0.0) == "0"  # one key on both engines
    assert float_key_text(math.nan) == "NaN"
    assert float_key_text(math.inf) == "Infinity"
    assert float_key_text(-math.inf) == "-Infinity"
    assert float_key_text(None) is None
    assert float_key_text(7) == "7"  # a value from JSON (a dead letter's key) may be an int


def test_doubles_one_digit_apart_have_other_key_texts() -> None:
    a = 0.1 + 0.2
    b = math.nextafter(a, 1.0)
    assert float_key_text(a) != float_key_text(b)
    assert float_key_text(a) == "0.30000000000000004"


# --- raw keys and key texts --------------------------------------------------------------------

FLOAT_KEY = CompareColumn("k", "k", "float", "real", digits=6)
SET_KEY = CompareColumn("tags", "tags", "set", "text[]", members=("x", "y", "z"))
INT_KEY = CompareColumn("id", "id", "int", "integer")
CHAR_KEY = CompareColumn("k", "k", "char", "varchar(5)")


def test_a_set_key_read_as_a_list_is_held_as_its_members_joined() -> None:
    assert raw_key_part("set", ["x", "y"]) == "x,y"
    assert raw_key_part("set", ("z",)) == "z"
    assert raw_key_part("set", []) == ""
    assert raw_key_part("set", "x,y") == "x,y"  # MySQL reads a SET so already
    assert raw_key_part("text", "x,y") == "x,y"
    assert raw_key_part("binary", b"\x00") == b"\x00"


def test_key_forms_make_a_float_text_from_the_raw_double_and_keep_sql_texts_otherwise() -> None:
    columns = (FLOAT_KEY, SET_KEY, INT_KEY)
    value = _float32(0.001)
    raw, key = key_forms(columns, (value, ["x", "y"], 3), ("0.001", "x,y", "3"))
    assert raw == (value, "x,y", 3)
    assert key == ("0.0010000000474974513", "x,y", "3")
    hash(raw)  # raw keys are de-duplicated in dicts
    # both engines' own prints of one double give one key text
    _, mysql_key = key_forms((FLOAT_KEY,), (1e23,), ("1e23",))
    _, pg_key = key_forms((FLOAT_KEY,), (1e23,), ("9999999999999999e23",))
    assert mysql_key == pg_key == ("1e23",)


def _table(*key: CompareColumn) -> ReconcileTable:
    return ReconcileTable(
        "legacy.t",
        "legacy",
        "t",
        "public",
        "t",
        (*key, CompareColumn("v", "v", "int", "integer")),
        tuple(c.mysql_name for c in key),
    )


def test_two_rows_with_one_key_text_refuse_the_table_naming_the_key() -> None:
    table = _table(CHAR_KEY)
    keys = [(("cd",), ("cd",)), (("cd  ",), ("cd",)), (("x",), ("x",))]
    with pytest.raises(ReconcileError) as err:
        refuse_duplicate_keys(table, "postgres", keys)
    message = str(err.value)
    assert "legacy.t: PostgreSQL holds several rows whose key reads alike" in message
    assert "k='cd' from 'cd', 'cd  '" in message
    assert "'x'" not in message
    refuse_duplicate_keys(table, "postgres", [(("cd",), ("cd",)), (("x",), ("x",))])


def test_a_composite_duplicate_shows_each_rows_whole_key() -> None:
    table = _table(INT_KEY, CHAR_KEY)
    keys = [((1, "a"), ("1", "a")), ((1, "a "), ("1", "a"))]
    with pytest.raises(ReconcileError, match=r"MySQL holds .*id='1', k='a' from \(1, 'a'\)"):
        refuse_duplicate_keys(table, "mysql", keys)


# --- binding a key from either driver ----------------------------------------------------------

BINDINGS: list[tuple[Any, str, Any, str, Any]] = [
    # (dialect, kind, value from either driver, the column's pg_type, bound as)
    (postgres, "bit", b"\x05", "bit varying(8)", "00000101"),  # MySQL's BIT(8) bytes
    (postgres, "bit", b"\x05", "bit(5)", "00101"),  # as wide as the type, as the stream writes
    (postgres, "bit", 5, "bit varying(8)", "00000101"),
    (postgres, "bit", "00000101", "bit varying(8)", "00000101"),  # its own
    (postgres, "bit", b"\x05", "varbit", "101"),
    (postgres, "bit", b"\x01\x00", "bigint", 256),  # a BIT mapped to an integer
    (postgres, "bool", 1, "boolean", True),  # MySQL's tinyint(1)
    (postgres, "bool", 0, "boolean", False),
    (postgres, "bool", b"\x01", "boolean", True),  # MySQL's bit(1)
    (postgres, "bool", True, "boolean", True),  # its own
    (postgres, "bool", True, "smallint", 1),
    (postgres, "set", "x,y", "text[]", ["x", "y"]),  # held joined (keyforms.raw_key_part)
    (postgres, "set", "", "text[]", []),
    (postgres, "set", "x,y", "text", "x,y"),  # a SET mapped to text
    (postgres, "float", 0.0010000000474974513, "real", 0.0010000000474974513),
    (mysql, "bit", "00000101", "bit varying(8)", 5),  # PostgreSQL's bit string
    (mysql, "bit", b"\x05", "bit varying(8)", b"\x05"),  # its own
    (mysql, "bit", 5, "", 5),
    (mysql, "bit", "\\x05", "", "\\x05"),  # no bit string: left to the server
    (mysql, "bool", True, "boolean", True),  # mysqlclient binds it as 1
    (mysql, "set", "x,y", "text[]", "x,y"),
    (mysql, "float", 0.0010000000474974513, "real", 0.0010000000474974513),
]


@pytest.mark.parametrize(("dialect", "kind", "value", "pg_type", "bound"), BINDINGS)
def test_a_key_value_is_bound_in_the_form_the_sides_column_compares(
    dialect: Any, kind: str, value: Any, pg_type: str, bound: Any
) -> None:
    got = dialect.key_param(kind, value, pg_type=pg_type)
    assert got == bound
    assert type(got) is type(bound)


def test_key_param_keeps_its_earlier_forms_without_a_pg_type() -> None:
    key = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    assert postgres.key_param("uuid", key.bytes) == key
    assert mysql.key_param("uuid", key) == key.bytes
    assert mysql.key_param("bits", "0101") == "0101"  # a typemap kind (the backfill's) is not bit


@pytest.mark.parametrize(
    ("value", "charset", "fits"),
    [
        ("é", "latin1", True),
        ("€", "latin1", True),  # MySQL's latin1 is Windows-1252
        ("\u0081", "latin1", True),
        ("Ω", "latin1", False),
        ("\u0080", "latin1", False),
        ("abc", "ascii", True),
        ("é", "ascii", False),
        ("Ω", "utf8mb3", True),
        ("😀", "utf8mb3", False),
        ("😀", "utf8", False),
        ("😀", "utf8mb4", True),
        ("Ω", "", True),  # no character set: not a string column
        ("Ω", "koi8r", True),  # not checked: left to the server
        (b"\xff", "latin1", True),
        (5, "latin1", True),
    ],
)
def test_a_mysql_column_holds_only_keys_its_character_set_can(
    value: Any, charset: str, fits: bool
) -> None:
    assert mysql.key_value_fits(value, charset) is fits
    assert postgres.key_value_fits(value, charset) is True  # one encoding, UTF8


# --- wide segments -----------------------------------------------------------------------------


def test_a_segment_wider_than_2_63_needs_decimal_offsets() -> None:
    assert Segment(0, BIGINT_SPAN).offsets_fit_bigint
    assert Segment(-(2**63), 0).offsets_fit_bigint
    assert not Segment(-(2**63), 1).offsets_fit_bigint
    assert not Segment(-(2**63), 2**63).offsets_fit_bigint
    assert Segment(2**63, 2**64).offsets_fit_bigint  # a BIGINT UNSIGNED's upper half


def test_a_wide_offset_is_computed_in_exact_decimals() -> None:
    assert postgres.ordinal_offset_sql('"id"') == '"id" - %s'
    assert postgres.ordinal_offset_sql('"id"', wide=True) == '("id")::numeric - %s'
    assert mysql.ordinal_offset_sql("`id`") == "`id` - %s"
    assert mysql.ordinal_offset_sql("`id`", wide=True) == "CAST(`id` AS DECIMAL(20, 0)) - %s"


# --- rows that slip through ------------------------------------------------------------------

V = CompareColumn("v", "v", "int", "integer")


def _row(value: str) -> CanonicalRow:
    return CanonicalRow((1,), {"v": value})


def test_suspects_found_on_neither_side_are_counted_not_dropped_silently() -> None:
    keys: list[KeyText] = [("1",), ("2",), ("3",)]
    mysql_rows: dict[KeyText, CanonicalRow] = {("1",): _row("a")}
    pg_rows: dict[KeyText, CanonicalRow] = {("1",): _row("b")}
    assert [d.key for d in classify([V], keys, mysql_rows, pg_rows)] == [("1",)]
    assert vanished(keys, mysql_rows, pg_rows) == [("2",), ("3",)]
    pg_rows.update({("2",): _row("a"), ("3",): _row("a")})
    assert vanished(keys, mysql_rows, pg_rows) == []


def _ref(key: str) -> RowRef:
    return RowRef((key,), "h")


def test_a_leaf_whose_counts_differ_without_a_one_sided_key_is_unexplained() -> None:
    differs = [Suspect(("1",), _ref("1"), RowRef(("1",), "other"))]
    one_sided = [Suspect(("2",), None, _ref("2"))]
    assert unexplained_leaves([(1, 2), (3, 3)], []) == 1
    assert unexplained_leaves([(1, 2), (2, 1)], differs) == 2
    assert unexplained_leaves([(1, 2)], one_sided) == 0
    assert unexplained_leaves([(3, 3)], differs) == 0


class MergedRows:
    """A side whose row hashes lose a row the checksums counted (two rows under one key text,
    before a side refused them): the bisection must count the leaf as unexplained."""

    leaf_batch = 8

    def child_checksums(
        self, segment: Segment, split: Split
    ) -> tuple[dict[int, Checksum], dict[int, Checksum]]:
        return {0: Checksum(1, 7)}, {0: Checksum(2, 14)}

    def row_hashes(
        self, segments: Sequence[Segment]
    ) -> tuple[dict[KeyText, RowRef], dict[KeyText, RowRef]]:
        return {("cd",): _ref("cd")}, {("cd",): _ref("cd")}


def test_the_bisection_counts_leaves_whose_rows_it_did_not_see() -> None:
    result = bisect(MergedRows(), [(Segment(0, 10), 10)], BisectConfig(threshold=5))
    assert result.suspects == []
    assert result.stats.unexplained_leaves == 1
