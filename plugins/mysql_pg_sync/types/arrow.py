"""Vectorized MySQL -> PostgreSQL conversion of Arrow tables, for the backfill.

The reader selects :func:`select_list` (the MySQL dialect's read expressions, so connectorx can
read every value), and :func:`to_pg_table` turns what connectorx returns (``decimal128(38,10)``,
``int8`` for tinyint(1), ``timestamp[us]``, text for dates, microseconds for TIME) into the
PostgreSQL column types, renamed to the PostgreSQL names. Same rules as :mod:`.convert`: NUL
bytes stripped and counted or an error naming the row's key; zero dates NULL (or a sentinel
that Arrow can represent), a partial zero date an error; TIME outside a day only into
``interval``. A value the target would change fails too, naming its row: a date in year 0,
fractional seconds the target's precision rounds, MySQL's invalid enum value, a geometry's
SRID, bytes the column's character set does not allow (text read as bytes).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import struct
import uuid
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.json_values import duplicate_key
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping, ValuePolicy
from mysql_pg_sync.types import precision
from mysql_pg_sync.types.convert import (
    ENUM_INDEX_ZERO_FIX,
    ENUM_INDEX_ZERO_WHY,
    GEOMETRY_SRID_FIX,
    JSON_NUL_FIX,
    JSON_NUL_WHY,
    JSON_REPEATED_KEY_FIX,
    KEY_ZERO_FIX,
    KEY_ZERO_WHY,
    PARTIAL_ZERO_FIX,
    PARTIAL_ZERO_WHY,
    UNDECODABLE_FIX,
    YEAR_ZERO_WHY,
    Stats,
    geometry_srid_why,
    json_repeated_key_why,
    keeps_json_nul,
    keeps_last_of_repeated_key,
)
from mysql_pg_sync.types.json_keys import rows_with_duplicate_keys
from mysql_pg_sync.types.typemap import parse_column_type, pg_precision

Wire = Literal["binary", "text"]
_INT_TYPES = {
    **dict.fromkeys(("smallint", "int2"), pa.int16()),
    **dict.fromkeys(("integer", "int", "int4"), pa.int32()),
    **dict.fromkeys(("bigint", "int8"), pa.int64()),
}
_MICROS_PER_DAY = 86_400_000_000
_ZERO_PART_RE = r"^\d{4}-(00-|\d\d-00)"  # a zero month or day, MySQL's zero date included
_ZERO_DATE_RE = r"^0000-00-00( 00:00:00(\.0+)?)?$"  # MySQL's zero date itself
_FIRST_DAY = dt.date(1, 1, 1)  # typemap.DATE_RANGE: PostgreSQL's year 0 is 1 BC
_FIRST_INSTANT = dt.datetime(1, 1, 1)
_NO_SRID = b"\x00\x00\x00\x00"
FRACTION_FIX = (
    "widen the PostgreSQL column to keep MySQL's fractional seconds (ALTER TABLE ... TYPE "
    "timestamp(6) / time(6)) and set the mapping's pg_type to match (`make mappings-generate` "
    "reports MySQL's current type), then resume; or trim the value in MySQL"
)


def select_list(mapping: TableMapping, *, fallback: bool = False) -> str:
    """The SELECT list (synced columns, MySQL names) the Arrow reader must use; ``fallback``:
    the mysqlclient reader's (see :func:`mysql_dialect.arrow_read_expression`)."""
    return ", ".join(
        mysql_dialect.arrow_read_expression(
            c.name,
            c.kind,
            parse_column_type(c.column_type).args,
            members=c.values,
            charset=c.charset,
            fallback=fallback,
        )
        for c in mapping.synced_columns()
    )


class _Col:
    """One column being converted: its mapping, policy, and the key columns for errors."""

    def __init__(
        self,
        mapping: TableMapping,
        column: ColumnMapping,
        keys: pa.Table,
        stats: Stats | None,
        wire: Wire,
    ) -> None:
        self.wire = wire
        self.mapping = mapping
        self.column = column
        self.policy: ValuePolicy = mapping.values
        self.keys = keys
        self.stats = stats

    def fail(self, mask: pa.Array, why: str, fix: str) -> ConversionError:
        index = pc.index(mask.fill_null(False), True).as_py()
        row = self.keys.slice(index, 1).to_pylist()[0] if index >= 0 else {}
        key = ", ".join(f"{k}={v!r}" for k, v in row.items())
        count = pc.sum(mask.fill_null(False).cast(pa.int64())).as_py()
        return ConversionError(
            f"table {self.mapping.name} key ({key}): column {self.column.name!r} "
            f"({self.column.column_type} -> {self.column.pg_type}): {why} "
            f"({count} row(s) in this chunk); {fix}"
        )

    def count(self, what: str, n: int) -> None:
        if self.stats is not None and n:
            setattr(self.stats, what, getattr(self.stats, what) + n)
            label = f"{what}:{self.column.name}"
            self.stats.by_column[label] = self.stats.by_column.get(label, 0) + n


