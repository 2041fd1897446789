"""`dag.test()` of the dead_letters DAG against the real PostgreSQL: list and resolve from the
trigger form, and a form that asks for nothing sensible fails the run, naming what is missing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import items_mapping

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema

REPO = Path(__file__).resolve().parents[2]


def _dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "dead_letters.py"))
    assert bag.import_errors == {}
    return bag.dags["dead_letters"]


def test_the_dag_lists_and_resolves_dead_letters(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapping = items_mapping(mysql_db.database)
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump(mapping.model_dump(mode="json")))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    use_airflow_connections(mysql_db, pg_db)
    with pg_connect(pg_db) as conn:
        ensure_schema(conn)
        row = conn.execute(
            "INSERT INTO mps_sync.dead_letters (source_table, key, error_class, error,"
            " kafka_topic, kafka_partition, kafka_offset, dead_letter_topic)"
            " VALUES (%s, %s, 'CheckViolation', 'new row violates check constraint \"qty\"',"
            " 'mps_mysql.db.items', 0, 5, 'mps.dead-letters') RETURNING id",
            (mapping.name, json.dumps({"id": 3})),
        ).fetchone()
        conn.commit()
    assert row is not None
    letter = int(row[0])
    dag = _dag()

    def logged() -> str:  # where the task log lands depends on how logging is set up by then
        captured = capfd.readouterr()
        return captured.out + captured.err + caplog.text

    run = dag.test(run_conf={"action": "list"})
    assert run.state == "success"
    out = logged()
    assert f"#{letter}" in out
    assert "CheckViolation" in out

    run = dag.test(run_conf={"action": "resolve", "ids": [], "note": "x"})
    assert run.state == "failed"
    assert "resolve needs the ids of the dead letters" in logged()

    run = dag.test(run_conf={"action": "resolve", "ids": [letter], "note": "fixed by hand"})
    assert run.state == "success"
    with pg_connect(pg_db) as conn:
        resolved = conn.execute(
            "SELECT resolved_at IS NOT NULL, resolution FROM mps_sync.dead_letters WHERE id = %s",
            (letter,),
        ).fetchone()
    assert resolved == (True, "resolved by hand: fixed by hand")
