"""SQL dialects: one module per engine with the same entry points.

``for_side("mysql")`` / ``for_side("postgres")`` returns the module; callers use its functions
(``quote_ident``, ``qualified``, ``column_list``, ...) and never branch on the engine.
"""

from __future__ import annotations

from types import ModuleType

from mysql_pg_sync.dialects import mysql, postgres


def for_side(side: str) -> ModuleType:
    """The dialect module for ``"mysql"`` or ``"postgres"``."""
    if side == "mysql":
        return mysql
    if side == "postgres":
        return postgres
    raise ValueError(f"unknown side {side!r}; expected 'mysql' or 'postgres'")
