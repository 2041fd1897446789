"""Create and upgrade the sync metadata schema.

The schema is a list of numbered SQL files in ``state/sql`` (``NNN_topic.sql``), each idempotent
(``CREATE ... IF NOT EXISTS``). Each feature owns its own file; :func:`ensure_schema` applies all
of them in order, under an advisory lock so parallel tasks do not race.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import psycopg

STATE_SCHEMA = "mps_sync"
_LOCK_KEY = 0x6D70_7373  # "mpss": serialises schema creation across concurrent tasks


def schema_files() -> list[tuple[str, str]]:
    """(name, sql) of every schema file, in apply order."""
    folder = resources.files("mysql_pg_sync.state") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name, f.read_text(encoding="utf-8")) for f in files]


def ensure_schema(conn: psycopg.Connection[Any]) -> None:
    """Create or upgrade the state schema; safe to call from every task."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
        for _name, sql in schema_files():
            conn.execute(sql)
