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

    def record(
        self,
        table: str,
        key: str,
        side: Side,
        deleted_at: dt.datetime,
        removed_version: Any = None,
    ) -> None:
        """``removed_version``: ``version`` tables, the version the delete removed; it follows
        the newest delete (a key deleted at version 3, re-created at 1 and deleted again counts
        as 1), as the deletes of one key and side arrive in their source order."""
        self.conn.execute(
            "INSERT INTO mps_sync.tombstones (source_table, key, side, deleted_at, removed_version)"
            " VALUES (%s, %s::jsonb, %s, %s, %s) ON CONFLICT (source_table, key, side)"
            " DO UPDATE SET deleted_at = GREATEST(tombstones.deleted_at, EXCLUDED.deleted_at),"
            " recorded_at = now(),"
            " removed_version = CASE WHEN EXCLUDED.deleted_at >= tombstones.deleted_at"
            " THEN EXCLUDED.removed_version ELSE tombstones.removed_version END",
            (table, key, side, deleted_at, removed_version),
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

    def removed_versions(self, table: str, keys: Sequence[str], side: Side) -> dict[str, Any]:
        """Key -> the version the newest delete on ``side`` removed (``version`` tables; keys
        whose delete carried no version are left out)."""
        if not keys:
            return {}
        rows = self.conn.execute(
            "SELECT key::text, removed_version FROM mps_sync.tombstones"
            " WHERE source_table = %s AND side = %s AND key = ANY(%s::jsonb[])"
            " AND removed_version IS NOT NULL",
            (table, side, list(keys)),
        ).fetchall()
        return {tombstone_key(json.loads(k)): v for k, v in rows}
