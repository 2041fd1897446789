"""Values Debezium changed before the stream saw them: find them in MySQL, so they become dead
letters instead of reaching PostgreSQL as something else.

Two of them, both in MySQL -> PostgreSQL changes (the backfill reads MySQL's own bytes and
index, types/arrow.py, and refuses the same rows):

- MySQL's invalid enum value (index 0, stored outside strict mode for a value that is no
  member) comes as '', which in an enum whose members include '' reads as that member;
- bytes a column's character set does not allow (MariaDB stores them, strict mode too: a UTF-8
  encoded surrogate in utf8mb4, 0xE9 in ascii) come decoded with U+FFFD in their place.

The message holds nothing that tells them apart from the real thing, so for a change that
carries '' in such an enum, or U+FFFD in a checked text column, the row is read in MySQL (its
enum index, its bytes as hex): one query per table and batch, and only when such a value came
(:meth:`PartialZeroDates.values`, the same connection). As with partial zero dates, MySQL's
current row is read: a value changed since then comes in a later change of the row.

Which columns need it is decided once per table plan (:func:`suspect_columns`), so tables
without such columns pay nothing per event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.cdc.partial_zero_dates import PartialZeroDates
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.mapping.models import ColumnMapping
from mysql_pg_sync.types.convert import ENUM_INDEX_ZERO_FIX, ENUM_INDEX_ZERO_WHY, UNDECODABLE_FIX

REPLACEMENT = "\ufffd"  # what Java's decoder puts for bytes it cannot decode
# the character sets whose stored bytes can be invalid, and the Python codec that checks them
# strictly (latin1 maps every byte to a character; others are not checked)
_CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "utf8": "utf-8", "ascii": "ascii"}
_TEXT_KINDS = ("text", "json")


@dataclass(frozen=True)
class Suspect:
    """A source column whose values may need a look in MySQL."""

    column: str  # MySQL name
    enum: bool  # True: '' may be index 0; False: U+FFFD may stand for invalid bytes
    codec: str = ""

    def needs_lookup(self, value: Any) -> bool:
        if self.enum:
            return value == ""
        return type(value) is str and REPLACEMENT in value

    def expression(self) -> str:
        col = mysql_dialect.quote_ident(self.column)
        return f"{col} + 0" if self.enum else f"HEX({col})"

    def problem(self, found: Any) -> str | None:
        """Why MySQL's ``found`` (index, or hex) cannot be carried, or None when it can."""
        if found is None:
            return None
        if self.enum:
            return None if int(found) != 0 else f"{ENUM_INDEX_ZERO_WHY}; {ENUM_INDEX_ZERO_FIX}"
        raw = bytes.fromhex(str(found))
        try:
            raw.decode(self.codec)
        except UnicodeDecodeError:
            return (
                f"MySQL holds bytes that are not valid {self.codec} text (0x{raw.hex()[:60]}), "
                f"which Debezium sent with U+FFFD in their place; {UNDECODABLE_FIX}"
            )
        return None


def suspect_columns(columns: Sequence[ColumnMapping]) -> tuple[Suspect, ...]:
    """The columns of a MySQL table whose values may not be what MySQL holds (module doc)."""
    found = []
    for c in columns:
        if c.kind == "enum" and "" in c.values:
            found.append(Suspect(c.name, enum=True))
        elif c.kind in _TEXT_KINDS:
            codec = _CODECS.get((c.charset or "utf8mb4").lower())
            if codec is not None:
                found.append(Suspect(c.name, enum=False, codec=codec))
    return tuple(found)


def find_suspects(
    lookup: PartialZeroDates,
    db: str,
    table: str,
    key: Sequence[str],
    suspects: Sequence[Suspect],
    images: Sequence[Mapping[str, Any] | None],
    key_of: Callable[[int], Sequence[Any]],
) -> dict[int, tuple[str, str]]:
    """Position in ``images`` (after-images; None for a delete) -> (column, why) for a row
    whose value in MySQL cannot be carried; only rows that carry a suspect value are looked up
    (by ``key_of(position)``, their key values)."""
    wanted: list[tuple[int, list[Suspect]]] = []
    for position, image in enumerate(images):
        if image is None:
            continue
        hits = [s for s in suspects if s.needs_lookup(image.get(s.column))]
        if hits:
            wanted.append((position, hits))
    if not wanted:
        return {}
    columns = sorted({s for _, hits in wanted for s in hits}, key=lambda s: s.column)
    rows = lookup.values(
        db,
        table,
        key,
        [key_of(position) for position, _ in wanted],
        [s.expression() for s in columns],
    )
    found: dict[int, tuple[str, str]] = {}
    for i, (position, hits) in enumerate(wanted):
        row = rows.get(i)
        if row is None:  # gone since: its delete comes later
            continue
        by_column = dict(zip((s.column for s in columns), row, strict=True))
        for suspect in hits:
            why = suspect.problem(by_column[suspect.column])
            if why is not None:
                found[position] = (suspect.column, why)
                break
    return found
