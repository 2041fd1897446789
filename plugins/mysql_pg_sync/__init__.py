"""mysql-pg-sync: keep a MySQL/MariaDB database and a PostgreSQL database in sync both ways.

Plain Python, testable without a scheduler. Only :mod:`mysql_pg_sync.airflow` imports Airflow.
"""

from __future__ import annotations

__version__ = "0.1.0"
