"""Names the product itself creates inside the synced databases; they are never synced."""

from __future__ import annotations

SIGNAL_TABLE = "mps_debezium_signal"  # Debezium's signal table (incremental snapshots)
STATE_SCHEMA = "mps_sync"  # the sync metadata schema in PostgreSQL

INTERNAL_TABLES = frozenset({SIGNAL_TABLE})
