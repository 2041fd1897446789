"""A column's default as a value, free of either engine's syntax: the MySQL dialect parses it
from MySQL's text, the DDL renders it in PostgreSQL's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DefaultKind = Literal["null", "string", "number", "bits", "now", "today", "expression"]


@dataclass(frozen=True)
class ColumnDefault:
    kind: DefaultKind
    value: str = ""  # the string unquoted, the number's or the bits' digits, an expression's text
    precision: int = 0  # now: the fractional-second digits asked for (CURRENT_TIMESTAMP(6))

    @property
    def is_literal(self) -> bool:
        return self.kind in ("string", "number", "bits")
