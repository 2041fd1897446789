"""Client-side equality for the two kinds SQL text cannot settle: floats at a declared precision
and JSON by meaning. Pure functions over the canonical texts the dialects produce.

Floats: the SQL hash covers the shortest round-trip digits and the exponent of the exact double,
so it sees every bit. The two engines do not always pick the same shortest digits (PostgreSQL
prints 1e23 as 9.999999999999999e+22), so rows are decided here, on the doubles themselves, at
the declared precision (significant digits; 17 = exact): a hash-only difference is never reported.

JSON: PostgreSQL's jsonb reorders keys and rewrites whitespace and numbers, MySQL keeps the text
as written; no SQL both engines run gives the same bytes. JSON columns are therefore left out of
the SQL row hash and compared here, by value: key order and whitespace are not differences,
any change of a key, a value or array order is.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mysql_pg_sync.json_values import json_value
from mysql_pg_sync.reconcile.model import CompareColumn


def round_significant(value: float, digits: int) -> str:
    """``value``'s shortest round-trip decimal at ``digits`` significant digits (half-even)."""
    if value != value or value in (float("inf"), float("-inf")):
        return repr(value)
    if value == 0:
        return "0"
    return format(Decimal(repr(value)), f".{digits - 1}e")


def floats_equal(a: float, b: float, digits: int) -> bool:
    """Equal doubles, or equal at ``digits`` significant digits (17 and more: exact)."""
    if a == b or (a != a and b != b):
        return True
    if digits >= 17:
        return False
    return round_significant(a, digits) == round_significant(b, digits)


def json_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return bool(json_value(a) == json_value(b))
    except ValueError:
        return False  # invalid JSON on one side is a difference to look at, never hidden


def values_equal(column: CompareColumn, a: Any, b: Any) -> bool:
    """Whether two compared values of ``column`` (canonical text; a double for floats) agree."""
    if a is None or b is None:
        return a is b
    if column.kind == "float":
        return floats_equal(float(a), float(b), column.digits)
    if column.kind == "json":
        return json_equal(a, b)
    return a == b
