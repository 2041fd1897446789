"""Connector lifecycle against the real Kafka Connect, Debezium, MariaDB, PostgreSQL and Kafka.

Every test uses fresh databases, its own connector names and topic prefix, and deletes its
connectors, replication slot and topics afterwards.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from tests.integration.convergence.checks import high_watermark

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc.connect_client import ConnectApiError, ConnectClient
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, change_topic, render_connectors
from mysql_pg_sync.cdc.connector_lifecycle import wait_for_source_position
from mysql_pg_sync.cdc.connector_signals import ensure_signal_table
from mysql_pg_sync.cdc.preflight import postgres as postgres_preflight
from mysql_pg_sync.cdc.topics import delete_topics
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConfigError, PreflightError
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

EVENT_TIMEOUT_S = 60.0
# How often the waits below look again. Connect answers a status or list in milliseconds and
# the states they wait for come within a second or two, so a coarser poll only adds its own
# length to each wait (several per test).
POLL_S = 0.1


class RecordingSession(requests.Session):
    """A real HTTP session that remembers which requests it sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.sent.append((str(method), str(url)))
        return super().request(method, url, *args, **kwargs)


def table_mapping(db: str, table: str, direction: str = "both") -> TableMapping:
    return TableMapping(
        source=f"{db}.{table}",
        target=f"public.{table}",
        key=("id",),
        direction=direction,  # type: ignore[arg-type]
        columns=(
            ColumnMapping(name="id", column_type="int(11)", pg_type="integer", values=()),
            ColumnMapping(name="note", column_type="varchar(40)", pg_type="varchar(40)"),
        ),
    )


def create_table(
    mysql: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg: DatabaseEndpoint,
    table: str,
    full_before_images: bool = True,
) -> None:
    conn = mysql_connect(replace(mysql_admin, database=mysql.database), autocommit=True)
    try:
        conn.cursor().execute(f"CREATE TABLE `{table}` (id int PRIMARY KEY, note varchar(40))")
    finally:
        conn.close()
    with pg_connect(pg, autocommit=True) as c:
        c.execute(f'CREATE TABLE public."{table}" (id integer PRIMARY KEY, note varchar(40))')
        if full_before_images:  # as `ddl` does for a table synced both ways under mysql_wins
            c.execute(f'ALTER TABLE public."{table}" REPLICA IDENTITY FULL')


def mysql_exec(endpoint: DatabaseEndpoint, sql: str, *params: Any) -> None:
    conn = mysql_connect(endpoint, autocommit=True)
    try:
        conn.cursor().execute(sql, params or None)
    finally:
        conn.close()


def pg_exec(endpoint: DatabaseEndpoint, sql: str, *params: Any) -> None:
    with pg_connect(endpoint, autocommit=True) as c:
        c.execute(sql, params or None)


