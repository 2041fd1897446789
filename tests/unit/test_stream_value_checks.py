"""The stream's value checks: values that cannot be carried are refused, naming the column,
never changed silently (tests/integration/test_stream_value_hunt.py has the end-to-end ones)."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from mysql_pg_sync.cdc.apply import _passes_unchanged, plan_for
from mysql_pg_sync.cdc.decode import field_decoder
from mysql_pg_sync.cdc.source_values import Suspect, find_suspects, suspect_columns
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.types import precision
from mysql_pg_sync.types.convert import to_mysql
from mysql_pg_sync.types.typemap import reinterpreting_pg_type


def col(column_type: str, **kw: Any) -> ColumnMapping:
    return ColumnMapping(name="c", column_type=column_type, **kw)


def f32(v: float) -> float:
    return float(struct.unpack("f", struct.pack("f", v))[0])


# -- PostgreSQL numeric as text (decimal.handling.mode=string) -------------------------------


@pytest.mark.parametrize(
    ("text", "want"),
    [("1.50", Decimal("1.50")), ("1E+3", Decimal("1E+3")), ("1E-7", Decimal("1E-7"))],
)
def test_a_numeric_sent_as_text_is_read_exactly(text: str, want: Decimal) -> None:
    got = to_mysql(col("decimal(30,10)"), text)
    assert got == want
    assert str(got) == str(want)


def test_a_wide_numeric_sent_as_text_keeps_every_digit() -> None:
    text = "1." + "9" * 30
    assert to_mysql(col("decimal(65,30)"), text) == Decimal(text)


@pytest.mark.parametrize("text", ["NAN", "POSITIVE_INFINITY", "NEGATIVE_INFINITY"])
def test_a_numeric_nan_or_infinity_is_refused_naming_the_column(text: str) -> None:
    with pytest.raises(ConversionError, match=r"column 'c'.*NaN or an infinity"):
        to_mysql(col("decimal(10,2)"), text, where="table t key (id=1)")


def test_a_numeric_with_more_places_than_mysql_keeps_is_refused() -> None:
    with pytest.raises(ConversionError, match="decimal places"):
        to_mysql(col("decimal(10,2)"), "1.005")


def test_a_bigint_unsigned_sent_as_text() -> None:
    column = col("bigint(20) unsigned")
    assert to_mysql(column, str(2**64 - 1)) == 2**64 - 1
    with pytest.raises(ConversionError):
        to_mysql(column, "1.5")
    with pytest.raises(ConversionError):
        to_mysql(column, "NAN")


# -- floats ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize(("column_type", "pg_type"), [("double", ""), ("float", "")])
def test_a_non_finite_float_is_refused(value: Any, column_type: str, pg_type: str) -> None:
    with pytest.raises(ConversionError, match="NaN or an infinity"):
        to_mysql(col(column_type, pg_type=pg_type or None), value)


def test_a_non_finite_double_does_not_pass_unconverted() -> None:
    assert _passes_unchanged("float64", 1.5)
    assert not _passes_unchanged("float64", math.nan)
    assert not _passes_unchanged("float64", math.inf)


def test_a_real_keeps_its_float32() -> None:
    # the JSON converter prints a real shortest: read as a double it is another number
    assert to_mysql(col("float"), 0.1) == f32(0.1)
    assert to_mysql(col("float"), -3.4028235e38) == f32(-3.4028235e38)


@pytest.mark.parametrize("value", [0.1, 16777217.0, 1e300])
def test_a_double_a_mysql_float_cannot_hold_is_refused(value: float) -> None:
    column = col("float", pg_type="double precision")
    with pytest.raises(ConversionError, match=r"column 'c'.*float32"):
        to_mysql(column, value)


def test_a_double_a_mysql_float_holds_passes() -> None:
    column = col("float", pg_type="double precision")
    assert to_mysql(column, 0.5) == 0.5
    assert to_mysql(column, f32(0.1)) == f32(0.1)


def test_a_float32_field_decodes_to_the_float32_java_printed() -> None:
    decode = field_decoder({"type": "float", "optional": True}, "mysql")
    assert decode is not None
    assert decode(0.1) == f32(0.1)
    assert decode(3.4028235e38) == f32(3.4028235e38)
    assert decode("NaN") == "NaN"  # the converter refuses it


# -- values ddl's CHECKs would refuse ---------------------------------------------------------


def test_bytes_of_another_length_for_a_binary_n_are_refused() -> None:
    column = col("binary(4)")
    assert to_mysql(column, b"abcd") == b"abcd"
    with pytest.raises(ConversionError, match=r"column 'c'.*2 byte\(s\)"):
        to_mysql(column, b"ab")
    check = precision.quick_check(column, to_pg=False)
    assert check is not None
    assert check(b"abcd")
    assert not check(b"ab")
    assert precision.quick_check(col("varbinary(4)"), to_pg=False) is None
    assert to_mysql(col("varbinary(4)"), b"ab") == b"ab"


def test_a_set_element_that_is_no_member_or_holds_a_comma_is_refused() -> None:
    column = col("set('a','b','c')")
    assert to_mysql(column, ["a", "b"]) == "a,b"
    with pytest.raises(ConversionError, match=r"'a,b'"):
        to_mysql(column, ["a,b"])
    with pytest.raises(ConversionError, match=r"'d'"):
        to_mysql(column, ["d"])


# -- values Debezium changed: looked up in MySQL ------------------------------------------------


def test_suspect_columns_are_decided_per_column() -> None:
    columns = [
        col("enum('','a')"),
        ColumnMapping(name="e2", column_type="enum('a','b')"),
        ColumnMapping(name="u", column_type="varchar(10)"),
        ColumnMapping(name="l", column_type="varchar(10)", charset="latin1"),
        ColumnMapping(name="a", column_type="varchar(10)", charset="ascii"),
        ColumnMapping(name="i", column_type="int"),
    ]
    found = {s.column: s for s in suspect_columns(columns)}
    assert set(found) == {"c", "u", "a"}
    assert found["c"].enum
    assert found["a"].codec == "ascii"


class FakeLookup:
    """Stands for MySQL's rows (PartialZeroDates.values): key -> the looked-up expressions."""

    def __init__(self, rows: dict[Any, tuple[Any, ...]]) -> None:
        self.rows = rows
        self.calls: list[Sequence[Sequence[Any]]] = []

    def values(
        self,
        db: str,
        table: str,
        key: Sequence[str],
        keys: Sequence[Sequence[Any]],
        expressions: Sequence[str],
    ) -> dict[int, tuple[Any, ...]]:
        self.calls.append(keys)
        return {i: self.rows[k[0]] for i, k in enumerate(keys) if k[0] in self.rows}


