"""Which PostgreSQL tables send whole before-images: only those with REPLICA IDENTITY FULL.

Under DEFAULT (or USING INDEX) the old tuple of a delete holds only the key, yet Debezium emits a
whole ``before`` struct and fills its other NOT NULL fields with defaults ('', 0, 1970-01-01).
Such an image looks like a real row: the applier would compare it with the MySQL row, see a
conflict that is not there and, under ``mysql_wins``, keep the row PostgreSQL deleted. So the
consumer keeps only the key of these tables' before-images, and the delete is decided as one
without a before-image (see :mod:`mysql_pg_sync.cdc.conflicts`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import psycopg

from mysql_pg_sync.dialects import postgres as pg_dialect


def key_only_tables(conn: psycopg.Connection[Any], targets: Mapping[str, str]) -> set[str]:
    """The keys of ``targets`` (mapping name -> quoted PostgreSQL schema.table) whose table does
    not have REPLICA IDENTITY FULL; a table that does not exist counts as key-only."""
    if not targets:
        return set()
    names = list(targets)
    rows = conn.execute(pg_dialect.replica_identities_sql(), ([targets[n] for n in names],))
    identity = dict(rows.fetchall())
    conn.commit()  # a read: no snapshot held until the next batch
    return {n for n in names if identity.get(targets[n]) != "f"}


def key_only(image: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    """The key columns of a before-image."""
    return {k: v for k, v in image.items() if k in key}
