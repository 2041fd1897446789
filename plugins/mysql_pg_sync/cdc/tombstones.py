"""Tombstones of deleted rows in ``mps_sync.tombstones`` (the stream's state database)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from mysql_pg_sync.cdc.events import Side


def tombstone_key(values: Iterable[Any]) -> str:
    """Side-neutral key: the values as text (ints and text print alike on both sides)."""
    return json.dumps([None if v is None else str(v) for v in values])


class Tombstones:
    """Read and write tombstones on the state connection; the caller commits."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def record(self, table: str, key: str, side: Side, deleted_at: dt.datetime) -> None:
        self.conn.execute(
            "INSERT INTO mps_sync.tombstones (source_table, key, side, deleted_at)"
            " VALUES (%s, %s::jsonb, %s, %s) ON CONFLICT (source_table, key, side)"
            " DO UPDATE SET deleted_at = GREATEST(tombstones.deleted_at, EXCLUDED.deleted_at)",
            (table, key, side, deleted_at),
        )

    def newest(self, table: str, keys: Sequence[str], side: Side) -> dict[str, dt.datetime]:
        """Key -> newest delete time of the deletes that ran on ``side``."""
        if not keys:
            return {}
        rows = self.conn.execute(
            "SELECT key::text, deleted_at FROM mps_sync.tombstones"
            " WHERE source_table = %s AND side = %s AND key = ANY(%s::jsonb[])",
            (table, side, list(keys)),
        ).fetchall()
        return {tombstone_key(json.loads(k)): ts for k, ts in rows}
