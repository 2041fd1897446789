"""Entry point for Airflow's plugin loader (the library folder itself is .airflowignore'd)."""

from mysql_pg_sync.airflow.plugin import SyncStatusPlugin

__all__ = ["SyncStatusPlugin"]
