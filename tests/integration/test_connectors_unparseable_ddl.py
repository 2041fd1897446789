"""A DDL statement Debezium's parser cannot read (MariaDB's INET6 here) fails the MySQL source
at every restart, whichever database it ran in: Debezium parses every statement in the binlog.
`connectors skip_ddl` gets the connector past one that changes no captured table, losing no
change after it, and refuses one that changes a captured table.

The statement stays in the server's binlog: any other MariaDB source connector reading past it
at the same time fails the same way (the suite's connectors are the tests' own, made and
deleted per test)."""

from __future__ import annotations

from dataclasses import replace

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
from mysql_pg_sync.cdc import ddl_skips
from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_config import DDL_FILTER, ConnectorSettings, change_topic
from mysql_pg_sync.cdc.connector_lifecycle import wait_for_source_position
from mysql_pg_sync.cdc.unparseable_ddl import failed_statement, filter_pattern
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

INET6_TABLE = "CREATE TABLE w (id int PRIMARY KEY, ip inet6, note varchar(10) DEFAULT 'a,b')"


def _started(
    ends: Endpoints, made: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> tuple[actions.ConnectorContext, ConnectClient]:
    create_table(ends.mysql, mysql_admin, ends.postgres, "orders")
    ctx = context(ends, [table_mapping(ends.mysql.database, "orders", "mysql_to_pg")], made)
    actions.apply(ctx)
    client = ConnectClient(ends.connect_url)
    wait_for_source_position(client, made.mysql_connector, "file")
    return ctx, client


def test_a_statement_in_another_database_is_skipped_and_no_change_after_it_is_lost(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
) -> None:
    ctx, client = _started(env, settings, mysql_admin)
    name = settings.mysql_connector
    other = unique_name("mps_test_ddl")
    mysql_exec(mysql_admin, f"CREATE DATABASE {other}")
    try:
        mysql_exec(replace(mysql_admin, database=other), INET6_TABLE)
        mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (1, 'after it')")
        assert failed_statement(failed_trace(client, name)) == INET6_TABLE

        report = actions.health(ctx)  # restarts the task once: it fails on the same statement
        assert not report.healthy
        assert "action skip_ddl" in report.message()

        result = actions.run_action(ctx, "skip_ddl")
        assert result["statement"] == INET6_TABLE
        # unqualified: its database (`use`) is found in the binlog from the connector's position
        assert result["tables"] == [f"{other}.w"]
        assert result["recorded"] is True
        assert client.status(name).is_running
        deployed = (client.get_config(name) or {})[DDL_FILTER]
        assert deployed.endswith("," + filter_pattern(INET6_TABLE))

        # the insert committed after the statement is captured: nothing past it was lost
        topic = change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders")
        assert wait_for_event(env.kafka_bootstrap, topic, after_id(1))["after"]["note"] == (
            "after it"
        )
        mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (2, 'later')")
        assert wait_for_event(env.kafka_bootstrap, topic, after_id(2))["after"]["id"] == 2
        # the skip is part of what the mappings render: no config drift, nothing to heal
        assert actions.health(ctx).healthy
        with pg_connect(env.postgres, autocommit=True) as conn:
            assert ddl_skips.recorded(conn, name) == [INET6_TABLE]
        with pytest.raises(ConfigError, match="has no task that failed on a DDL statement"):
            actions.run_action(ctx, "skip_ddl")
    finally:
        mysql_exec(mysql_admin, f"DROP DATABASE IF EXISTS {other}")


def test_a_statement_on_a_captured_table_is_refused_and_nothing_changes(
    env: Endpoints,  # noqa: F811
    settings: ConnectorSettings,  # noqa: F811
    mysql_admin: DatabaseEndpoint,
) -> None:
    ctx, client = _started(env, settings, mysql_admin)
    name = settings.mysql_connector
    before = client.get_config(name)
    mysql_exec(replace(mysql_admin, database=env.mysql.database), "ALTER TABLE orders ADD ip inet6")
    failed_trace(client, name)

    with pytest.raises(
        ConfigError,
        match=rf"not skipped: .*it changes {env.mysql.database}\.orders, in a database the "
        "connector captures",
    ):
        actions.run_action(ctx, "skip_ddl")
    with pg_connect(env.postgres, autocommit=True) as conn:
        assert ddl_skips.recorded(conn, name) == []
    assert client.get_config(name) == before
    assert client.status(name).is_failed
