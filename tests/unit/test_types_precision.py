"""A decimal or timestamp with more fractional digits than its target column keeps is refused
by the converters (both databases would round it without a word); extra zero digits are kept."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping
from mysql_pg_sync.types import precision
from mysql_pg_sync.types.convert import to_mysql, to_pg

pytestmark = pytest.mark.unit


def _col(column_type: str, pg_type: str = "") -> ColumnMapping:
    return ColumnMapping.model_validate(
        {"name": "c", "column_type": column_type, **({"pg_type": pg_type} if pg_type else {})}
    )


def test_the_digits_each_target_keeps() -> None:
    price = _col("decimal(12,2)")
    assert (precision.kept_digits(price, True), precision.kept_digits(price, False)) == (2, 2)
    assert precision.kept_digits(_col("decimal(12,2)", "numeric"), True) is None
    assert precision.kept_digits(_col("decimal(12,2)", "text"), True) is None
    assert precision.kept_digits(_col("decimal(12)"), False) == 0
    assert precision.kept_digits(_col("datetime"), True) == 0
    assert precision.kept_digits(_col("datetime"), False) == 0
    assert precision.kept_digits(_col("datetime(6)"), True) == 6
    assert precision.kept_digits(_col("datetime(3)", "timestamp"), True) == 6
    assert precision.kept_digits(_col("timestamp(3)"), False) == 3
    assert precision.kept_digits(_col("int(11)"), True) is None


def test_a_decimal_with_more_places_than_the_target_keeps_is_refused_naming_the_column() -> None:
    price = _col("decimal(12,2)")
    assert to_pg(price, Decimal("1.23")) == Decimal("1.23")
    assert to_pg(price, Decimal("1.2300")) == Decimal("1.2300")  # the zeros lose nothing
    with pytest.raises(ConversionError, match=r"table t key \(id=1\): column 'c'.*numeric\(12,2\)"):
        to_pg(price, Decimal("1.2345"), where="table t key (id=1)")
    with pytest.raises(ConversionError, match=r"decimal\(12,2\) keeps \(2\).*retype"):
        to_mysql(price, Decimal("0.001"))
    assert to_pg(_col("decimal(12,2)", "numeric"), Decimal("1.2345")) == Decimal("1.2345")


def test_a_timestamp_with_more_fractional_digits_than_the_target_keeps_is_refused() -> None:
    whole = _col("datetime")
    at = dt.datetime(2026, 1, 2, 3, 4, 5)
    assert to_pg(whole, at) == at
    with pytest.raises(ConversionError, match=r"fractional-second digits.*timestamp\(0\)"):
        to_pg(whole, at.replace(microsecond=500_000))
    with pytest.raises(ConversionError, match="fractional-second digits"):
        to_mysql(_col("datetime(3)", "timestamp(6)"), at.replace(microsecond=1))
    assert to_mysql(_col("datetime(3)", "timestamp(6)"), at.replace(microsecond=1000)) == (
        at.replace(microsecond=1000)
    )
    with pytest.raises(ConversionError, match="fractional-second digits"):
        to_pg(whole, "2026-01-02 03:04:05.5")
    aware = at.replace(microsecond=7, tzinfo=dt.UTC)
    assert to_pg(_col("timestamp(6)"), aware) == aware


def test_the_quick_check_passes_only_values_that_surely_fit() -> None:
    check = precision.quick_check(_col("decimal(12,2)"), True)
    assert check is not None
    assert check(Decimal("1.5"))
    assert check(Decimal("12"))
    assert not check(Decimal("1.230"))  # the converter decides: it keeps it
    seconds = precision.quick_check(_col("datetime"), True)
    assert seconds is not None
    assert seconds(dt.datetime(2026, 1, 1))
    assert not seconds(dt.datetime(2026, 1, 1, microsecond=1))
    assert precision.quick_check(_col("datetime(6)"), True) is None
    assert precision.quick_check(_col("varchar(5)"), True) is None


def test_wide_values_and_nan_are_judged_without_an_arithmetic_error() -> None:
    """quantize() in the default 28-digit context raised InvalidOperation on a value with more
    integer digits, though its extra fractional digits were zeros (a crash of the batch)."""
    wide = Decimal("123456789012345678901234567.000000")
    assert precision.decimal_fits(wide, 4)
    assert not precision.decimal_fits(Decimal("123456789012345678901234567.000001"), 4)
    assert to_pg(_col("decimal(40,4)"), wide) == wide
    check = precision.quick_check(_col("decimal(12,2)"), True)
    assert check is not None
    assert check(Decimal("NaN"))  # no exponent: the converter decides


@pytest.mark.parametrize(
    ("column_type", "pg_type", "value", "to_postgres"),
    [
        ("time(6)", "time(0)", dt.timedelta(hours=12, microseconds=500_000), True),
        ("time(6)", "interval(3)", dt.timedelta(hours=1, microseconds=1), True),
        ("time", "interval", dt.timedelta(hours=1, microseconds=500_000), False),
        ("time(1)", "", dt.time(1, 0, 0, 50_000), False),
        ("time(2)", "interval", -dt.timedelta(microseconds=250_500), False),
    ],
)
def test_a_time_with_more_fractional_digits_than_the_target_keeps_is_refused(
    column_type: str, pg_type: str, value: object, to_postgres: bool
) -> None:
    column = _col(column_type, pg_type)
    convert = to_pg if to_postgres else to_mysql
    with pytest.raises(ConversionError, match=r"column 'c' .*fractional-second digits"):
        convert(column, value, where="table db.t key (id=1)")


def test_a_time_whose_extra_digits_are_zeros_or_that_fits_is_kept() -> None:
    assert to_pg(_col("time(6)", "time(0)"), dt.timedelta(hours=12)) == dt.time(12)
    assert to_mysql(_col("time(2)", "interval"), -dt.timedelta(microseconds=250_000)) == (
        "-00:00:00.250000"
    )
    assert to_mysql(_col("time", "interval"), dt.timedelta(hours=-838)) == "-838:00:00"
    assert precision.kept_digits(_col("time(3)"), True) == 3
    assert precision.kept_digits(_col("time", "interval"), True) == 6
    assert precision.kept_digits(_col("time(3)"), False) == 3


def test_text_with_trailing_spaces_toward_a_mysql_char_is_refused() -> None:
    char = _col("char(5)")
    check = precision.quick_check(char, False)
    assert check is not None
    assert check("ab")
    assert not check("ab ")
    assert precision.quick_check(char, True) is None  # MySQL's rows come without them
    assert precision.quick_check(_col("varchar(5)"), False) is None
    assert to_mysql(char, "ab") == "ab"
    with pytest.raises(ConversionError, match="MySQL's CHAR drops trailing spaces"):
        to_mysql(char, "ab ", where="table db.t key (id=1)")
    assert to_mysql(_col("varchar(5)"), "ab ") == "ab "
    # PostgreSQL's own char(n) pads its values: MySQL's CHAR ignores the padding alike
    padded = _col("char(5)", "char(5)")
    assert precision.quick_check(padded, False) is None
    assert to_mysql(padded, "ab   ") == "ab   "


def test_a_set_member_written_twice_is_refused() -> None:
    members = _col("set('a','b')")
    assert to_mysql(members, ["b", "a"]) == "b,a"
    with pytest.raises(ConversionError, match="SET member\\(s\\) 'a' appear more than once"):
        to_mysql(members, ["a", "b", "a"], where="table db.t key (id=1)")
