"""Row images as JSON for the state tables (conflicts, dead letters)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mysql_pg_sync.cdc.events import UNAVAILABLE


def to_json(value: Any) -> Any:
    """Values as JSON: decimals and times as text, bytes as hex, TOAST placeholders marked."""
    if value is UNAVAILABLE:
        return "__unavailable__"
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return "\\x" + bytes(value).hex()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value
