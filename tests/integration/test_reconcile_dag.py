"""The reconcile DAG end to end with ``dag.test()``: mapped per table, report, Asset event."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def tables(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections,  # type: ignore[no-untyped-def]
) -> Path:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        for t in ("a", "b"):
            cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v varchar(10))")
            cur.executemany(f"INSERT INTO {t} VALUES (%s, %s)", [(i, f"v{i}") for i in range(50)])
    with pg_connect(pg_db, autocommit=True) as conn:
        for t in ("a", "b"):
            conn.execute(f"CREATE TABLE {t} (id integer PRIMARY KEY, v varchar(10))")  # type: ignore[arg-type]
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {t} VALUES (%s, %s)",  # type: ignore[arg-type]
                    [(i, f"v{i}") for i in range(50)],
                )
        conn.execute("UPDATE b SET v = 'changed' WHERE id = 3")
    entries = [
        {
            "source": f"{mysql_db.database}.{t}",
            "target": f"public.{t}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)"},
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


@pytest.mark.slow  # ~20-40 s: Airflow's warm-up dominates
def test_the_dag_compares_each_table_and_writes_the_report(tables: Path) -> None:
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    bag = DagBag(dag_folder=str(REPO / "dags" / "reconcile.py"))
    assert bag.import_errors == {}
    dag = bag.dags["reconcile"]
    run = dag.test(run_conf={"recheck_delay_s": 0})
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert len([k for k in states if k.startswith("compare")]) == 2
    (html,) = tables.glob("reconcile-*.html")
    page = html.read_text()
    assert ".b" in page
    assert "drift" in page
    # the Asset event says how the run went, so data_quality (or anyone) can tell failed runs
    from airflow.models.asset import AssetEvent, AssetModel  # noqa: TID251  (a DAG test)
    from airflow.utils.session import create_session  # noqa: TID251

    with create_session() as session:
        event = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == "mysql_pg_sync://reconcile")
            .order_by(AssetEvent.id.desc())
            .first()
        )
        assert event is not None
        assert event.extra["status"] == "drift"
        assert html.name == f"reconcile-{event.extra['run_id']}.html"