def wait_for_event(
    bootstrap: str, topic: str, match: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """Read ``topic`` from the start until an event payload matches; fail after a deadline."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"mps-test-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    try:
        # assign() instead of subscribe(): no group join, so no rebalance delay per call.
        while not (meta := consumer.list_topics(topic, timeout=5).topics[topic]).partitions:
            assert time.monotonic() < deadline, f"topic {topic} never appeared"
            time.sleep(0.2)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() or not msg.value():
                continue
            payload = json.loads(msg.value())["payload"]
            if payload and match(payload):
                return payload
    finally:
        consumer.close()
    raise AssertionError(f"no matching event on {topic} within {EVENT_TIMEOUT_S:.0f}s")


def failed_trace(client: ConnectClient, name: str, timeout_s: float = 90) -> str:
    """The trace of the connector's first task to fail; fail the test if none does in time."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        failed = client.status(name).failed_tasks
        if failed:
            return failed[0].trace
        time.sleep(0.5)
    raise AssertionError(f"{name}: no task failed within {timeout_s:.0f} s")


def after_id(wanted: int, op: str = "c") -> Callable[[dict[str, Any]], bool]:
    return lambda p: p.get("op") == op and (p.get("after") or {}).get("id") == wanted


@pytest.fixture
def env(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
) -> Iterator[Endpoints]:
    """Endpoints pointing at fresh databases with the MySQL signal table created by the admin."""
    admin = replace(mysql_admin, database=mysql_db.database)
    ensure_signal_table(admin, "mysql", f"{mysql_db.database}.mps_debezium_signal")
    return replace(endpoints, mysql=mysql_db, postgres=pg_db)


@pytest.fixture
def settings(endpoints: Endpoints) -> Iterator[ConnectorSettings]:
    """Unique connector names and topic prefix; tears down connectors, slot and topics."""
    made = ConnectorSettings(prefix=f"t{uuid.uuid4().hex[:10]}")
    yield made
    client = ConnectClient(endpoints.connect_url)
    for name in (made.mysql_connector, made.postgres_connector):
        client.delete(name)
    deadline = time.monotonic() + 60
    while {made.mysql_connector, made.postgres_connector} & set(client.connectors()):
        assert time.monotonic() < deadline, "connectors were not deleted"
        time.sleep(POLL_S)
    actions.drop_replication_slot(endpoints.postgres, made.slot_name, timeout_s=60)
    delete_topics(endpoints.kafka_bootstrap, [f"{made.prefix}_"])


def context(
    env: Endpoints, mappings: list[TableMapping], settings: ConnectorSettings, **kw: Any
) -> actions.ConnectorContext:
    return actions.ConnectorContext(env, MappingSet(tuple(mappings)), settings, timeout_s=90, **kw)


def test_apply_refuses_a_table_mysql_wins_both_ways_without_full_before_images(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders", full_before_images=False)
    mapping = table_mapping(env.mysql.database, "orders")
    with pytest.raises(PreflightError) as refused:
        actions.apply(context(env, [mapping], settings))
    message = str(refused.value)
    assert "replica_identity_conflicts: public.orders: synced both ways under conflict rule" in (
        message
    )
    assert 'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL' in message
    client = ConnectClient(env.connect_url)
    assert not {settings.mysql_connector, settings.postgres_connector} & set(client.connectors())


def test_apply_refuses_a_postgres_target_without_a_unique_key_on_the_mapping_key(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    """A table made by hand (not by `ddl`) without the key: every streamed change would fail its
    ON CONFLICT; apply says so before any connector starts, for a one-way table too."""
    mysql_exec(
        replace(mysql_admin, database=env.mysql.database),
        "CREATE TABLE `notes` (id int PRIMARY KEY, note varchar(40))",
    )
    pg_exec(env.postgres, "CREATE TABLE public.notes (id integer NOT NULL, note varchar(40))")
    mapping = table_mapping(env.mysql.database, "notes", "mysql_to_pg")
    with pytest.raises(PreflightError) as refused:
        actions.apply(context(env, [mapping], settings))
    message = str(refused.value)
    assert (
        f"target_key: public.notes ({env.mysql.database}.notes): no primary key or unique index "
        "on exactly the key (id)"
    ) in message
    assert 'Fix: ALTER TABLE "public"."notes" ADD PRIMARY KEY ("id")' in message
    client = ConnectClient(env.connect_url)
    assert settings.mysql_connector not in client.connectors()
    pg_exec(env.postgres, "ALTER TABLE public.notes ADD PRIMARY KEY (id)")
    assert postgres_preflight.target_keys(env.postgres, [mapping]) == []


def test_apply_captures_both_databases_and_second_apply_makes_no_put(
    env: Endpoints,
    settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    mapping = table_mapping(env.mysql.database, "orders")
    results = actions.apply(context(env, [mapping], settings))
    assert sorted((r.name, r.created, r.status.is_running) for r in results) == [
        (settings.mysql_connector, True, True),
        (settings.postgres_connector, True, True),
    ]
    orders_topics = [
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
    ]
    assert [t for r in results for t in r.topics_created] == orders_topics  # before any change

    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (1, 'from mysql')")
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (2, 'from pg')")
    mysql_event = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        after_id(1),
    )
    pg_event = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
        after_id(2),
    )
    assert mysql_event["after"]["note"] == "from mysql"
    # Loop prevention reads these (ADR 0003): the GTID carries the writer's domain id.
    assert mysql_event["source"]["gtid"].count("-") == 2
    assert mysql_event["source"]["server_id"] > 0
    assert pg_event["after"]["note"] == "from pg"
    assert pg_event["source"]["origin"] is None

    # The applier's tags (ADR 0003) survive the connector config into the events.
    mysql_exec(
        env.mysql,
        "SET SESSION gtid_domain_id = 77; INSERT INTO orders (id, note) VALUES (3, 'tagged')",
    )
    # An origin is active in one session at a time (PostgreSQL 15) and the stream tests use
    # mysql_pg_sync, so tag with an origin of this test's own, as the admin.
    origin = f"mps_test_{settings.prefix}"
    with pg_connect(replace(pg_admin, database=env.postgres.database), autocommit=True) as conn:
        conn.execute("SELECT pg_replication_origin_create(%s)", (origin,))
        try:
            conn.execute("SELECT pg_replication_origin_session_setup(%s)", (origin,))
            conn.execute("INSERT INTO public.orders (id, note) VALUES (4, 'tagged')")
            conn.execute("SELECT pg_replication_origin_session_reset()")
        finally:
            conn.execute("SELECT pg_replication_origin_drop(%s)", (origin,))
    tagged = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        after_id(3),
    )
    assert tagged["source"]["gtid"].startswith("77-")
    tagged = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
        after_id(4),
    )
    assert tagged["source"]["origin"] == origin

    session = RecordingSession()
    again = actions.apply(
        context(env, [mapping], settings, connect=ConnectClient(env.connect_url, session=session))
    )
    assert [(r.changed, r.topics_created) for r in again] == [(False, ()), (False, ())]
    assert [m for m, _ in session.sent if m != "GET"] == []

    stored = ConnectClient(env.connect_url).get_config(settings.mysql_connector)
    assert stored is not None
    # Connect answers 409 for a duplicate create too: a real 409 to see the retries on.
    retrying = RecordingSession()
    client = ConnectClient(env.connect_url, retries=2, backoff_s=0.01, session=retrying)
    with pytest.raises(ConnectApiError, match=r"HTTP 409.*already exists"):
        client._call(
            "POST", "/connectors", json={"name": settings.mysql_connector, "config": stored}
        )
    assert len(retrying.sent) == 3
    assert stored["database.password"].startswith("${file:")
    for config_name in (settings.mysql_connector, settings.postgres_connector):
        text = json.dumps(ConnectClient(env.connect_url).get_config(config_name))
        assert "sync-local-only" not in text


