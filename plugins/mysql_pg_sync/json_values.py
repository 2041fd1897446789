"""JSON compared by meaning, for the applier's row comparison and reconcile alike: key order
and whitespace are no difference, 1, 1.0 and 1e0 are one number, true and 1 are two values.
PostgreSQL's jsonb reorders keys and rewrites numbers (1.0e400 prints in full), MySQL keeps
the text as written, so only the parsed value can be compared.

A key held twice in one object (MariaDB stores ``{"a":1,"a":2}`` as written and its JSON
functions read the first; jsonb keeps the last) makes an object of its own kind: equal only to
the same keys in the same order, so never to a jsonb value (see :func:`duplicate_key`)."""

from __future__ import annotations

import json
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from typing import Any


class _Repeated(tuple[tuple[str, Any], ...]):
    """An object holding some key twice: its (key, value) pairs in their order."""


def _object(pairs: list[tuple[str, Any]]) -> Any:
    value = dict(pairs)
    return value if len(value) == len(pairs) else _Repeated(pairs)


# normalize() rounds to its context's precision, 28 digits by default: two numbers differing
# past that would compare equal, and the write that tells them apart would be skipped
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


def normalized(value: Decimal) -> Decimal:
    """``value`` without trailing zeros, every digit kept (1.50 -> 1.5, 100 -> 1E+2)."""
    return value.normalize(EXACT)


def json_value(value: Any) -> Any:
    """A comparable form of JSON text, or of JSON a driver has already parsed."""
    if isinstance(value, str | bytes | bytearray):
        value = json.loads(value, parse_float=Decimal, parse_int=Decimal, object_pairs_hook=_object)
    return _tagged(value)


def _tagged(value: Any) -> Any:
    if isinstance(value, _Repeated):
        return ("r", tuple((k, _tagged(v)) for k, v in value))
    if isinstance(value, dict):
        return ("o", tuple(sorted((k, _tagged(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("a", tuple(_tagged(v) for v in value))
    if isinstance(value, bool):  # before int: True is an int in Python
        return ("b", value)
    if isinstance(value, float):
        return ("n", normalized(Decimal(repr(value))))
    if isinstance(value, Decimal | int):
        return ("n", normalized(Decimal(value)))
    if value is None:
        return ("z",)
    return ("s", value)


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> None:
    if len(pairs) > 1:
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    # only the keys matter here: the parsed value is thrown away


def duplicate_key(text: str | bytes) -> str | None:
    """The first key ``text`` holds twice in one object (at any depth), or None. Keys compare
    as decoded: ``"a"`` and ``"\\u0061"`` are one key. Text that is not JSON: None (the
    database that stores it refuses it, not this check)."""
    try:
        json.loads(text, object_pairs_hook=_refuse_repeats)
    except _RepeatedKey as found:
        return found.key
    except (ValueError, RecursionError):
        return None
    return None