def test_only_suspect_values_are_looked_up_and_bad_ones_named() -> None:
    suspects = (Suspect("e", enum=True), Suspect("u", enum=False, codec="utf-8"))
    # looked-up columns come sorted: e, u
    lookup = FakeLookup({2: (0, "6F6B"), 3: (1, "EDA080"), 4: (1, "EFBFBD")})
    images: list[dict[str, Any] | None] = [
        {"id": 1, "e": "a", "u": "fine"},
        {"id": 2, "e": "", "u": "x"},
        {"id": 3, "e": "", "u": "\ufffd"},
        {"id": 4, "e": "a", "u": "\ufffd"},  # a real U+FFFD, stored as EF BF BD
        None,  # a delete
    ]
    found = find_suspects(
        lookup,  # type: ignore[arg-type]
        "db",
        "t",
        ("id",),
        suspects,
        images,
        lambda i: [images[i]["id"]],  # type: ignore[index]
    )
    assert [list(k) for k in lookup.calls[0]] == [[2], [3], [4]]
    assert found[1][0] == "e"
    assert "index 0" in found[1][1]
    assert found[2][0] == "u"
    assert "not valid utf-8" in found[2][1]
    assert set(found) == {1, 2}


def test_no_lookup_without_suspect_values() -> None:
    lookup = FakeLookup({})
    images: list[dict[str, Any] | None] = [{"id": 1, "u": "plain"}]
    suspects = (Suspect("u", enum=False, codec="utf-8"),)
    found = find_suspects(lookup, "db", "t", ("id",), suspects, images, lambda i: [1])  # type: ignore[arg-type]
    assert found == {}
    assert lookup.calls == []


# -- a hand-set pg_type of another kind ---------------------------------------------------------


@pytest.mark.parametrize(
    ("column_type", "pg_type"),
    [
        ("blob", "text"),
        ("varbinary(10)", "varchar(10)"),
        ("varchar(20)", "bytea"),
        ("enum('a')", "bytea"),
        ("bigint", "double precision"),
        ("int", "real"),
        ("decimal(20,10)", "real"),
        ("decimal(10,2)", "double precision"),
        ("bigint(20) unsigned", "double precision"),
        ("double", "real"),
        ("set('a','b')", "text"),
    ],
)
def test_a_pg_type_that_reads_values_anew_is_refused(column_type: str, pg_type: str) -> None:
    assert reinterpreting_pg_type(column_type, pg_type) is not None


@pytest.mark.parametrize(
    ("column_type", "pg_type"),
    [
        ("blob", "bytea"),
        ("binary(16)", "uuid"),
        ("varchar(20)", "text"),
        ("int", "double precision"),
        ("smallint", "real"),
        ("int", "bigint"),
        ("decimal(10,0)", "double precision"),
        ("decimal(10,2)", "numeric(12,2)"),
        ("float", "double precision"),
        ("double", "numeric"),
        ("set('a','b')", "text[]"),
        ("enum('a')", "my_enum"),
        ("time", "interval"),
        ("tinyint(1)", "smallint"),
    ],
)
def test_a_pg_type_of_the_same_kind_is_kept(column_type: str, pg_type: str) -> None:
    assert reinterpreting_pg_type(column_type, pg_type) is None


def test_the_plan_names_a_refused_column_once() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": {"db": "db", "table": "t"},
            "target": {"schema": "public", "table": "t"},
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int"},
                {"name": "c", "column_type": "blob", "pg_type": "text"},
            ],
        }
    )
    plan = plan_for(mapping, "mysql", pg_dialect)
    assert set(plan.refused) == {"c"}
    assert "'c'" in plan.refused["c"]
    assert "blob" in plan.refused["c"]
    assert "'bytea'" in plan.refused["c"]  # the fix: the type map's type
