"""The backfill DAG end to end with ``dag.test()``: plan, prepare, mapped copy, finalize."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> Path:
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    cur = conn.cursor()
    for t in ("a", "b"):
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v varchar(10))")
        cur.executemany(f"INSERT INTO {t} VALUES (%s, %s)", [(i, f"v\t{i}") for i in range(500)])
    conn.close()
    entries = [
        {
            "source": f"{mysql_db.database}.{t}",
            "target": f"public.{t}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "v", "column_type": "varchar(10)"},
            ],
        }
        for t in ("a", "b")
    ]
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "t.yaml").write_text(yaml.safe_dump({"tables": entries}))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    use_airflow_connections(mysql_db, pg_db)
    return tmp_path / "reports"


def test_the_dag_copies_every_chunk_and_reports(configured: Path, pg_db: DatabaseEndpoint) -> None:
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251

    bag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py"))
    assert bag.import_errors == {}
    dag = bag.dags["backfill"]
    run = dag.test(run_conf={"chunk_rows": 200, "require_capture": False})
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert len([k for k in states if k.startswith("copy")]) == 6  # 2 tables x 3 chunks
    with pg_connect(pg_db) as conn:
        for t in ("a", "b"):
            rows = conn.execute(f"SELECT id, v FROM public.{t} ORDER BY id").fetchall()  # type: ignore[arg-type]
            assert rows == [(i, f"v\t{i}") for i in range(500)]
        table_states = conn.execute("SELECT state FROM mps_sync.table_state").fetchall()
    assert table_states == [("streaming",), ("streaming",)]
    (report,) = configured.glob("backfill_*.json")
    assert '"rows": 1000' in report.read_text()


def test_a_trigger_with_the_default_params_honours_the_mappings_chunk_rows(
    configured: Path, tmp_path: Path
) -> None:
    """The form's chunk_rows is empty by default: each mapping's hand-tuned
    backfill.chunk_rows applies (a fixed 250000 default made every table one chunk here)."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251

    mappings = tmp_path / "mappings" / "t.yaml"
    data = yaml.safe_load(mappings.read_text())
    for entry in data["tables"]:
        entry["backfill"] = {"chunk_rows": 250}  # 500 rows -> 2 chunks per table
    mappings.write_text(yaml.safe_dump(data))
    dag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py")).dags["backfill"]
    run = dag.test(run_conf={"require_capture": False})
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert len([k for k in states if k.startswith("copy")]) == 4  # 2 tables x 2 chunks


def test_a_failed_table_is_reported_and_the_others_still_stream(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> None:
    """Table ``a`` has a value PostgreSQL refuses, so its chunk fails: ``b`` (finalized after
    ``a``) still reaches ``streaming`` and is verified, the run report names ``a`` and why, and
    the run fails."""
    import json

    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251

    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    cur = conn.cursor()
    cur.execute("CREATE TABLE a (id int PRIMARY KEY, d time)")
    cur.execute("INSERT INTO a VALUES (1, '10:00:00'), (2, '-05:00:00')")
    cur.execute("CREATE TABLE b (id int PRIMARY KEY, v varchar(10))")
    cur.executemany("INSERT INTO b VALUES (%s, %s)", [(i, f"v{i}") for i in range(300)])
    conn.close()
    entries = [
        {
            "source": f"{mysql_db.database}.{t}",
            "target": f"public.{t}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, column],
        }
        for t, column in (
            ("a", {"name": "d", "column_type": "time"}),
            ("b", {"name": "v", "column_type": "varchar(10)"}),
        )
    ]
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "t.yaml").write_text(yaml.safe_dump({"tables": entries}))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    use_airflow_connections(mysql_db, pg_db)

    dag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py")).dags["backfill"]
    # the DAG's own retries (2, 30 s apart): a value PostgreSQL refuses fails its copy, the
    # finalize of its table and the summary at once; a retry would meet the same value
    run = dag.test(run_conf={"chunk_rows": 200, "require_capture": False})
    tries = [(ti.task_id, ti.map_index, ti.try_number) for ti in run.get_task_instances()]
    assert {t for _, _, t in tries} == {1}, tries
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert states["finalize-1"] == "failed", states
    assert states["verify-1"] == "success", states
    assert states["summary-1"] == "failed", states  # the report is written, the run fails
    assert run.state == "failed"
    with pg_connect(pg_db) as conn:
        table_states = dict(conn.execute("SELECT target_table, state FROM mps_sync.table_state"))
    assert table_states == {"public.a": "backfilling", "public.b": "streaming"}
    (report,) = (tmp_path / "reports").glob("backfill_*.json")
    data = json.loads(report.read_text())
    a, b = (f"{mysql_db.database}.{t}" for t in ("a", "b"))
    assert list(data["unfinished"]) == [a]
    assert "ConversionError" in data["unfinished"][a]
    assert data["tables"][b]["state"] == "streaming"
    assert [t["table"] for t in data["verify"]["tables"]] == [b]


@pytest.mark.slow  # ~20-40 s: Airflow's warm-up dominates
def test_a_refused_plan_fails_at_once_and_alerts_once(
    configured: Path, webhook: list[dict[str, Any]]
) -> None:
    """A table name no mapping has: plan fails without retrying (the Params stay wrong), and
    the summary that fails the run after it sends no second alert."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    bag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py"))
    run = bag.dags["backfill"].test(run_conf={"tables": ["no_such_table"]})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["plan"] == "failed"
    assert states["summary"] == "failed"
    assert run.state == "failed"
    (alert,) = webhook
    assert "backfill.plan failed" in alert["text"]
    assert "no mapping matches 'no_such_table'" in alert["text"]