def test_apply_goes_on_and_says_what_it_costs_when_kafka_refuses_a_change_topic(
    env: Endpoints, settings: ConnectorSettings, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = context(env, [table_mapping(env.mysql.database, "orders")], settings)
    [source, _] = render_connectors(ctx.mappings, env, settings, "mariadb")  # MySQL's first
    refused = replace(
        source,
        config={
            **source.config,
            "topic.creation.default.partitions": "1",
            "topic.creation.default.replication.factor": "5",  # one broker here
        },
    )
    with caplog.at_level(logging.WARNING, logger=actions.__name__):
        assert actions.ensure_change_topics(ctx, refused) == []
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    topic = change_topic(refused.topic_prefix, *refused.tables[0].split("."))
    assert f"{topic}: " in warning
    assert "replication factor" in warning.lower()  # Kafka's reason
    assert "~10 s late" in warning
    assert "trigger connectors with action apply (CLI: connectors apply) again" in warning


def test_added_table_flows_after_reapply(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    first = table_mapping(env.mysql.database, "orders")
    actions.apply(context(env, [first], settings))

    create_table(env.mysql, mysql_admin, env.postgres, "customers")
    second = table_mapping(env.mysql.database, "customers")
    results = actions.apply(context(env, [first, second], settings))
    assert [(r.updated, r.status.is_running) for r in results] == [(True, True), (True, True)]
    # only the added table's topics were missing: the first apply made those of orders
    assert [r.topics_created for r in results] == [
        (change_topic(settings.mysql_topic_prefix, env.mysql.database, "customers"),),
        (change_topic(settings.postgres_topic_prefix, "public", "customers"),),
    ]

    mysql_exec(env.mysql, "INSERT INTO customers (id, note) VALUES (7, 'added later')")
    pg_exec(env.postgres, "INSERT INTO public.customers (id, note) VALUES (8, 'added later')")
    event = wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "customers"),
        after_id(7),
    )
    assert event["after"]["note"] == "added later"
    # The filtered publication was extended by the connector itself.
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "customers"),
        after_id(8),
    )


