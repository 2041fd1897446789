"""Driver settings that keep every value intact on its way into Python.

mysqlclient turns zero dates into ``None`` (indistinguishable from NULL); psycopg refuses
``infinity`` dates and parses JSON. These adapters hand such values over as text, and the
converters in :mod:`.convert` decide what they become.
"""

from __future__ import annotations

from typing import Any

import psycopg
from MySQLdb.constants import FIELD_TYPE
from MySQLdb.converters import conversions
from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader
from psycopg.types.string import TextLoader

_TEMPORAL = (FIELD_TYPE.DATE, FIELD_TYPE.DATETIME, FIELD_TYPE.TIMESTAMP, FIELD_TYPE.TIME)


def mysql_conv() -> dict[Any, Any]:
    """mysqlclient ``conv=``: temporal columns arrive as text ('0000-00-00', '838:59:59')."""
    conv = dict(conversions)
    for field_type in _TEMPORAL:
        conv[field_type] = lambda raw: raw.decode() if isinstance(raw, bytes) else raw
    return conv


_INFINITIES = (b"infinity", b"-infinity")


class _InfinityDateLoader(DateLoader):
    def load(self, data: Any) -> Any:
        if bytes(data) in _INFINITIES:
            return bytes(data).decode()
        return super().load(data)


class _InfinityTimestampLoader(TimestampLoader):
    def load(self, data: Any) -> Any:
        if bytes(data) in _INFINITIES:
            return bytes(data).decode()
        return super().load(data)


class _InfinityTimestamptzLoader(TimestamptzLoader):
    def load(self, data: Any) -> Any:
        if bytes(data) in _INFINITIES:
            return bytes(data).decode()
        return super().load(data)


def register_pg_loaders(conn: psycopg.Connection[Any]) -> None:
    """Make ``conn`` return infinite dates/timestamps as text, and JSON as its text unparsed.

    JSON stays text so a JSON string scalar is not mistaken for JSON text, and ``json`` columns
    keep their exact bytes (key order, spacing).
    """
    conn.adapters.register_loader("json", TextLoader)
    conn.adapters.register_loader("jsonb", TextLoader)
    conn.adapters.register_loader("date", _InfinityDateLoader)
    conn.adapters.register_loader("timestamp", _InfinityTimestampLoader)
    conn.adapters.register_loader("timestamptz", _InfinityTimestamptzLoader)
