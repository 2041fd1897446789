"""`connectors health` on the command line: the report once, in words, and the exit status
says whether every connector captures (it printed each problem twice, with a log line)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

import pytest
from tests.integration.test_connectors import (  # noqa: F401  (env, settings: fixtures)
    after_id,
    context,
    create_table,
    env,
    mysql_exec,
    settings,
    table_mapping,
    wait_for_event,
)

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, change_topic, include_list
from mysql_pg_sync.cdc.connector_lifecycle import wait_for_source_position, wait_for_state
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration


def test_missing_connectors_are_named_once_each_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"mpsh{uuid.uuid4().hex[:8]}"  # connectors Connect does not have
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", prefix)
    assert main(["connectors", "health"]) == 1
    out, err = capsys.readouterr()
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert sorted(problems) == [
        f"PROBLEM {prefix}-{side}-source: MISSING: the mappings need this connector but Connect "
        "does not have it, so nothing is captured; trigger connectors with action apply "
        "(CLI: connectors apply)"
        for side in ("mysql", "postgres")
    ]
    assert "PROBLEM" not in err
    assert "error:" not in err


def test_a_table_taken_out_of_the_include_list_through_rest_fails_health_until_apply(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Someone PUTs the MySQL source's config without a captured table: the connector stays
    RUNNING, so only the comparison with the rendered config shows that nothing is captured."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    table = f"{env.mysql.database}.orders"
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "mysql_to_pg")], settings)
    actions.apply(ctx)
    client = ConnectClient(env.connect_url)
    name = settings.mysql_connector
    wait_for_source_position(client, name, "file")
    assert actions.health(ctx).healthy

    deployed = client.get_config(name)
    assert deployed is not None
    signal = f"{env.mysql.database}.mps_debezium_signal"
    client.put_config(name, {**deployed, "table.include.list": include_list([signal])})
    wait_for_state(client, name, "RUNNING", timeout_s=60)

    report = actions.health(ctx)
    assert not report.healthy
    assert [s.is_running for s in report.statuses] == [True]  # Connect alone sees nothing wrong
    (problem,) = [p for p in report.problems if "CONFIG DRIFT" in p]
    assert problem.startswith(f"{name}: CONFIG DRIFT")
    assert "table.include.list: " in problem
    assert "connectors apply" in problem
    assert f"reconcile --tables {table} --repair --no-dry-run" in problem
    assert "PROBLEM " + problem in actions.health_text(report)  # what the CLI prints, exit 1
    with pytest.raises(actions.ConnectorsUnhealthy, match="CONFIG DRIFT"):  # the DAG's task
        actions.health_or_raise(ctx)
    assert actions.look(ctx)["config"] == [problem]

    with caplog.at_level(logging.INFO):
        (result,) = actions.apply(ctx)
    assert result.updated
    assert result.uncaptured_before == (table,)
    assert "config changed (table.include.list: " in caplog.text
    assert f"reconcile --tables {table} --repair --no-dry-run" in caplog.text
    assert actions.health(ctx).healthy
    assert actions.look(ctx)["config"] == "deployed configs match the mappings"
    assert _capture_gaps(env) == [(table, "mysql")]  # status shows it red until reconciled
    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (2, 'after apply')")
    event = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, *table.split(".")),
        after_id(2),
    )
    assert event["after"]["note"] == "after apply"


def test_a_table_dropped_from_the_publication_fails_health_and_apply_restores_it(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    """Someone tidies the publication up: pgoutput skips the table's writes while the connector
    runs on, RUNNING. Health named nothing, and apply (config unchanged, no restart) timed out
    blaming table ownership."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "both")], settings)
    actions.apply(ctx)
    assert actions.health(ctx).healthy
    publication = settings.publication_name
    with pg_connect(replace(pg_admin, database=env.postgres.database), autocommit=True) as conn:
        conn.execute(f'ALTER PUBLICATION "{publication}" DROP TABLE public.orders')  # type: ignore[arg-type]

    report = actions.health(ctx)
    assert not report.healthy
    (problem,) = [p for p in report.problems if p.startswith(f"publication {publication}")]
    assert "lacks public.orders: pgoutput skips their writes" in problem
    assert "Run `connectors apply`" in problem
    assert "authoritative postgres" in problem

    (result,) = [r for r in actions.apply(ctx) if r.name == settings.postgres_connector]
    assert not result.changed
    assert result.uncaptured_before == ("public.orders",)
    assert actions.unpublished_tables(env.postgres, publication, ["public.orders"]) == []
    assert actions.health(ctx).healthy
    assert _capture_gaps(env) == [(f"{env.mysql.database}.orders", "postgres")]  # status: red


def _capture_gaps(ends: Endpoints) -> list[tuple[str, str]]:
    with pg_connect(ends.postgres, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT source_table, incoming_side FROM mps_sync.stream_gaps WHERE kind = 'capture'"
        ).fetchall()
    return [(str(t), str(s)) for t, s in rows]
