"""The data_quality DAG end to end with ``dag.test()`` against real databases."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from tests.integration.test_quality_gx import seeded  # noqa: F401  (fixture)

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import MappingSet, dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

REPO = Path(__file__).resolve().parents[2]


def _uri(scheme: str, e: DatabaseEndpoint) -> str:
    return f"{scheme}://{quote(e.user)}:{quote(e.password)}@{e.host}:{e.port}/{e.database}"


@pytest.fixture
def dag_env(seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: F811
    endpoints, mappings, expectations = seeded
    folder = tmp_path / "mappings"
    folder.mkdir()
    entries = [dump_yaml_entry(m) for m in mappings]
    (folder / "t.yaml").write_text(yaml.safe_dump({"tables": entries}))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_EXPECTATIONS_DIR", str(expectations))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    # Airflow reads AIRFLOW_CONN_* before its metadata DB: the DAG talks to the test databases.
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_SOURCE", _uri("mysql", endpoints.mysql))
    monkeypatch.setenv("AIRFLOW_CONN_POSTGRES_TARGET", _uri("postgres", endpoints.postgres))
    return endpoints, mappings


def _dag():
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251

    bag = DagBag(dag_folder=str(REPO / "dags" / "data_quality.py"))
    assert bag.import_errors == {}
    return bag.dags["data_quality"]


@pytest.mark.slow  # two dag.test() runs, each importing Great Expectations (~45 s in all)
def test_clean_table_run_succeeds_and_a_fail_breach_fails_the_run(dag_env) -> None:
    endpoints: Endpoints = dag_env[0]
    mappings = dag_env[1]
    clean, dirty = (m.name for m in MappingSet(tuple(mappings)))
    dag = _dag()

    ok = dag.test(run_conf={"tables": [clean]})
    assert [ti.state for ti in ok.get_task_instances()] == ["success"]

    bad = dag.test(run_conf={"tables": [dirty]})
    (ti,) = bad.get_task_instances()
    assert ti.state == "failed"
    assert ti.try_number == 1  # a breach is not retried
    with pg_connect(endpoints.postgres) as conn:
        runs = dict(conn.execute("SELECT run_id, success FROM mps_sync.dq_runs").fetchall())
    assert runs == {ok.run_id: True, bad.run_id: False}
