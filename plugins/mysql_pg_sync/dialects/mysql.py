"""MySQL / MariaDB SQL: every way the MySQL side differs from PostgreSQL lives here.

Same entry points as :mod:`mysql_pg_sync.dialects.postgres`, so callers never branch on the
engine: pick the module with :func:`mysql_pg_sync.dialects.for_side` and call the same names.
"""

from __future__ import annotations

from collections.abc import Iterable

NAME = "mysql"
PARAM = "%s"  # mysqlclient's paramstyle
MAX_IDENTIFIER_LENGTH = 64


def quote_ident(name: str) -> str:
    """Quote one identifier (`order`, `Mixed Case`); backticks inside are doubled."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL byte")
    return "`" + name.replace("`", "``") + "`"


def qualified(namespace: str, table: str) -> str:
    """`db`.`table`."""
    return f"{quote_ident(namespace)}.{quote_ident(table)}"


def column_list(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)
