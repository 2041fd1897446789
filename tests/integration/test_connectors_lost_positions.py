"""`connectors reset_lost_positions`: a connector whose stored binlog position is gone from
the server fails at every restart; the action forgets the position, applies again, records the
capture gap for its tables (status red until reconciled) and names the reconcile to run. Before,
the hints sent operators to Connect's REST API by hand, and nothing recorded the gap."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from tests.conftest import unique_name
from tests.integration.test_connectors import (  # noqa: F401  (env, settings: fixtures)
    after_id,
    context,
    create_table,
    env,
    failed_trace,
    mysql_exec,
    settings,
    table_mapping,
    wait_for_event,
)

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, change_topic
from mysql_pg_sync.cdc.connector_lifecycle import (
    ConnectorFailed,
    lost_position,
    stop,
    wait_for_source_position,
)
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.status.model import build_status
from mysql_pg_sync.status.read import read_snapshot

pytestmark = pytest.mark.integration

GONE = "mariadb-bin.999999"  # a binlog file the server never had: as good as purged


def _point_at_a_gone_binlog(client: ConnectClient, name: str) -> None:
    stop(client, name, timeout_s=60)
    offsets: list[dict[str, Any]] = client.offsets(name)
    assert offsets, "the connector committed no position"
    moved = []
    for entry in offsets:
        offset = {k: v for k, v in entry["offset"].items() if k != "gtids"}
        moved.append(
            {"partition": entry["partition"], "offset": {**offset, "file": GONE, "pos": 4}}
        )
    client.alter_offsets(name, moved)


def test_a_connector_on_a_gone_binlog_is_reset_and_its_tables_flagged(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    table = f"{env.mysql.database}.orders"
    mapping = table_mapping(env.mysql.database, "orders", "mysql_to_pg")
    ctx = context(env, [mapping], settings)
    actions.apply(ctx)
    client = ConnectClient(env.connect_url)
    name = settings.mysql_connector
    wait_for_source_position(client, name, "file")
    _point_at_a_gone_binlog(client, name)

    with pytest.raises(ConnectorFailed) as failed:  # apply resumes it, and it fails again
        actions.apply(ctx)
    assert lost_position(failed.value.status.failure_trace() if failed.value.status else "")
    assert "reset_lost_positions" in str(failed.value)

    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (1, 'in the gap')")
    result = actions.run_action(ctx, "reset_lost_positions")
    assert result["reset"] == {"mysql": [table]}
    assert result["next"] == [
        f"reconcile --tables {table} --repair --no-dry-run --authoritative mysql"
    ]
    assert client.status(name).is_running
    # apply returned once the reset source had taken a new binlog position, so a write from
    # now on is captured
    assert [o for o in client.offsets(name) if "file" in (o.get("offset") or {})]

    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (2, 'after the reset')")
    topic = change_topic(settings.mysql_topic_prefix, *table.split("."))
    assert wait_for_event(env.kafka_bootstrap, topic, after_id(2))["after"]["note"] == (
        "after the reset"
    )
    (row,) = build_status([mapping], read_snapshot(env, with_connectors=False))
    assert row.health == "failed"
    assert "never captured (its stored position was gone and was reset)" in row.lost_changes
    with pg_connect(env.postgres, autocommit=True) as conn:
        kinds = conn.execute("SELECT kind, source_table FROM mps_sync.stream_gaps").fetchall()
    assert kinds == [("capture", table)]

    # nothing left to reset: said, and nothing done
    again = actions.run_action(ctx, "reset_lost_positions")
    assert again["reset"] == {}


def test_a_row_event_debezium_cannot_read_is_recovered_like_a_lost_position(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
) -> None:
    """MariaDB stores 2021-02-30 under sql_mode ALLOW_INVALID_DATES, and Debezium's binlog
    reader refuses the row event, in whatever table (this one is not captured), at every
    restart. The way past it is the lost-position recovery: capture from now, gap recorded."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    table = f"{env.mysql.database}.orders"
    mapping = table_mapping(env.mysql.database, "orders", "mysql_to_pg")
    ctx = context(env, [mapping], settings)
    actions.apply(ctx)
    client = ConnectClient(env.connect_url)
    name = settings.mysql_connector
    wait_for_source_position(client, name, "file")
    other = unique_name("mps_test_dates")
    mysql_exec(mysql_admin, f"CREATE DATABASE {other}")
    try:
        in_other = replace(mysql_admin, database=other)
        mysql_exec(in_other, "CREATE TABLE d (id int PRIMARY KEY, day date)")
        conn = mysql_connect(in_other, autocommit=True)
        try:
            cur = conn.cursor()
            cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
            cur.execute("INSERT INTO d VALUES (1, '2021-02-30')")
        finally:
            conn.close()
        assert "Error while deserializing binlog data" in failed_trace(client, name)
        report = actions.health(ctx)  # restarts once: fails on the same event
        assert not report.healthy
        assert "cannot read a row event" in report.message()
        assert "reset_lost_positions" in report.message()

        result = actions.run_action(ctx, "reset_lost_positions")
        assert result["reset"] == {"mysql": [table]}
        assert client.status(name).is_running
        mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (7, 'after the reset')")
        topic = change_topic(settings.mysql_topic_prefix, *table.split("."))
        assert wait_for_event(env.kafka_bootstrap, topic, after_id(7))["after"]["id"] == 7
        with pg_connect(env.postgres, autocommit=True) as pg:
            kinds = pg.execute("SELECT kind, source_table FROM mps_sync.stream_gaps").fetchall()
        assert kinds == [("capture", table)]
    finally:
        mysql_exec(mysql_admin, f"DROP DATABASE IF EXISTS {other}")
