"""JSON compared by meaning, for the applier's row comparison and reconcile alike: key order
and whitespace are no difference, 1, 1.0 and 1e0 are one number, true and 1 are two values.
PostgreSQL's jsonb reorders keys and rewrites numbers (1.0e400 prints in full), MySQL keeps
the text as written, so only the parsed value can be compared."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def json_value(value: Any) -> Any:
    """A comparable form of JSON text, or of JSON a driver has already parsed."""
    if isinstance(value, str | bytes | bytearray):
        value = json.loads(value, parse_float=Decimal, parse_int=Decimal)
    return _tagged(value)


def _tagged(value: Any) -> Any:
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, _tagged(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("a", tuple(_tagged(v) for v in value))
    if isinstance(value, bool):  # before int: True is an int in Python
        return ("b", value)
    if isinstance(value, float):
        return ("n", Decimal(repr(value)).normalize())
    if isinstance(value, Decimal | int):
        return ("n", Decimal(value).normalize())
    if value is None:
        return ("z",)
    return ("s", value)
