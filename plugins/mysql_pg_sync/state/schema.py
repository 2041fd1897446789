"""Create and upgrade the sync metadata schema.

The schema is a list of numbered SQL files in ``state/sql`` (``NNN_topic.sql``), each idempotent
(``CREATE ... IF NOT EXISTS``). Each feature owns its own file; :func:`ensure_schema` applies the
files not yet applied in their current form, in order, under an advisory lock so parallel tasks do
not race, and records each file's digest in ``mps_sync.schema_files``.

Once every file is recorded a call only reads that table. DDL locks its table even when it has
nothing to do (``CREATE INDEX IF NOT EXISTS``: SHARE, ``ALTER TABLE ... IF NOT EXISTS``: ACCESS
EXCLUSIVE), so running the files from every task queued each task, and every writer behind it,
after the stream consumer's open transaction for as long as that lasted.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

import psycopg

STATE_SCHEMA = "mps_sync"
_LOCK_KEY = 0x6D70_7373  # "mpss": serialises schema creation across concurrent tasks
_APPLIED = f"{STATE_SCHEMA}.schema_files"
_APPLIED_DDL = f"""
CREATE TABLE IF NOT EXISTS {_APPLIED} (
    name       text PRIMARY KEY,                 -- NNN_topic.sql
    digest     text NOT NULL,                    -- sha256 of the text that was applied
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def schema_files() -> list[tuple[str, str]]:
    """(name, sql) of every schema file, in apply order."""
    folder = resources.files("mysql_pg_sync.state") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def _digest(sql: str) -> str:
    return hashlib.sha256(sql.encode("utf-8")).hexdigest()


def _pending(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """The schema files not recorded as applied with their current text."""
    row = conn.execute("SELECT to_regclass(%s::text) IS NOT NULL", (_APPLIED,)).fetchone()
    applied: set[tuple[str, str]] = set()
    if row and row[0]:
        applied = {(n, d) for n, d in conn.execute(f"SELECT name, digest FROM {_APPLIED}")}
    return [(name, sql) for name, sql in schema_files() if (name, _digest(sql)) not in applied]


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create or upgrade the state schema; safe to call from every task."""
    with conn.transaction():
        if not _pending(conn):
            return
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
        conn.execute(_APPLIED_DDL)
        for name, sql in _pending(conn):  # again: another task may have applied them meanwhile
            conn.execute(sql)
            conn.execute(
                f"INSERT INTO {_APPLIED} (name, digest) VALUES (%s, %s) ON CONFLICT (name) "
                "DO UPDATE SET digest = EXCLUDED.digest, applied_at = now()",
                (name, _digest(sql)),
            )
