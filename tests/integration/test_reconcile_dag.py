"""The reconcile DAG end to end with ``dag.test()``: mapped per table, report, Asset event,
and the verdict that fails (and alerts) when drift is left."""

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
def test_the_dag_compares_each_table_and_writes_the_report(
    tables: Path, webhook: list[dict[str, Any]]
) -> None:
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    bag = DagBag(dag_folder=str(REPO / "dags" / "reconcile.py"))
    assert bag.import_errors == {}
    dag = bag.dags["reconcile"]
    run = dag.test(run_conf={"recheck_delay_s": 0, "repair": True})  # dry_run stays on
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    # confirmed drift is left (a dry run writes nothing): the verdict fails the run and alerts
    assert states.pop("verdict-1") == "failed", states
    assert set(states.values()) == {"success"}, states
    assert run.state == "failed"
    assert len([k for k in states if k.startswith("compare")]) == 2
    (alert,) = webhook
    assert "reconcile.verdict failed" in alert["text"]
    assert "confirmed drift is left unrepaired" in alert["text"]
    assert ", took " in alert["text"]
    assert "DRY RUN: repairs were only planned and recorded, nothing was written" in alert["text"]
    assert ".b: drift; 1 drift row(s) (different 1); 1 repair(s) planned only" in alert["text"]
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


@pytest.mark.slow  # ~20-40 s: Airflow's warm-up dominates
def test_a_table_that_fails_its_compare_alerts_once_and_is_named(
    tables: Path,
    webhook: list[dict[str, Any]],
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """The compare task of a table whose schema differs from its mapping fails, and the verdict
    fails the run: one alert (the verdict's), which names the table and what to do."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        c.cursor().execute("CREATE TABLE c (id int PRIMARY KEY, v varchar(10))")
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE c (id integer PRIMARY KEY)")  # the mapped column v is missing
    mappings = tmp_path / "mappings" / "t.yaml"
    entries = yaml.safe_load(mappings.read_text())["tables"]
    entries.append({**entries[0], "source": f"{mysql_db.database}.c", "target": "public.c"})
    mappings.write_text(yaml.safe_dump({"tables": entries}))

    bag = DagBag(dag_folder=str(REPO / "dags" / "reconcile.py"))
    run = bag.dags["reconcile"].test(run_conf={"recheck_delay_s": 0})
    states = {ti.task_id + str(ti.map_index): ti.state for ti in run.get_task_instances()}
    assert sorted(k for k, v in states.items() if v == "failed") == ["compare2", "verdict-1"]
    assert run.state == "failed"
    (alert,) = webhook  # not one from the compare task and another from the verdict
    text = alert["text"]
    assert "reconcile.verdict failed" in text
    assert f"1 table(s) could not be compared: {mysql_db.database}.c" in text
    assert "has no column(s) v" in text
    assert f'trigger reconcile with Params tables = ["{mysql_db.database}.c"]' in text
    (html,) = tables.glob("reconcile-*.html")
    page = html.read_text()
    assert "Failed tables" in page
    assert "failed: 1 of 3 table(s) could not be compared" in page


@pytest.mark.slow  # ~20-40 s: Airflow's warm-up dominates
def test_a_run_whose_start_fails_alerts_once_without_retrying(
    tables: Path, webhook: list[dict[str, Any]]
) -> None:
    """A table name no mapping has: start fails at once (retrying cannot fix a setting), and the
    report and verdict do not fail after it (they would alert again about a run that never
    began)."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    bag = DagBag(dag_folder=str(REPO / "dags" / "reconcile.py"))
    run = bag.dags["reconcile"].test(run_conf={"tables": ["no_such.table"]})
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["start"] == "failed"
    assert states["report"] == "upstream_failed"
    assert states["verdict"] == "upstream_failed"
    assert run.state == "failed"
    (alert,) = webhook
    assert "reconcile.start failed" in alert["text"]
    assert "no_such.table" in alert["text"]
    assert not list(tables.glob("reconcile-*.html"))