# How long resume (and apply of a stopped connector) watch a revived connector before calling it
# running: the library's 5 s (REVIVE_SETTLE_S) is for a stored position that is gone, which
# fails a second or two after RUNNING (test_connectors_lost_positions holds that). Here the
# positions are valid; 4 watches of 5 s were two thirds of the test, and the changes written
# after the revival below must still be captured.
REVIVE_WATCH_S = 1.0


def test_pause_resume_stop_and_delete(
    env: Endpoints,
    settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifecycle, "REVIVE_SETTLE_S", REVIVE_WATCH_S)  # read by apply per call
    # control() looks resume up per call; its settle_s default was bound at import
    monkeypatch.setattr(
        lifecycle, "resume", functools.partial(lifecycle.resume, settle_s=REVIVE_WATCH_S)
    )
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders")], settings)
    actions.apply(ctx)

    paused = actions.control(ctx, "pause")
    assert [(s.state, {t.state for t in s.tasks}) for s in paused] == [
        ("PAUSED", {"PAUSED"}),
        ("PAUSED", {"PAUSED"}),
    ]
    assert all(s.is_running for s in actions.control(ctx, "resume"))
    stopped = actions.control(ctx, "stop")
    assert [(s.state, s.tasks) for s in stopped] == [("STOPPED", ()), ("STOPPED", ())]
    # Offsets can be read and altered while STOPPED; the binlog position is there.
    client = ConnectClient(env.connect_url)
    offsets = client.offsets(settings.mysql_connector)
    assert offsets
    assert "file" in offsets[0]["offset"]
    assert "altered successfully" in client.alter_offsets(settings.mysql_connector, offsets)
    # Reset (DELETE) the PostgreSQL source's offsets: it then resumes from its replication slot.
    assert client.offsets(settings.postgres_connector)
    assert "reset successfully" in client.reset_offsets(settings.postgres_connector)
    # no stored position: Connect lists the partition with a null offset, or not at all
    assert all(o["offset"] is None for o in client.offsets(settings.postgres_connector))
    restarted = actions.apply(ctx)
    assert [(r.changed, r.status.is_running) for r in restarted] == [(False, True), (False, True)]

    # both revived connectors capture (the PostgreSQL one from its slot, its offsets reset)
    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (3, 'after stop')")
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (13, 'after stop')")
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        after_id(3),
    )
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
        after_id(13),
    )
    assert actions.delete(ctx) == [settings.mysql_connector, settings.postgres_connector]
    assert not set(ctx.names) & set(client.connectors())

    # Delete for good: the slot goes, and so does the position that pointed into it, so the
    # connectors can be applied again (an invalidated slot is recovered this way).
    actions.apply(ctx)
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (4, 'before drop')")
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
        after_id(4),
    )
    wait_for_source_position(
        client, settings.postgres_connector, "lsn", timeout_s=60, poll_s=POLL_S
    )
    actions.delete(ctx, drop_slot=True)
    with pg_connect(env.postgres, autocommit=True) as conn:
        slots = conn.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (settings.slot_name,)
        ).fetchone()
    assert slots == (0,)
    again = actions.apply(ctx)
    assert [r.status.is_running for r in again] == [True, True]
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (5, 'after drop')")
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
        after_id(5),
    )


