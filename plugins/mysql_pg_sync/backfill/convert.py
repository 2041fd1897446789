"""Vectorized Arrow conversion of a chunk's batch from what MySQL gave to what PostgreSQL takes.

One function per column *kind* (see :mod:`mysql_pg_sync.types.typemap`). Each accepts the
Arrow type either reader produces (connectorx native types, or text for the values read with
``CAST(... AS CHAR)``) and returns the Arrow type the ADBC COPY writes into the column's
PostgreSQL type. A value that does not fit raises :class:`ConversionError` naming table, key,
column and value; nothing is clipped or dropped.

This is the backfill's adapter until :mod:`mysql_pg_sync.types` ships shared converters.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.types.typemap import parse_column_type, pg_precision

Converter = Callable[[pa.Array], pa.Array]

INT_WIDTH = {"smallint": pa.int16(), "integer": pa.int32(), "int": pa.int32(), "bigint": pa.int64()}
ZERO_DATE = re.compile(r"^0000-00-00")
TIME_TEXT = re.compile(r"^(-?)(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$")


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is read (SQL expression) and converted."""

    name: str  # MySQL name
    pg_name: str
    kind: str
    column_type: str
    pg_type: str
    staged_cast: str | None = None  # PostgreSQL cast applied when staged (bit varying, inet)


def pg_base(pg_type: str) -> str:
    return re.sub(r"\(.*\)", "", pg_type).strip().lower()


