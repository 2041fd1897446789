"""Vectorized PostgreSQL -> MySQL conversion of Arrow tables (a backfill of a pg_to_mysql table).

The reader selects :func:`select_list` (the PostgreSQL dialect's read expressions) with ADBC;
:func:`to_mysql_table` turns what ADBC returns (numeric as an opaque string, ``arrow.json``,
``month_day_nano_interval``, ``timestamp[us, UTC]``, ``list<string>``) into values mysqlclient
writes unchanged, named by the MySQL columns. Rare types (bit strings, uuid, interval) are
converted per value; everything else stays in Arrow kernels.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.types.arrow import single_array
from mysql_pg_sync.types.convert import format_mysql_time, null_to_mysql
from mysql_pg_sync.types.typemap import parse_column_type

_NANOS_PER_DAY = 86_400 * 10**9
_MIN_DATE, _MAX_DATE = dt.date(1, 1, 1), dt.date(9999, 12, 31)
_MIN_DATETIME = dt.datetime(1, 1, 1)
_MAX_DATETIME = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)


def select_list(mapping: TableMapping) -> str:
    """The SELECT list (synced columns, PostgreSQL names) an ADBC reader must use."""
    return ", ".join(
        pg_dialect.arrow_read_expression(c.pg_name, c.kind) for c in mapping.synced_columns()
    )


def _storage(a: pa.Array) -> pa.Array:
    return a.storage if isinstance(a, pa.ExtensionArray) else a


def _bool(a: pa.Array, c: ColumnMapping) -> pa.Array:
    return a.cast(pa.int8())


def _same(a: pa.Array, c: ColumnMapping) -> pa.Array:
    return _storage(a)


def _set(a: pa.Array, c: ColumnMapping) -> pa.Array:
    return pc.binary_join(a, ",")


def _uuid(a: pa.Array, c: ColumnMapping) -> pa.Array:
    values = [None if v is None else uuid.UUID(str(v)).bytes for v in _storage(a).to_pylist()]
    return pa.array(values, pa.binary())


def _bits(a: pa.Array, c: ColumnMapping) -> pa.Array:
    n = (parse_column_type(c.column_type).args or (1,))[0]
    size = (n + 7) // 8
    values = [None if v is None else int(v, 2).to_bytes(size, "big") for v in a.to_pylist()]
    return pa.array(values, pa.binary())


def _in_mysql_range(a: pa.Array) -> pa.Array:
    """False where a date/timestamp is outside year 1..9999: PostgreSQL's +-infinity arrive
    from ADBC as extreme values (+infinity even wraps around to a negative one)."""
    if pa.types.is_date(a.type):
        low, high = pa.scalar(_MIN_DATE, a.type), pa.scalar(_MAX_DATE, a.type)
    else:
        low = pa.scalar(_MIN_DATETIME, pa.timestamp("us")).cast(a.type)
        high = pa.scalar(_MAX_DATETIME, pa.timestamp("us")).cast(a.type)
    return pc.and_(pc.greater_equal(a, low), pc.less_equal(a, high))


def _temporal(a: pa.Array, c: ColumnMapping) -> pa.Array:
    bad = pc.invert(_in_mysql_range(a)).fill_null(False)
    if pc.any(bad).as_py():
        raise _OutOfRange(bad)
    if pa.types.is_timestamp(a.type) and a.type.tz is not None:
        return a.cast(pa.timestamp("us"))  # UTC instants -> UTC wall clock (sessions at UTC)
    return a


class _OutOfRange(Exception):
    def __init__(self, mask: pa.Array) -> None:
        super().__init__("out of range")
        self.mask = mask


def _interval(a: pa.Array, c: ColumnMapping) -> pa.Array:
    texts: list[str | None] = []
    for value in a.to_pylist():
        if value is None:
            texts.append(None)
            continue
        if value.months:
            raise ConversionError(
                f"column {c.pg_name!r}: interval {value} has months, which MySQL TIME cannot "
                "hold; fix the row in PostgreSQL"
            )
        nanos = value.days * _NANOS_PER_DAY + value.nanoseconds
        texts.append(format_mysql_time(pa.scalar(nanos // 1000, pa.duration("us")).as_py()))
    return pa.array(texts, pa.string())


def _geometry(a: pa.Array, c: ColumnMapping) -> pa.Array:
    srid = pa.scalar(b"\x00\x00\x00\x00", pa.binary())  # MySQL's internal format: SRID + WKB
    return pc.binary_join_element_wise(srid, a.cast(pa.binary()), pa.scalar(b"", pa.binary()))


_REVERSE: dict[str, Callable[[pa.Array, ColumnMapping], pa.Array]] = {
    "bool": _bool,
    "bit1": _bool,
    "int": _same,
    "year": _same,
    "uint64": _same,  # numeric arrives as exact text; MySQL parses it
    "decimal": _same,
    "float32": _same,
    "float64": _same,
    "text": _same,
    "enum": _same,
    "inet": _same,
    "native_uuid": _same,
    "set": _set,
    "json": _same,
    "bytes": _same,
    "geometry": _geometry,
    "uuid": _uuid,
    "bits": _bits,
    "date": _temporal,
    "datetime": _temporal,
    "timestamp": _temporal,
    "time": _same,
    "interval": _interval,
}


def _zero_for_null(a: pa.Array, zero: str) -> pa.Array:
    """NULLs of a NOT NULL MySQL date column as its zero date (convert.zero_date_as_null)."""
    if not a.null_count:
        return a
    return pc.if_else(pc.is_null(a), pa.scalar(zero), a.cast(pa.string()))


def to_mysql_table(mapping: TableMapping, table: pa.Table) -> pa.Table:
    """Convert a table read with :func:`select_list` into MySQL values and column names."""
    arrays = []
    names = []
    for column in mapping.synced_columns():
        raw = single_array(table.column(column.pg_name))
        try:
            converted = _REVERSE[column.kind](raw, column)
            zero = null_to_mysql(column, mapping.values)
            arrays.append(converted if zero is None else _zero_for_null(converted, zero))
        except _OutOfRange as exc:
            index = pc.index(exc.mask, True).as_py()
            key = table.select(list(mapping.pg_key)).slice(index, 1).to_pylist()[0]
            shown = ", ".join(f"{k}={v!r}" for k, v in key.items())
            raise ConversionError(
                f"table {mapping.target} key ({shown}): column {column.pg_name!r}: infinite or "
                "out-of-range date, which MySQL cannot hold (zero-date sentinels are carried "
                "by the row-by-row path only); fix the row or copy the table row by row"
            ) from None
        names.append(column.name)
    return pa.Table.from_arrays(arrays, names=names)
