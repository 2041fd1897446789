"""Key values: JSON encoding for the state tables and MySQL literals for chunk predicates.

Chunk predicates are only ever evaluated by MySQL (see :mod:`.plan`), so literals are rendered
for MySQL. Strings go in as ``_utf8mb4 X'..'``: hex cannot be mis-quoted, and the introducer
gives the literal the lowest coercibility so the *column's* collation decides the comparison and
the index is used. An ENUM or SET key value is kept as its :class:`MemberNumber`: MySQL sorts
those columns by it, and compares them with a string as text, in another order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from mysql_pg_sync.errors import SyncError

KeyValue = tuple[Any, ...]
"""One key, its values in key-column order."""


class KeyEncodingError(SyncError):
    """A key value has a type the planner cannot store or render."""


@dataclass(frozen=True)
class MemberNumber:
    """An ENUM or SET key value as MySQL orders it: an ENUM's member index (0: the invalid
    value ''), a SET's member bits. Plans from before it hold the member text instead, and keep
    comparing it as text: their chunks still cover every key, in text order."""

    type: Literal["enum", "set"]
    number: int


def encode_value(value: Any) -> list[str] | int | str | None:
    """A JSON-safe form that :func:`decode_value` turns back into the same Python value."""
    if value is None:
        return None
    if isinstance(value, MemberNumber):
        return [value.type, str(value.number)]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, Decimal):
        return ["decimal", str(value)]
    if isinstance(value, dt.datetime):
        return ["datetime", value.isoformat()]
    if isinstance(value, dt.date):
        return ["date", value.isoformat()]
    if isinstance(value, dt.timedelta):
        return [
            "seconds",
            str(
                Decimal(value.days * 86400 + value.seconds)
                + Decimal(value.microseconds) / 1_000_000
            ),
        ]
    raise KeyEncodingError(f"cannot store key value {value!r} of type {type(value).__name__}")


def decode_value(raw: Any) -> Any:
    if raw is None or isinstance(raw, int | str):
        return raw
    tag, text = raw
    if tag in ("enum", "set"):
        return MemberNumber(tag, int(text))
    if tag == "bytes":
        return bytes.fromhex(text)
    if tag == "decimal":
        return Decimal(text)
    if tag == "datetime":
        return dt.datetime.fromisoformat(text)
    if tag == "date":
        return dt.date.fromisoformat(text)
    if tag == "seconds":
        return dt.timedelta(seconds=float(Decimal(text)))
    raise KeyEncodingError(f"unknown stored key tag {tag!r}")


def encode_key(key: KeyValue | None) -> list[Any] | None:
    return None if key is None else [encode_value(v) for v in key]


def decode_key(raw: Sequence[Any] | None) -> KeyValue | None:
    return None if raw is None else tuple(decode_value(v) for v in raw)


def mysql_literal(value: Any) -> str:
    """A MySQL literal for a key value; safe to inline (connectorx takes no parameters)."""
    if value is None:
        raise KeyEncodingError("a key value is NULL; key columns must be NOT NULL")
    if isinstance(value, MemberNumber):  # compared as a number: in member order
        return str(int(value.number))
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return "_utf8mb4 X'" + value.encode("utf-8").hex() + "'"
    if isinstance(value, bytes | bytearray):
        return "X'" + bytes(value).hex() + "'"
    if isinstance(value, dt.datetime | dt.date):
        return (
            "'" + value.isoformat(sep=" ") + "'"
            if isinstance(value, dt.datetime)
            else ("'" + value.isoformat() + "'")
        )
    if isinstance(value, dt.timedelta):
        return "'" + _time_text(value) + "'"
    raise KeyEncodingError(f"cannot render key value {value!r} of type {type(value).__name__}")


def _time_text(value: dt.timedelta) -> str:
    micros = value.days * 86_400_000_000 + value.seconds * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    seconds, frac = divmod(micros, 1_000_000)
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{frac:06d}"
