"""Classify differences between the two sides' canonical rows. Pure logic.

``missing``: the row is in MySQL but not in PostgreSQL (the target); ``extra``: in PostgreSQL
only; ``different``: in both, with the differing columns named (MySQL names).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.canonical import values_equal
from mysql_pg_sync.reconcile.model import CompareColumn

DriftClass = Literal["missing", "extra", "different"]
DRIFT_CLASSES: tuple[DriftClass, ...] = ("missing", "extra", "different")
SHOWN_CHARS = 120  # a longer compared value is shortened in reports, saying so


@dataclass(frozen=True)
class CanonicalRow:
    """One side's row: raw key values and compared values by column (canonical text; floats as
    exact doubles)."""

    raw_key: tuple[Any, ...]
    texts: Mapping[str, Any]


@dataclass(frozen=True)
class RowDiff:
    key: KeyText
    drift: DriftClass
    columns: tuple[str, ...] = ()
    mysql: CanonicalRow | None = None
    postgres: CanonicalRow | None = None

    @property
    def raw_key(self) -> tuple[Any, ...]:
        row = self.mysql or self.postgres
        assert row is not None  # a diff always has at least one side
        return row.raw_key

    def shown_values(self) -> dict[str, dict[str, Any]] | None:
        """For a ``different`` row: each differing column's compared value on both sides, in a
        form a report can show (None for the other classes)."""
        if self.mysql is None or self.postgres is None or not self.columns:
            return None
        return {
            c: {
                "mysql": shown_value(self.mysql.texts.get(c)),
                "postgres": shown_value(self.postgres.texts.get(c)),
            }
            for c in self.columns
        }


NUL_SHOWN = "\\x00"  # PostgreSQL's jsonb and text cannot hold a NUL character


def shown_value(value: Any) -> Any:
    """A compared value for a report: text shortened past SHOWN_CHARS (saying how long it was),
    a NUL character as ``\\x00`` (the drift is stored as jsonb, which refuses one), a float in
    its shortest round-trip form, NULL as None."""
    if value is None:
        return None
    if isinstance(value, float):
        return repr(value)
    text = value if isinstance(value, str) else str(value)
    text = text.replace("\x00", NUL_SHOWN)
    if len(text) > SHOWN_CHARS:
        return f"{text[:SHOWN_CHARS]}... ({len(text):,} chars)"
    return text


def differing_columns(
    columns: Sequence[CompareColumn], a: CanonicalRow, b: CanonicalRow
) -> tuple[str, ...]:
    return tuple(
        c.mysql_name
        for c in columns
        if not values_equal(c, a.texts.get(c.mysql_name), b.texts.get(c.mysql_name))
    )


def classify(
    columns: Sequence[CompareColumn],
    keys: Sequence[KeyText],
    mysql_rows: Mapping[KeyText, CanonicalRow],
    pg_rows: Mapping[KeyText, CanonicalRow],
) -> list[RowDiff]:
    """The real differences among ``keys``; keys whose rows are equal by value are dropped,
    and so are keys found on neither side (see :func:`vanished`)."""
    diffs = []
    for key in keys:
        left, right = mysql_rows.get(key), pg_rows.get(key)
        if left is None and right is None:
            continue  # gone from both sides since the rows were compared: counted by vanished()
        if right is None:
            diffs.append(RowDiff(key, "missing", mysql=left))
        elif left is None:
            diffs.append(RowDiff(key, "extra", postgres=right))
        else:
            cols = differing_columns(columns, left, right)
            if cols:
                diffs.append(RowDiff(key, "different", cols, left, right))
    return diffs


def vanished(
    keys: Sequence[KeyText],
    mysql_rows: Mapping[KeyText, CanonicalRow],
    pg_rows: Mapping[KeyText, CanonicalRow],
) -> list[KeyText]:
    """The ``keys`` whose rows neither side returned when read again: deleted on both sides
    since they were compared, or a key the look-up cannot find (which a caller must not take
    for "in sync" without saying so)."""
    return [k for k in keys if k not in mysql_rows and k not in pg_rows]