@pytest.fixture
def own_mysql_user(
    mysql_admin: DatabaseEndpoint, env: Endpoints, tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    """A capture user for this test alone (others use `sync` concurrently) and its secrets."""
    user, password = f"mps_t_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = replace(mysql_admin, database="mysql")
    for host in ("127.0.0.1", "localhost"):
        mysql_exec(admin, f"CREATE USER '{user}'@'{host}' IDENTIFIED BY %s", password)
        mysql_exec(
            admin,
            "GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* "
            f"TO '{user}'@'{host}'",
        )
        mysql_exec(admin, f"GRANT SELECT, INSERT ON `{env.mysql.database}`.* TO '{user}'@'{host}'")
    secrets = tmp_path / "connect.properties"
    secrets.write_text(f"mysql.user={user}\nmysql.password={password}\n")
    yield user, password, secrets
    for host in ("127.0.0.1", "localhost"):
        mysql_exec(admin, f"DROP USER IF EXISTS '{user}'@'{host}'")


def test_broken_password_fails_health_and_restart_failed_heals(
    env: Endpoints,
    settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    own_mysql_user: tuple[str, str, Path],
) -> None:
    user, password, secrets = own_mysql_user
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(
        replace(env, mysql=replace(env.mysql, user=user, password=password)),
        [table_mapping(env.mysql.database, "orders", "mysql_to_pg")],
        replace(settings, secrets_file=str(secrets)),
    )
    actions.apply(ctx)
    admin = replace(mysql_admin, database="mysql")
    client = ConnectClient(env.connect_url)
    wait_for_source_position(client, settings.mysql_connector, "file", poll_s=POLL_S)

    for host in ("127.0.0.1", "localhost"):
        mysql_exec(admin, f"ALTER USER '{user}'@'{host}' IDENTIFIED BY 'broken-on-purpose'")
    client.restart(settings.mysql_connector, include_tasks=True, only_failed=False)
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not client.status(settings.mysql_connector).is_failed:
        assert time.monotonic() < deadline, "the task did not fail with a wrong password"
        time.sleep(POLL_S)

    report = actions.health(ctx)
    assert not report.healthy
    assert report.restarted == (settings.mysql_connector,)
    assert "Access denied" in report.message()

    for host in ("127.0.0.1", "localhost"):
        mysql_exec(admin, f"ALTER USER '{user}'@'{host}' IDENTIFIED BY %s", password)
    [healed] = actions.control(ctx, "restart_failed")
    assert healed.is_running
    assert actions.health(ctx).healthy


def test_snapshot_tables_runs_an_incremental_snapshot_and_reports_completion(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    for i in range(1, 6):
        mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (%s, 'existing')", i)
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "mysql_to_pg")], settings)
    actions.apply(ctx)

    [result] = actions.snapshot_tables(ctx, ["orders"])
    assert result.outcome == "COMPLETED"
    assert result.tables == (f"{env.mysql.database}.orders",)
    assert result.rows_scanned == {f"{env.mysql.database}.orders": 5}
    wait_for_event(
        env.kafka_bootstrap,
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        after_id(5, op="r"),
    )