def _bool(a: pa.Array, c: _Col) -> pa.Array:
    if pa.types.is_binary(a.type) or pa.types.is_large_binary(a.type):  # bit(1)
        return pc.not_equal(a, pa.scalar(b"\x00", a.type))
    bad = pc.and_(pc.invert(pc.is_in(a, pa.array([0, 1], a.type))), pc.is_valid(a))
    if pc.any(bad.fill_null(False)).as_py():
        raise c.fail(bad, "tinyint(1) holds a value other than 0/1", "set pg_type: smallint")
    return pc.not_equal(a, pa.scalar(0, a.type))


def _int(a: pa.Array, c: _Col) -> pa.Array:
    base = c.column.pg_type.split("(")[0].strip().lower()
    return a.cast(_INT_TYPES.get(base, pa.int64()))


def _decimal(a: pa.Array, c: _Col) -> pa.Array:
    precision, scale = (*pg_precision(c.column.pg_type), 38, 0)[:2]
    if c.column.kind == "uint64":
        precision, scale = 20, 0
    target = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
    return a.cast(target)


def _float(a: pa.Array, c: _Col) -> pa.Array:
    return a.cast(pa.float32() if c.column.kind == "float32" else pa.float64())


def _holds_nul_byte(a: pa.Array) -> bool:
    """True when some value of a (large) string array holds a NUL byte: one memchr over the
    values' bytes instead of a per-value substring count (a fifth of a chunk's conversion)."""
    if len(a) == 0:
        return False
    offsets, data = a.buffers()[1], a.buffers()[2]
    if data is None:
        return False
    width = 8 if pa.types.is_large_string(a.type) or pa.types.is_large_binary(a.type) else 4
    bounds = memoryview(offsets).cast("q" if width == 8 else "i")
    start, end = bounds[a.offset], bounds[a.offset + len(a)]
    return memoryview(data)[start:end].tobytes().find(b"\x00") >= 0


def _is_binary(a: pa.Array) -> bool:
    return pa.types.is_binary(a.type) or pa.types.is_large_binary(a.type)


def _decoded(a: pa.Array, c: _Col) -> pa.Array:
    """Text read as its stored bytes (:func:`mysql_dialect.text_read_as_bytes`) as text; bytes
    that are not valid in the column's character set fail, naming the row."""
    charset = (c.column.charset or "utf8mb4").lower()
    why = f"bytes that are not valid {charset} text, which PostgreSQL cannot hold as text"
    try:
        text = a.cast(pa.large_string())  # validates UTF-8 (surrogates included)
    except pa.ArrowInvalid:
        raise c.fail(_undecodable(a), why, UNDECODABLE_FIX) from None
    if charset == "ascii":
        bad = pc.invert(pc.string_is_ascii(text)).fill_null(False)
        if pc.any(bad).as_py():
            raise c.fail(bad, why, UNDECODABLE_FIX)
    return text


def _undecodable(a: pa.Array) -> pa.Array:
    """Which values are not UTF-8; per value, only once a batch failed to decode."""
    bad = []
    for value in a.to_pylist():
        try:
            if value is not None:
                value.decode("utf-8")
            bad.append(False)
        except UnicodeDecodeError:
            bad.append(True)
    return pa.array(bad, pa.bool_())


def _text(a: pa.Array, c: _Col) -> pa.Array:
    a = _decoded(a, c) if _is_binary(a) else a.cast(pa.large_string())
    if not _holds_nul_byte(a):
        return a
    has_nul = pc.greater(pc.count_substring(a, "\x00"), 0)
    if c.policy.nul_bytes == "strip":
        c.count("nul_bytes_stripped", pc.sum(has_nul.cast(pa.int64())).as_py() or 0)
        return pc.replace_substring(a, "\x00", "")
    raise c.fail(
        has_nul,
        "text holds NUL bytes, which PostgreSQL rejects",
        "clean the row in MySQL, or set values.nul_bytes: strip in the mapping",
    )


