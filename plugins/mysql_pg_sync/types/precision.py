"""Whether a decimal, a timestamp or a time fits the digits its target column keeps (pure).

Both databases round a value with more fractional digits than the column keeps, without an
error: a MySQL column retyped from decimal(12,2) to decimal(12,4) while the table streams would
reach PostgreSQL's numeric(12,2) rounded, 1.2345 as 1.23, and nobody would know. The stream
checks each such value against the target's scale or fractional-second precision; extra digits
that are all zeros are no loss. A TIME is no different: MariaDB cuts '01:00:00.5' into a TIME(0)
with only a note, even in strict mode, and PostgreSQL's time(0) rounds it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mysql_pg_sync.json_values import EXACT
from mysql_pg_sync.mapping.models import ColumnMapping
from mysql_pg_sync.types.typemap import parse_column_type, pg_precision

DATETIME_KINDS = frozenset({"datetime", "timestamp"})
TIME_KINDS = frozenset({"time", "interval"})  # a MySQL TIME as PostgreSQL time or interval
RETYPE_FIX = (
    "MySQL's or PostgreSQL's column may have been retyped: update the mapping (`make "
    "mappings-generate` reports the new type), retype the other side's column to match, then "
    "retry the dead letters (`dead-letters retry --table <table>`)"
)


@functools.lru_cache(maxsize=1024)
def _pg_kept(pg_type: str, kind: str) -> int | None:
    pg = pg_type.strip().lower()
    args = pg_precision(pg)
    if kind == "decimal":
        if not pg.startswith(("numeric", "decimal")):
            return None
        return args[1] if len(args) >= 2 else (0 if args else None)  # numeric: any scale
    if kind in TIME_KINDS:
        if not pg.startswith(("time", "interval")) or pg.startswith("timestamp"):
            return None
        return args[0] if args else 6  # time(p), interval(p) or interval second(p)
    if not pg.startswith("timestamp"):
        return None
    return args[0] if args else 6


@functools.lru_cache(maxsize=1024)
def _mysql_kept(column_type: str, kind: str) -> int | None:
    args = parse_column_type(column_type).args
    if kind == "decimal":
        return args[1] if len(args) >= 2 else 0  # MySQL's DECIMAL(p) and DECIMAL have scale 0
    return args[0] if args else 0  # DATETIME, TIMESTAMP and TIME keep whole seconds by default


def kept_digits(column: ColumnMapping, to_pg: bool) -> int | None:
    """The fractional digits the target column keeps (a decimal's scale, a timestamp's or a
    time's fractional-second precision), or None when it keeps any number or the kind has
    none."""
    if column.kind != "decimal" and column.kind not in DATETIME_KINDS | TIME_KINDS:
        return None
    if to_pg:
        return _pg_kept(column.pg_type, column.kind)
    return _mysql_kept(column.column_type, column.kind)


def decimal_fits(value: Decimal, scale: int) -> bool:
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent >= -scale:  # NaN and infinities have none
        return True
    # every digit kept: the default context's 28 digits raise on wide values that fit
    return value == value.quantize(Decimal(1).scaleb(-scale), context=EXACT)


def datetime_fits(value: dt.datetime, fsp: int) -> bool:
    return fsp >= 6 or value.microsecond % 10 ** (6 - fsp) == 0


def time_fits(value: dt.timedelta | dt.time, fsp: int) -> bool:
    # a negative timedelta's microseconds count up from the second below (-0.25 s is -1 s +
    # 750000 us), and 10**6 - f is a multiple of the step exactly when f is
    micros = value.microseconds if isinstance(value, dt.timedelta) else value.microsecond
    return fsp >= 6 or micros % 10 ** (6 - fsp) == 0


def fits(kind: str, value: Any, kept: int) -> bool:
    if kind == "decimal":
        return not isinstance(value, Decimal) or decimal_fits(value, kept)
    if kind in TIME_KINDS:
        return not isinstance(value, dt.timedelta | dt.time) or time_fits(value, kept)
    return not isinstance(value, dt.datetime) or datetime_fits(value, kept)


@functools.lru_cache(maxsize=1024)
def loses_trailing_spaces(column_type: str, pg_type: str) -> bool:
    """A MySQL CHAR(n), which reads its values back without their trailing spaces, synced with
    a PostgreSQL type that keeps them (varchar, text): 'ab ' written in PostgreSQL would come
    back from MySQL as 'ab'. PostgreSQL's own char(n) pads and ignores them alike."""
    pg = pg_type.strip().lower()
    keeps = pg.startswith(("varchar", "character varying", "text"))
    return keeps and parse_column_type(column_type).base == "char"


def _no_trailing_space(value: Any) -> bool:
    return not value.endswith(" ")


@functools.lru_cache(maxsize=1024)
def fixed_binary_length(column_type: str) -> int | None:
    """The length of a MySQL BINARY(n), which pads a shorter value with zero bytes; None for
    any other type."""
    parsed = parse_column_type(column_type)
    if parsed.base != "binary":
        return None
    return parsed.args[0] if parsed.args else 1


def quick_check(column: ColumnMapping, to_pg: bool) -> Callable[[Any], bool] | None:
    """For a value the stream passes on unconverted: True when it surely fits the target (a
    cheap test per value); False sends it through the converter, which decides. None: any
    value fits. Besides digits: text toward a MySQL CHAR, which drops trailing spaces, and bytes
    toward a MySQL BINARY(n), which pads them."""
    if (
        not to_pg
        and column.kind == "text"
        and loses_trailing_spaces(column.column_type, column.pg_type)
    ):
        return _no_trailing_space
    if not to_pg and column.kind == "bytes":
        length = fixed_binary_length(column.column_type)
        if length is not None:
            return lambda v: len(v) == length  # another length: the converter refuses it
    kept = kept_digits(column, to_pg)
    if kept is None or column.kind in TIME_KINDS or (column.kind in DATETIME_KINDS and kept >= 6):
        return None  # a time never passes unconverted: its converter checks it
    if column.kind == "decimal":
        least = -kept

        def surely_fits(v: Any) -> bool:
            exponent = v.as_tuple().exponent
            return not isinstance(exponent, int) or exponent >= least  # NaN: the converter

        return surely_fits
    step = 10 ** (6 - kept)
    return lambda v: v.microsecond % step == 0


def too_precise_why(kind: str, kept: int, target_type: str) -> str:
    if kind == "decimal":
        return f"more decimal places than the target's {target_type} keeps ({kept}): it would round"
    return (
        f"more fractional-second digits than the target's {target_type} keeps ({kept}): it would "
        "round"
    )
