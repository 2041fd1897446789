"""A run-time cap on concurrent chunk copies, shared by every worker: PostgreSQL advisory locks.

Airflow fixes ``max_active_tis_per_dagrun`` when the DAG file is parsed, so the trigger form's
"max parallel chunks" is enforced here instead: a copy task holds one of N session-level
advisory locks while it copies, and waits (polling) for a free one.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint

POLL_S = 2.0


@contextmanager
def parallel_slot(endpoint: DatabaseEndpoint, run_id: str, slots: int) -> Iterator[int]:
    """Hold one of ``slots`` slots for ``run_id`` until the block ends; yields the slot number."""
    namespace = zlib.crc32(f"mps-backfill:{run_id}".encode()) & 0x7FFFFFFF
    conn = pg_connect(endpoint, autocommit=True)
    try:
        while True:
            for slot in range(max(1, slots)):
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (namespace, slot)
                ).fetchone()
                if row and row[0]:
                    try:
                        yield slot
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (namespace, slot))
                    return
            time.sleep(POLL_S)
    finally:
        conn.close()
