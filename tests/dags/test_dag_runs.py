"""`dag.test()` runs of the connectors and stream DAGs against the real stack (the backfill,
reconcile, data_quality and connectors_health DAGs have theirs beside their integration tests)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    _drop_slot,
    items_mapping,
    pipeline,
    wait_until,
)

from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_lifecycle import wait_for_source_position
from mysql_pg_sync.cdc.topics import delete_topics, message_count
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

REPO = Path(__file__).resolve().parents[2]


def _dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id.split('_')[0]}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def _mapping_file(tmp_path: Path, mapping: Any) -> Path:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump(mapping.model_dump(mode="json")))
    return folder


@pytest.mark.slow
def test_connectors_dag_applies_then_deletes(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> None:
    from dataclasses import replace

    admin = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    admin.cursor().execute(ITEMS_MYSQL)
    # as stack/conf/mariadb-bootstrap.sql does for the synced database
    admin.cursor().execute(
        "CREATE TABLE mps_debezium_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL,"
        " data varchar(2048) NULL)"
    )
    admin.close()
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(ITEMS_PG)  # type: ignore[arg-type]
        # as `ddl` does for a table synced both ways under mysql_wins (ADR 0014)
        conn.execute("ALTER TABLE public.items REPLICA IDENTITY FULL")
    prefix = f"mpsd{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(
        "MPS_MAPPINGS_DIR", str(_mapping_file(tmp_path, items_mapping(mysql_db.database)))
    )
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", prefix)
    use_airflow_connections(mysql_db, pg_db)
    client = ConnectClient(endpoints.connect_url)
    dag = _dag("connectors")
    try:
        run = dag.test(run_conf={"action": "apply"})
        assert run.state == "success"
        names = {n for n in client.connectors() if n.startswith(prefix)}
        assert names == {f"{prefix}-mysql-source", f"{prefix}-postgres-source"}
        assert all(client.status(n).is_running for n in names)
        run = dag.test(run_conf={"action": "status"})  # a read-only look from the UI
        assert run.state == "success"
        assert all(client.status(n).is_running for n in names)
        run = dag.test(
            run_conf={"action": "delete", "drop_replication_slot": True, "confirm": "delete"}
        )
        assert run.state == "success"
        assert not {n for n in client.connectors() if n.startswith(prefix)}
    finally:
        for name in client.connectors():
            if name.startswith(prefix):
                client.delete(name, missing_ok=True)
        _drop_slot(pg_admin, f"{prefix}_pg_slot")
        delete_topics(endpoints.kafka_bootstrap, [prefix])


@pytest.mark.slow
def test_stream_dag_applies_a_mysql_change(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> None:
    mapping = items_mapping(mysql_db.database).model_copy(update={"direction": "mysql_to_pg"})
    with pipeline(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, [mapping], [ITEMS_MYSQL], [ITEMS_PG]
    ) as p:
        for name, value in p.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MPS_MAPPINGS_DIR", str(_mapping_file(tmp_path, mapping)))
        use_airflow_connections(mysql_db, pg_db)
        # the source snapshots no rows (the backfill copies them) and streams from the binlog
        # position it takes in its snapshot: a row written before that is never captured, and
        # on a busy machine the snapshot ends after the test's first write
        wait_for_source_position(
            ConnectClient(endpoints.connect_url), p.settings.mysql_connector, "file", timeout_s=120
        )
        m = p.mysql()
        m.cursor().execute("INSERT INTO items VALUES (7, 'from the DAG', 1, 2.50, NOW(6), NULL)")
        m.close()
        # and in Kafka before the run starts, which finds a new topic only at its metadata
        # refresh (every ~10 s). With the topic there at subscribe, the group join and the
        # batch took under 0.5 s on the local stack: 9 s (0.15 min) leave room on a busy
        # machine (0.3 min spent 18 s, mostly idle)
        topic = f"{p.settings.mysql_topic_prefix}.{mysql_db.database}.items"
        wait_until(lambda: message_count(endpoints.kafka_bootstrap, topic) > 0, timeout_s=90)
        run = _dag("stream").test(run_conf={"minutes": 0.15})
        assert run.state == "success"

        def arrived() -> bool:
            with p.pg() as pg:
                return pg.execute("SELECT name FROM items WHERE id = 7").fetchone() == (
                    "from the DAG",
                )

        wait_until(arrived, timeout_s=5)