def _enum(a: pa.Array, c: _Col) -> pa.Array:
    if mysql_dialect.enum_read_carries_index(c.column.values):
        a = _enum_text(a, c)
    a = _text(a, c)
    if c.column.values:
        members = pa.array(c.column.values, pa.large_string())
        bad = pc.and_(pc.invert(pc.is_in(a, members)), pc.is_valid(a))
        if pc.any(bad).as_py():
            raise c.fail(
                bad,
                "value is not a member of the enum",
                "fix the row in MySQL, or add the value to the column's enum type",
            )
    return a


def _enum_text(a: pa.Array, c: _Col) -> pa.Array:
    """The text of an enum read as "<index>:<text>"; index 0 (MySQL's invalid value) fails."""
    parts = pc.split_pattern(
        a.cast(pa.large_string()), mysql_dialect.ENUM_INDEX_SEPARATOR, max_splits=1
    )
    invalid = pc.equal(pc.list_element(parts, 0), "0").fill_null(False)
    if pc.any(invalid).as_py():
        raise c.fail(invalid, ENUM_INDEX_ZERO_WHY, ENUM_INDEX_ZERO_FIX)
    return pc.list_element(parts, 1)


def _set(a: pa.Array, c: _Col) -> pa.Array:
    a = _text(a, c)
    split = pc.split_pattern(a, ",")
    empty = pa.scalar([], split.type)
    return pc.if_else(pc.equal(a, ""), empty, split)


def _json(a: pa.Array, c: _Col) -> pa.Array:
    a = _decoded(a, c) if _is_binary(a) else a.cast(pa.large_string())
    bad = pc.match_substring(a, "\\u0000")
    if not keeps_json_nul(c.column.pg_type) and pc.any(bad.fill_null(False)).as_py():
        raise c.fail(bad, JSON_NUL_WHY, JSON_NUL_FIX)
    if keeps_last_of_repeated_key(c.column.pg_type):
        _refuse_repeated_keys(a, c)
    if c.wire == "binary" and c.column.pg_type.strip().lower() == "jsonb":
        # jsonb's binary COPY format is a version byte (1) followed by the JSON text
        version = pa.scalar(b"\x01", pa.large_binary())
        separator = pa.scalar(b"", pa.large_binary())
        return pc.binary_join_element_wise(version, a.cast(pa.large_binary()), separator)
    return a


def _refuse_repeated_keys(a: pa.Array, c: _Col) -> None:
    rows = rows_with_duplicate_keys(a)
    if rows:
        mask = np.zeros(len(a), bool)
        mask[rows] = True
        key = duplicate_key(a[rows[0]].as_py()) or ""
        raise c.fail(pa.array(mask), json_repeated_key_why(key), JSON_REPEATED_KEY_FIX)


def _bytes(a: pa.Array, c: _Col) -> pa.Array:
    return a.cast(pa.large_binary())


def _geometry(a: pa.Array, c: _Col) -> pa.Array:
    """MySQL's SRID + WKB (the read expression) as WKB; a non-zero SRID, which a WKB bytea
    cannot keep, fails."""
    a = a.cast(pa.large_binary())
    srid = pc.binary_slice(a, 0, 4)
    bad = pc.not_equal(srid, pa.scalar(_NO_SRID, srid.type)).fill_null(False)
    if pc.any(bad).as_py():
        first = srid.filter(bad)[0].as_py()
        raise c.fail(bad, geometry_srid_why(int.from_bytes(first, "little")), GEOMETRY_SRID_FIX)
    return without_prefix(a, len(_NO_SRID))


