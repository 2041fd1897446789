"""Names the product itself creates inside the synced databases; they are never synced."""

from __future__ import annotations

SIGNAL_TABLE = "mps_debezium_signal"  # Debezium's signal table (incremental snapshots)
STATE_SCHEMA = "mps_sync"  # the sync metadata schema in PostgreSQL

APPLIED_OFFSETS_TABLE = "mps_applied_offsets"  # the stream's exactly-once fence in MySQL
# PostgreSQL: the source connector writes it every heartbeat, so the replication slot advances
# even while only other databases of the cluster write WAL (ADR 0009)
HEARTBEAT_TABLE = "mps_debezium_heartbeat"
INTERNAL_TABLES = frozenset({SIGNAL_TABLE, APPLIED_OFFSETS_TABLE, HEARTBEAT_TABLE})
