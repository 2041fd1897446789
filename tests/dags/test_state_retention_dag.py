"""A `dag.test()` run of the state_retention DAG against a real PostgreSQL database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema

REPO = Path(__file__).resolve().parents[2]


def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "state_retention.py"))
    assert bag.import_errors == {}
    return bag.dags["state_retention"]


def test_a_run_prunes_old_tombstones_and_a_dry_run_only_counts(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, use_airflow_connections: Any
) -> None:
    use_airflow_connections(mysql_db, pg_db)
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO mps_sync.tombstones (source_table, key, side, deleted_at, recorded_at)"
            " VALUES ('db.t', '[\"1\"]', 'mysql', now() - interval '40 days',"
            " now() - interval '40 days'), ('db.t', '[\"2\"]', 'mysql', now(), now())"
        )

        def left() -> int:
            return int(conn.execute("SELECT count(*) FROM mps_sync.tombstones").fetchone()[0])

        dag = _dag()
        assert dag.test(run_conf={"dry_run": True}).state == "success"
        assert left() == 2
        # explicit: dag.test() in one process keeps the previous run's conf in the DAG's params
        assert dag.test(run_conf={"dry_run": False}).state == "success"
        assert left() == 1