def without_prefix(a: pa.Array, size: int) -> pa.Array:
    """Each value of a large_binary array without its first ``size`` bytes, which every
    non-null value has: one copy of the bytes, in numpy (``pc.binary_slice`` without a stop,
    or with a far one, overflows its size estimate in pyarrow 26)."""
    if a.null_count == len(a):
        return a  # pa.nulls() has no offsets buffer
    offsets = np.frombuffer(a.buffers()[1], np.int64)[a.offset : a.offset + len(a) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    data = a.buffers()[2]
    values = (
        np.frombuffer(data, np.uint8)[first:last] if data is not None else np.empty(0, np.uint8)
    )
    valid = a.is_valid().to_numpy(zero_copy_only=False)
    keep = np.ones(last - first, bool)
    keep[((offsets[:-1][valid] - first)[:, None] + np.arange(size)).ravel()] = False
    dropped = np.concatenate(([0], np.cumsum(valid, dtype=np.int64) * size))
    new_offsets = (offsets - first - dropped).astype(np.int64)
    validity = a.is_valid().buffers()[1] if a.null_count else None
    return pa.Array.from_buffers(
        pa.large_binary(),
        len(a),
        [validity, pa.py_buffer(new_offsets), pa.py_buffer(values[keep])],
        null_count=a.null_count,
    )


def _uuid_from_binary(a: pa.Array, c: _Col) -> pa.Array:
    bad = pc.not_equal(pc.binary_length(a), 16)
    if pc.any(bad.fill_null(False)).as_py():
        raise c.fail(bad, "binary(16) uuid is not 16 bytes", "fix the row or map it to bytea")
    return a.cast(pa.binary(16)).cast(pa.uuid())


def _uuid_from_text(a: pa.Array, c: _Col) -> pa.Array:
    values = [None if v is None else uuid.UUID(v).bytes for v in a.to_pylist()]  # rare type
    return pa.array(values, pa.binary(16)).cast(pa.uuid())


def _bits(a: pa.Array, c: _Col) -> pa.Array:
    n = (parse_column_type(c.column.column_type).args or (1,))[0]
    numbers = [None if v is None else int.from_bytes(v, "big") for v in a.to_pylist()]  # rare
    if c.wire == "binary":  # varbit's binary format: bit count, then the bits left-aligned
        size = (n + 7) // 8
        pad = size * 8 - n
        wire = [
            None if v is None else struct.pack(">i", n) + (v << pad).to_bytes(size, "big")
            for v in numbers
        ]
        return pa.array(wire, pa.large_binary())
    return pa.array(
        [None if v is None else format(v, f"0{n}b") for v in numbers], pa.large_string()
    )


def _inet(a: pa.Array, c: _Col) -> pa.Array:
    a = _text(a, c)
    if c.wire != "binary":
        return a
    wire: list[bytes | None] = []
    for text in a.to_pylist():  # MariaDB inet4/inet6 only; per value is fine
        if text is None:
            wire.append(None)
            continue
        address = ipaddress.ip_address(text)
        family = 2 if address.version == 4 else 3  # PGSQL_AF_INET / PGSQL_AF_INET6
        packed = address.packed
        wire.append(bytes([family, len(packed) * 8, 0, len(packed)]) + packed)
    return pa.array(wire, pa.large_binary())


def _refuse_rounding(micros: pa.Array, c: _Col) -> None:
    """Fail a value with more fractional-second digits than the target column keeps:
    PostgreSQL would round it ('9999-12-31 23:59:59.999999' into timestamp(0) is year 10000)."""
    kept = precision.kept_digits(c.column, to_pg=True)
    if kept is None or kept >= 6:
        return
    step = 10 ** (6 - kept)
    m = micros.cast(pa.int64())
    rest = pc.subtract(m, pc.multiply(pc.divide(m, step), step))
    rounded = pc.not_equal(rest, 0).fill_null(False)
    if pc.any(rounded).as_py():
        why = precision.too_precise_why(c.column.kind, kept, c.column.pg_type)
        raise c.fail(rounded, why, FRACTION_FIX)


def _in_range(t: pa.Array, c: _Col) -> pa.Array:
    """Dates or timestamps ``t``, checked: no year before 1, no fraction the target rounds."""
    first = _FIRST_DAY if pa.types.is_date(t.type) else _FIRST_INSTANT
    before = pc.less(t, pa.scalar(first, t.type)).fill_null(False)
    if pc.any(before).as_py():
        raise c.fail(before, YEAR_ZERO_WHY, PARTIAL_ZERO_FIX)
    if pa.types.is_timestamp(t.type):
        _refuse_rounding(t, c)
    return t


def _temporal(a: pa.Array, c: _Col, target: pa.DataType) -> pa.Array:
    """A date or timestamp column as ``target``: connectorx's native values cast, the text
    the fallback reads through the zero-date policy; checked by :func:`_in_range`."""
    if pa.types.is_date(a.type):
        return _in_range(a.cast(target), c)
    if pa.types.is_timestamp(a.type):  # sessions run at UTC: a TIMESTAMP's wall time is UTC
        return _in_range(a.cast(pa.timestamp("us")).cast(target), c)
    return _zero_dates(a, c, target)


def _zero_dates(a: pa.Array, c: _Col, target: pa.DataType) -> pa.Array:
    """Text dates -> ``target``; zero dates -> NULL or the (representable) sentinel; a partial
    zero date, or a zero date in a key column under ``null``, fails (see :mod:`.convert`)."""
    a = a.cast(pa.string())
    zero_part = pc.match_substring_regex(a, _ZERO_PART_RE).fill_null(False)
    if not pc.any(zero_part).as_py():
        return _in_range(a.cast(target), c)
    zero = pc.match_substring_regex(a, _ZERO_DATE_RE).fill_null(False)
    partial = pc.and_(zero_part, pc.invert(zero))
    if pc.any(partial).as_py():
        raise c.fail(partial, PARTIAL_ZERO_WHY, PARTIAL_ZERO_FIX)
    null_policy = c.policy.zero_dates == "null"
    if null_policy and c.column.name in c.mapping.key:
        raise c.fail(zero, KEY_ZERO_WHY, KEY_ZERO_FIX)
    c.count("zero_dates", pc.sum(zero.cast(pa.int64())).as_py() or 0)
    cleared = _in_range(pc.if_else(zero, pa.scalar(None, pa.string()), a).cast(target), c)
    if null_policy:
        return cleared
    try:
        sentinel = pa.scalar(c.policy.zero_date_sentinel).cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise c.fail(
            zero,
            f"zero dates cannot carry the sentinel {c.policy.zero_date_sentinel!r} in Arrow",
            "copy this table with the row-by-row path, or use a representable sentinel",
        ) from None
    return pc.if_else(zero, sentinel, cleared)


def _date(a: pa.Array, c: _Col) -> pa.Array:
    return _temporal(a, c, pa.date32())


def _datetime(a: pa.Array, c: _Col) -> pa.Array:
    return _temporal(a, c, pa.timestamp("us"))


def _timestamp(a: pa.Array, c: _Col) -> pa.Array:
    naive = _temporal(a, c, pa.timestamp("us"))
    # MySQL sessions run at UTC (connections.py): the wall time is the UTC instant, as a cast
    # to a zoned timestamp reads it
    return naive.cast(pa.timestamp("us", tz="UTC"))


def _time(a: pa.Array, c: _Col) -> pa.Array:
    micros = a.cast(pa.int64())
    bad = pc.or_(pc.less(micros, 0), pc.greater_equal(micros, _MICROS_PER_DAY))
    if pc.any(bad.fill_null(False)).as_py():
        raise c.fail(
            bad,
            "TIME value is outside 00:00-24:00 and does not fit PostgreSQL time",
            "set pg_type: interval for the column",
        )
    _refuse_rounding(micros, c)
    return micros.cast(pa.time64("us"))


def _interval(a: pa.Array, c: _Col) -> pa.Array:
    micros = a.cast(pa.int64())
    _refuse_rounding(micros, c)
    return micros.cast(pa.duration("us"))


def _same(a: pa.Array, c: _Col) -> pa.Array:
    return a


_ARROW: dict[str, Callable[[pa.Array, _Col], pa.Array]] = {
    "bool": _bool,
    "bit1": _bool,
    "int": _int,
    "year": _int,
    "uint64": _decimal,
    "decimal": _decimal,
    "float32": _float,
    "float64": _float,
    "text": _text,
    "enum": _enum,
    "inet": _inet,
    "set": _set,
    "json": _json,
    "bytes": _bytes,
    "geometry": _geometry,
    "uuid": _uuid_from_binary,
    "native_uuid": _uuid_from_text,
    "bits": _bits,
    "date": _date,
    "datetime": _datetime,
    "timestamp": _timestamp,
    "time": _time,
    "interval": _interval,
}


def single_array(chunked: pa.ChunkedArray) -> pa.Array:
    """The column as one array. A one-chunk column is returned as it is: ``combine_chunks``
    copies even then (it was ~6% of a backfill chunk's CPU)."""
    return chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()


def to_pg_table(
    mapping: TableMapping, table: pa.Table, stats: Stats | None = None, wire: Wire = "binary"
) -> pa.Table:
    """Convert a table read with :func:`select_list` into PostgreSQL types and column names.

    ``wire="binary"`` (for ADBC's binary COPY, e.g. ``adbc_ingest``): jsonb, bit varying and
    inet columns become their binary COPY encoding, as ADBC sends strings as text otherwise
    and PostgreSQL rejects them. ``wire="text"`` keeps them as text (CSV / text COPY).
    """
    keys = table.select(list(mapping.key))
    arrays: list[Any] = []
    names: list[str] = []
    for column in mapping.synced_columns():
        raw = single_array(table.column(column.name))
        arrays.append(_ARROW[column.kind](raw, _Col(mapping, column, keys, stats, wire)))
        names.append(column.pg_name)
    return pa.Table.from_arrays(arrays, names=names)