@pytest.mark.slow  # two tries of the health task
def test_health_dag_fails_loudly_with_the_connect_trace(
    env: Endpoints,
    settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    own_mysql_user: tuple[str, str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    use_airflow_connections: Callable[[DatabaseEndpoint, DatabaseEndpoint], None],
) -> None:
    user, password, secrets = own_mysql_user
    use_airflow_connections(env.mysql, env.postgres)  # the DAG's kafka_default and friends
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(
        replace(env, mysql=replace(env.mysql, user=user, password=password)),
        [table_mapping(env.mysql.database, "orders", "mysql_to_pg")],
        replace(settings, secrets_file=str(secrets)),
    )
    actions.apply(ctx)
    wait_for_source_position(
        ConnectClient(env.connect_url), settings.mysql_connector, "file", poll_s=POLL_S
    )
    for host in ("127.0.0.1", "localhost"):
        mysql_exec(
            replace(mysql_admin, database="mysql"),
            f"ALTER USER '{user}'@'{host}' IDENTIFIED BY 'broken-on-purpose'",
        )
    client = ConnectClient(env.connect_url)
    client.restart(settings.mysql_connector, include_tasks=True, only_failed=False)
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while not client.status(settings.mysql_connector).is_failed:
        assert time.monotonic() < deadline, "the task did not fail with a wrong password"
        time.sleep(POLL_S)

    from dags.connectors import connectors_health_dag

    # Both tries still run and fail (retries as the DAG declares them); only the wait between
    # them (HEALTH_RETRY_DELAY, 20 s) is cut: dag.test() runs this in-memory DAG's copy, and the
    # scheduler's copy in the metadata database is parsed from the file, unchanged.
    task = connectors_health_dag.get_task("heal_connectors")
    retries = task.retries or 0
    assert retries >= 1
    monkeypatch.setattr(task, "retry_delay", timedelta(seconds=1))
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", settings.prefix)
    monkeypatch.delenv("MPS_ALERT_WEBHOOK", raising=False)
    run = connectors_health_dag.test()
    assert run.state == "failed"
    [tried] = [ti for ti in run.get_task_instances() if ti.task_id == "heal_connectors"]
    assert (tried.state, tried.try_number) == ("failed", 1 + retries)  # the retry ran too
    # The notifier's alert is logged; where it lands depends on how logging is set up by then.
    captured = capfd.readouterr()
    out = captured.out + captured.err + caplog.text
    alert = out[out.index("mysql_pg_sync: connectors_health.heal_connectors failed") :]
    assert "NOT HEALED" in alert, alert[:3000]
    assert "Access denied" in alert, alert[:3000]


def test_the_postgres_slot_advances_while_only_another_database_writes(
    env: Endpoints,
    settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    """WAL is cluster-wide: writes to other databases pile up behind our slot. Debezium's
    heartbeat alone does not move the slot while the captured tables are quiet; the heartbeat
    table does (ADR 0009). Without it this slot stays where it was and PostgreSQL invalidates it
    once max_slot_wal_keep_size is passed."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    fast = replace(settings, heartbeat_ms=1000)
    actions.apply(context(env, [table_mapping(env.mysql.database, "orders")], fast))
    other = replace(pg_admin, database="postgres")
    with pg_connect(other, autocommit=True) as conn:
        for _ in range(20):  # WAL the connector never decodes: another database's records
            conn.execute("SELECT pg_logical_emit_message(false, 'mps-test', repeat('x', 50000))")
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    written = row[0]
    deadline = time.monotonic() + EVENT_TIMEOUT_S
    while True:
        with pg_connect(other, autocommit=True) as conn:
            found = conn.execute(
                "SELECT confirmed_flush_lsn::text, confirmed_flush_lsn >= %s::pg_lsn "
                "FROM pg_replication_slots WHERE slot_name = %s",
                (written, fast.slot_name),
            ).fetchone()
        assert found is not None, f"slot {fast.slot_name} does not exist"
        if found[1]:
            break
        assert time.monotonic() < deadline, (
            f"slot {fast.slot_name} stayed at {found[0]}, behind {written}, for "
            f"{EVENT_TIMEOUT_S:.0f}s"
        )
        time.sleep(0.2)  # the heartbeat moves the slot every second (heartbeat_ms=1000)


def test_postgres_writes_to_an_added_table_are_captured_from_the_moment_apply_returns(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    """pgoutput decodes a change only if its table was in the publication when the change
    committed, so a table the connector adds to its publication only after its task reports
    RUNNING would lose the writes in between, for good."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    first = table_mapping(env.mysql.database, "orders")
    actions.apply(context(env, [first], settings))
    create_table(env.mysql, mysql_admin, env.postgres, "customers")

    returned = threading.Event()
    written_after: list[int] = []
    written: list[int] = []

    def write() -> None:
        with pg_connect(env.postgres, autocommit=True) as conn:
            for n in range(1, 100_000):
                after = returned.is_set()
                conn.execute("INSERT INTO public.customers (id, note) VALUES (%s, 'w')", (n,))
                written.append(n)
                if after:
                    written_after.append(n)
                    if len(written_after) >= 40:
                        return
                time.sleep(0.025)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        actions.apply(
            context(env, [first, table_mapping(env.mysql.database, "customers")], settings)
        )
    finally:
        returned.set()
        writer.join(30)
    assert len(written_after) == 40

    topic = change_topic(settings.postgres_topic_prefix, "public", "customers")
    wait_for_event(env.kafka_bootstrap, topic, after_id(written_after[-1]))
    captured = captured_ids(env.kafka_bootstrap, topic)
    missed = sorted(set(written_after) - captured)
    assert missed == [], f"{len(missed)} writes after apply returned were never captured: {missed}"
    # Capture starts once and then misses nothing: the captured ids are one unbroken run.
    assert sorted(captured) == list(range(min(captured), written[-1] + 1))


def test_mysql_writes_are_captured_from_the_moment_apply_returns_and_a_re_created_source(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    """Connect reports a new MySQL source RUNNING before Debezium has read the binlog position
    it streams from: a write committed in between is never captured, and a backfill started
    right after apply (its handoff trusts RUNNING) would miss it. Apply returns only after the
    start-up snapshot's notice, which comes after that position. A source created again under
    the same name resumes at its stored offsets (the notice says SKIPPED): apply returns too."""
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    mapping = table_mapping(env.mysql.database, "orders", "mysql_to_pg")
    ctx = context(env, [mapping], settings)
    topic = change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders")

    returned = threading.Event()
    written_after: list[int] = []
    written: list[int] = []

    def write(first: int) -> None:
        conn = mysql_connect(env.mysql, autocommit=True)
        try:
            for n in range(first, first + 100_000):
                after = returned.is_set()
                conn.cursor().execute("INSERT INTO orders (id, note) VALUES (%s, 'w')", (n,))
                written.append(n)
                if after:
                    written_after.append(n)
                    if len(written_after) >= 40:
                        return
                time.sleep(0.02)
        finally:
            conn.close()

    for attempt, first in enumerate((1, 1_000_001)):
        returned.clear()
        written_after.clear()
        writer = threading.Thread(target=write, args=(first,))
        writer.start()
        try:
            [result] = actions.apply(ctx)
            # the outcome notice, which follows the binlog position, is there when apply returns
            outcomes = [
                n["type"]
                for n in payloads(
                    env.kafka_bootstrap, f"{settings.mysql_topic_prefix}.notifications"
                )
                if n.get("aggregate_type") == "Initial Snapshot"
                and n.get("type") in ("COMPLETED", "SKIPPED")
            ]
        finally:
            returned.set()
            writer.join(30)
        # (the notices' topic has several partitions: no order between them)
        assert sorted(outcomes) == ["COMPLETED", "SKIPPED"][: attempt + 1]
        assert (result.name, result.created) == (settings.mysql_connector, True)
        assert len(written_after) == 40
        wait_for_event(env.kafka_bootstrap, topic, after_id(written_after[-1]))
        captured = captured_ids(env.kafka_bootstrap, topic)
        missed = sorted(set(written_after) - captured)
        assert missed == [], f"try {attempt}: writes after apply returned never captured: {missed}"
        if attempt == 0:
            client = ConnectClient(env.connect_url)
            client.delete(settings.mysql_connector)
            deadline = time.monotonic() + 60
            while settings.mysql_connector in client.connectors():
                assert time.monotonic() < deadline, "the connector was not deleted"
                time.sleep(POLL_S)
    # The re-created source resumed at its stored binlog position: nothing written while it
    # was gone is missing, so the captured ids are one unbroken run from its first capture.
    assert sorted(captured) == sorted(n for n in written if n >= min(captured))


def captured_ids(bootstrap: str, topic: str) -> set[int]:
    """Every ``after.id`` on the topic (read to its end)."""
    return {p["after"]["id"] for p in payloads(bootstrap, topic) if p.get("after")}


def payloads(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every message payload on the topic, read to its end (JSON with schemas)."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"mps-test-{uuid.uuid4().hex}"}
    )
    try:
        meta = consumer.list_topics(topic, timeout=5).topics[topic]
        parts = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        ends = {p: high_watermark(consumer, TopicPartition(topic, p)) for p in meta.partitions}
        consumer.assign(parts)
        seen: list[dict[str, Any]] = []
        done = {p for p, end in ends.items() if end == 0}
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while len(done) < len(ends) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.value():
                payload = json.loads(msg.value())["payload"]
                if payload:
                    seen.append(payload)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        return seen
    finally:
        consumer.close()


def test_a_table_missing_from_the_publication_fails_apply_with_the_fix(
    env: Endpoints, settings: ConnectorSettings, mysql_admin: DatabaseEndpoint
) -> None:
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    actions.apply(context(env, [table_mapping(env.mysql.database, "orders")], settings))
    actions.wait_until_published(
        env.postgres, settings.publication_name, ["public.orders"], timeout_s=5
    )
    with pytest.raises(ConfigError) as caught:
        actions.wait_until_published(
            env.postgres, settings.publication_name, ["public.orders", "public.nope"], 0.3
        )
    message = str(caught.value)
    assert f"publication {settings.publication_name} still lacks public.nope" in message
    assert f"ALTER PUBLICATION {settings.publication_name} ADD TABLE public.nope" in message