class BadValue(Exception):
    """Raised by a per-value check with the offending index."""

    def __init__(self, index: int, value: Any, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.value = value
        self.reason = reason


def _first_bad_cast(arr: pa.Array, target: pa.DataType) -> BadValue:
    for i in range(len(arr)):
        try:
            pc.cast(arr.slice(i, 1), target, safe=True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            return BadValue(i, arr[i].as_py(), str(exc))
    return BadValue(0, None, f"cannot cast {arr.type} to {target}")


def _safe_cast(arr: pa.Array, target: pa.DataType) -> pa.Array:
    if arr.type == target:
        return arr
    try:
        return pc.cast(arr, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _first_bad_cast(arr, target) from None


def _to_bool(arr: pa.Array) -> pa.Array:
    if pa.types.is_boolean(arr.type):
        return arr
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        arr = _safe_cast(arr, pa.int64())
    bad = pc.and_(pc.not_equal(arr, 0), pc.not_equal(arr, 1))
    if pc.any(bad).as_py():
        index = pc.index(bad, True).as_py()
        raise BadValue(
            index,
            arr[index].as_py(),
            "boolean column holds a value other than 0/1; "
            "map it to smallint in the mapping (pg_type) to keep the value",
        )
    return pc.not_equal(arr, 0)


def _decimal_type(col: ColumnPlan) -> pa.DataType:
    args = pg_precision(col.pg_type) or parse_column_type(col.column_type).args or (38, 10)
    precision, scale = args[0], (args[1] if len(args) > 1 else 0)
    return pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)


def _parse_temporal(arr: pa.Array, kind: str, col: ColumnPlan) -> pa.Array:
    """Text from ``CAST(col AS CHAR)``: zero dates become NULL (the mapping's zero_dates policy)."""
    zero = pc.match_substring_regex(arr, ZERO_DATE.pattern)
    text = pc.if_else(zero, pa.scalar(None, arr.type), arr)
    if kind == "date":
        fmt, unit = "%Y-%m-%d", "s"
    else:
        fmt, unit = "%Y-%m-%d %H:%M:%S", "us"
    try:
        if kind == "date":
            parsed = pc.strptime(text, format=fmt, unit="s").cast(pa.date32())
        else:
            whole = pc.utf8_slice_codeunits(text, 0, 19)
            base = pc.strptime(whole, format=fmt, unit=unit)
            frac = pc.utf8_slice_codeunits(text, 20, 26)
            frac = pc.if_else(pc.equal(frac, ""), "0", frac)
            micros = pc.multiply(
                pc.cast(frac, pa.int64()),
                pc.power(10, pc.subtract(6, pc.utf8_length(frac))).cast(pa.int64()),
            )
            parsed = pc.add(base.cast(pa.int64()), micros).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for i, value in enumerate(text.to_pylist()):
            if value is None:
                continue
            try:
                pc.strptime(
                    pa.array([value[:19] if kind != "date" else value]), format=fmt, unit="s"
                )
            except pa.ArrowInvalid:
                raise BadValue(i, value, f"not a valid {kind} (zero in date?)") from None
        raise
    return parsed


def _temporal(kind: str, col: ColumnPlan) -> Converter:
    def convert(arr: pa.Array) -> pa.Array:
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            arr = _parse_temporal(arr, kind, col)
        if kind == "date":
            return _safe_cast(arr, pa.date32())
        if kind == "timestamp":
            return pc.cast(_safe_cast(arr, pa.timestamp("us")), pa.timestamp("us", tz="UTC"))
        return _safe_cast(arr, pa.timestamp("us"))

    return convert


def _time_micros(value: str, index: int) -> int:
    match = TIME_TEXT.match(value)
    if not match:
        raise BadValue(index, value, "not a MySQL TIME value")
    sign, hours, minutes, seconds, frac = match.groups()
    micros = ((int(hours) * 60 + int(minutes)) * 60 + int(seconds)) * 1_000_000
    micros += int((frac or "0").ljust(6, "0"))
    return -micros if sign else micros


def _time_of_day(arr: pa.Array) -> pa.Array:
    out: list[int | None] = []
    for i, value in enumerate(arr.to_pylist()):
        if value is None:
            out.append(None)
            continue
        micros = _time_micros(value, i)
        if not 0 <= micros < 86_400_000_000:
            raise BadValue(
                i,
                value,
                "TIME outside 00:00:00..23:59:59 does not fit PostgreSQL time; "
                "set pg_type: interval for this column",
            )
        out.append(micros)
    return pa.array(out, pa.time64("us"))


def _interval(arr: pa.Array) -> pa.Array:
    values = arr.to_pylist()
    return pa.array(
        [None if v is None else _time_micros(v, i) for i, v in enumerate(values)], pa.duration("us")
    )


def _bits_text(col: ColumnPlan) -> Converter:
    width = (parse_column_type(col.column_type).args or (1,))[0]

    def convert(arr: pa.Array) -> pa.Array:
        return pa.array(
            [None if v is None else format(v, f"0{width}b") for v in arr.to_pylist()], pa.string()
        )

    return convert


def _strings(col: ColumnPlan, nul_bytes: str) -> Converter:
    def convert(arr: pa.Array) -> pa.Array:
        arr = _safe_cast(arr, pa.string())
        has_nul = pc.match_substring(arr, "\x00")
        if pc.any(has_nul).as_py():
            if nul_bytes == "strip":
                return pc.replace_substring(arr, "\x00", "")
            index = pc.index(has_nul, True).as_py()
            raise BadValue(
                index,
                arr[index].as_py(),
                "text holds a NUL byte, which PostgreSQL "
                "text cannot store; set values.nul_bytes: strip in the mapping",
            )
        return arr

    return convert


def _json(col: ColumnPlan, nul_bytes: str) -> Converter:
    text = _strings(col, nul_bytes)

    def convert(arr: pa.Array) -> pa.Array:
        arr = text(arr)
        if pg_base(col.pg_type) == "jsonb":
            # jsonb's binary COPY format needs the arrow.json type (a version byte precedes it)
            return pa.ExtensionArray.from_storage(pa.json_(pa.string()), arr)
        return arr

    return convert


def _set(arr: pa.Array) -> pa.Array:
    arr = _safe_cast(arr, pa.string())
    empty = pc.equal(arr, "")
    parts = pc.split_pattern(arr, ",")
    return pc.if_else(empty, pa.scalar([], pa.list_(pa.string())), parts)


def _uuid_bytes(arr: pa.Array) -> pa.Array:
    return _safe_cast(_safe_cast(arr, pa.binary()), pa.binary(16))


def _uuid_text(arr: pa.Array) -> pa.Array:
    out = []
    for i, value in enumerate(arr.to_pylist()):
        try:
            out.append(None if value is None else uuid.UUID(value).bytes)
        except ValueError:
            raise BadValue(i, value, "not a UUID") from None
    return pa.array(out, pa.binary(16))


def converter_for(col: ColumnPlan, *, nul_bytes: str = "fail") -> Converter:
    """The vectorized conversion for one column (see the module docstring)."""
    kind, base = col.kind, pg_base(col.pg_type)
    if kind in ("int", "year") or (kind == "uint64" and base in INT_WIDTH):
        target = INT_WIDTH.get(base, pa.int64())
        return lambda arr: _safe_cast(arr, target)
    if kind == "uint64" or kind == "decimal":
        target = (
            pa.decimal128(20, 0)
            if kind == "uint64" and not pg_precision(col.pg_type)
            else _decimal_type(col)
        )
        return lambda arr: _safe_cast(arr, target)
    if kind in ("bool", "bit1"):
        return _to_bool
    if kind == "float32":
        return lambda arr: _safe_cast(arr, pa.float32())
    if kind == "float64":
        return lambda arr: _safe_cast(arr, pa.float64())
    if kind in ("text", "enum") or (kind == "set" and base != "text[]"):
        return _strings(col, nul_bytes)
    if kind == "set":
        return _set
    if kind == "json":
        return _json(col, nul_bytes)
    if kind in ("bytes", "geometry"):
        return lambda arr: _safe_cast(arr, pa.binary())
    if kind == "uuid":
        return _uuid_bytes
    if kind == "native_uuid":
        return _uuid_text
    if kind in ("date", "datetime", "timestamp"):
        return _temporal(kind, col)
    if kind == "time":
        return _time_of_day
    if kind == "interval":
        return _interval
    if kind == "bits":
        return _bits_text(col)
    if kind == "inet":
        return lambda arr: _safe_cast(arr, pa.string())
    raise ConversionError(
        f"column {col.name!r}: no backfill converter for kind {kind!r}; exclude the column or "
        "choose a supported pg_type in its mapping"
    )


def convert_batch(
    batch: pa.RecordBatch,
    columns: Sequence[ColumnPlan],
    converters: Sequence[Converter],
    *,
    table: str,
    key_columns: Sequence[str],
) -> pa.RecordBatch:
    """Convert every column; the result's fields carry the PostgreSQL column names."""
    arrays = []
    for position, (col, convert) in enumerate(zip(columns, converters, strict=True)):
        try:
            arrays.append(convert(batch.column(position)))
        except BadValue as bad:
            key = {k: batch.column(_index(columns, k))[bad.index].as_py() for k in key_columns}
            raise ConversionError(
                f"{table}: key {key}: column {col.name!r}: value {bad.value!r} cannot be "
                f"converted to {col.pg_type}: {bad.reason}"
            ) from None
    return pa.RecordBatch.from_arrays(arrays, names=[c.pg_name for c in columns])


def _index(columns: Sequence[ColumnPlan], name: str) -> int:
    return next(i for i, c in enumerate(columns) if c.name == name)
