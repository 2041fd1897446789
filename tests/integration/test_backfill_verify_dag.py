"""The backfill DAG's verify task: reconcile's checksums after the load, in the run report."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.settings import DatabaseEndpoint

REPO = Path(__file__).resolve().parents[2]


def test_the_dag_verifies_each_loaded_table_and_reports_it(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: Any,
    use_airflow_connections: Any,
) -> None:
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251

    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    cur = conn.cursor()
    cur.execute("CREATE TABLE a (id int PRIMARY KEY, v varchar(10))")
    cur.executemany("INSERT INTO a VALUES (%s, %s)", [(i, f"v{i}") for i in range(500)])
    conn.close()
    entry = {
        "source": f"{mysql_db.database}.a",
        "target": "public.a",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "int(11)", "nullable": False},
            {"name": "v", "column_type": "varchar(10)"},
        ],
    }
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "t.yaml").write_text(yaml.safe_dump({"tables": [entry]}))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    use_airflow_connections(mysql_db, pg_db)

    dag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py")).dags["backfill"]
    run = dag.test(run_conf={"chunk_rows": 200, "require_capture": False, "verify": "checksums"})
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    (report,) = (tmp_path / "reports").glob("backfill_*.json")
    verified = json.loads(report.read_text())["verify"]
    assert verified["mode"] == "checksums"
    assert verified["drift"] == 0
    (table,) = verified["tables"]
    assert table["status"] == "in_sync"
    assert table["rows_compared"] == 500
    assert table["chunk_boundaries"] == 2  # 500 rows in chunks of 200
