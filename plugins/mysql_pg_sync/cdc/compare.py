"""Compare a target row with an incoming image, value by value, across driver types (pure).

The target row comes from the target's driver, the image from the converters; both are mapped to
one canonical form per column kind so that equal values compare equal (JSON text vs dict,
'13:00:00' vs timedelta, aware vs naive UTC timestamps, REAL vs double).
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from mysql_pg_sync.json_values import json_value, normalized
from mysql_pg_sync.types.convert import parse_mysql_time

Canon = Callable[[Any], Any]


def _text(v: Any) -> str:
    return v.decode() if isinstance(v, bytes | bytearray) else str(v)


def _json(v: Any) -> Any:
    try:
        return json_value(v)
    except ValueError:
        return v


def _date(v: Any) -> Any:
    return v.isoformat()[:10] if isinstance(v, dt.date) else _text(v)[:10]


def _datetime(v: Any) -> Any:
    if isinstance(v, str | bytes):
        try:
            v = dt.datetime.fromisoformat(_text(v))
        except ValueError:
            return _text(v)
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v.isoformat(sep=" ", timespec="microseconds")
    return v


def _time(v: Any) -> Any:
    if isinstance(v, dt.timedelta):
        return v
    if isinstance(v, dt.time):
        return dt.timedelta(
            hours=v.hour, minutes=v.minute, seconds=v.second, microseconds=v.microsecond
        )
    try:
        return parse_mysql_time(_text(v))
    except ValueError:
        return _text(v)


def _float32(v: Any) -> Any:
    # exact: the MySQL target reads FLOAT columns as doubles (its text form has 6 digits only)
    return struct.unpack("f", struct.pack("f", float(v)))[0]


def _decimal(v: Any) -> Any:
    return normalized(v if isinstance(v, Decimal) else Decimal(str(v)))


def _set(v: Any) -> Any:
    if isinstance(v, str | bytes):
        return frozenset(m for m in _text(v).split(",") if m)
    return frozenset(v)


def _bytes(v: Any) -> Any:
    return bytes(v) if isinstance(v, bytes | bytearray | memoryview) else v


def _bool(v: Any) -> Any:
    return any(v) if isinstance(v, bytes) else bool(int(v))


def _str(v: Any) -> Any:
    return _text(v)


CANON: dict[str, Canon] = {
    "json": _json,
    "date": _date,
    "datetime": _datetime,
    "timestamp": _datetime,
    "time": _time,
    "interval": _time,
    "float32": _float32,
    "float64": float,
    "decimal": _decimal,
    "uint64": int,
    "int": int,
    "year": int,
    "bool": _bool,
    "bit1": lambda v: bool(int.from_bytes(v, "big")) if isinstance(v, bytes) else bool(v),
    "set": _set,
    "bytes": _bytes,
    "geometry": _bytes,
    "uuid": lambda v: _text(v) if not isinstance(v, bytes) else v.hex(),
    "native_uuid": lambda v: _text(v).lower(),
    "inet": _str,
    "text": _str,
    "enum": _str,
    "bits": lambda v: _text(v) if not isinstance(v, bytes) else v.hex(),
}


def canonical(kind: str, value: Any) -> Any:
    if value is None:
        return None
    try:
        return CANON.get(kind, lambda v: v)(value)
    except (TypeError, ValueError, ArithmeticError):
        return value


def rows_equal(
    kinds: Mapping[str, str],
    target: Mapping[str, Any],
    image: Mapping[str, Any],
    columns: Iterable[str],
) -> bool:
    """True when every given column holds the same value in both rows."""
    for name in columns:
        a, b = target.get(name), image.get(name)
        if type(a) is type(b) and a == b:
            continue  # the common case needs no canonical form
        kind = kinds.get(name, "text")
        if canonical(kind, a) != canonical(kind, b):
            return False
    return True
