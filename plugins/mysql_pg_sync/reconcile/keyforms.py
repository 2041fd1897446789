"""A key as both sides hold it: raw values to look a row up again, texts to match rows by.
Pure logic.

Each side reads a key twice: as its driver's values (the *raw* key, bound again to find the row
on either side) and as canonical texts, which are equal on both sides for the same key and
match its rows up in Python (:data:`~mysql_pg_sync.reconcile.bisect.KeyText`). The texts come
from SQL, except a float's: both drivers read the exact double, but the two engines print some
doubles differently (PostgreSQL 9.999999999999999e+22, MariaDB 1e23), so its text is made here.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable

RawKey = tuple[Any, ...]
FIXED_NOTATION = (1e-4, 1e15)  # where the dialects' canonical float text is fixed notation
SHOWN_DUPLICATES = 3
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # PostgreSQL's names


def float_key_text(value: Any) -> str | None:
    """A float key's text from the exact double, in the form of the dialects' canonical float
    text: the shortest digits that read back as the same double (as MySQL prints them;
    PostgreSQL prints some doubles past 1e16 with more), fixed notation in [1e-4, 1e15), else
    the digits and a power of ten ('15e-5', '1e23'). Zero is '0' (-0.0 is the same key on
    both engines); None stays None."""
    if value is None:
        return None
    number = float(value)
    if number == 0:
        return "0"
    if not math.isfinite(number):
        return _NON_FINITE[repr(number)]
    shortest = Decimal(repr(number)).normalize()
    if FIXED_NOTATION[0] <= abs(number) < FIXED_NOTATION[1]:
        return format(shortest, "f")
    sign, digits, _ = shortest.as_tuple()
    return f"{'-' if sign else ''}{''.join(map(str, digits))}e{shortest.adjusted()}"


def raw_key_part(kind: str, value: Any) -> Any:
    """A raw key value in a hashable form the dialects' ``key_param`` binds again: a SET's
    members, which psycopg reads from a text[] as a list, joined by ',' in their order (as
    MySQL reads a SET)."""
    if kind == "set" and isinstance(value, list | tuple):
        return ",".join(str(member) for member in value)
    return value


def key_forms(
    columns: Sequence[CompareColumn], raw: Sequence[Any], texts: Sequence[str | None]
) -> tuple[RawKey, KeyText]:
    """(raw key, key text) of a row from the values a side read: ``raw`` as its driver reads
    the key columns (a float as the exact double), ``texts`` their canonical texts in SQL."""
    held = tuple(raw_key_part(c.kind, v) for c, v in zip(columns, raw, strict=True))
    key = tuple(
        float_key_text(v) if c.kind == "float" else t
        for c, v, t in zip(columns, held, texts, strict=True)
    )
    return held, key


def refuse_duplicate_keys(
    table: ReconcileTable, side: str, keys: Sequence[tuple[RawKey, KeyText]]
) -> None:
    """Raise :class:`ReconcileError` when a side holds two rows whose keys have one text:
    (raw key, key text) pairs. Rows are matched across the sides by that text, so one of
    them would never be compared (a PostgreSQL 'cd' and 'cd  ' under a MySQL CHAR key, whose
    trailing spaces are padding; a one-way table gets no CHECK against them)."""
    counts = Counter(text for _, text in keys)
    twice = [text for text, n in counts.items() if n > 1]
    if not twice:
        return
    where = "MySQL" if side == "mysql" else "PostgreSQL"
    shown = "; ".join(
        _duplicate_text(table, text, [raw for raw, t in keys if t == text])
        for text in twice[:SHOWN_DUPLICATES]
    )
    more = f" and {len(twice) - SHOWN_DUPLICATES} more" if len(twice) > SHOWN_DUPLICATES else ""
    raise ReconcileError(
        f"{table.name}: {where} holds several rows whose key reads alike ({shown}{more}). "
        "reconcile matches the rows of the two databases by the key's canonical text (a CHAR "
        "key's trailing spaces are padding in it), so it cannot tell these rows apart. Make "
        f"those keys distinct in {where} (MySQL's CHAR cannot hold trailing spaces: remove "
        "them), then run reconcile again"
    )


def _duplicate_text(table: ReconcileTable, text: KeyText, raws: Sequence[RawKey]) -> str:
    """``k='cd' from 'cd', 'cd  '`` (``a='1', k='cd' from (1, 'cd'), ...`` for a composite)."""
    named = ", ".join(f"{c.mysql_name}={t!r}" for c, t in zip(table.key_columns, text, strict=True))
    values = ", ".join(repr(raw[0] if len(raw) == 1 else raw) for raw in raws)
    return f"{named} from {values}"
