"""Per-table sync status for the Airflow "Sync status" page: a pure model built from state rows."""
