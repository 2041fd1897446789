"""Hunting the connector lifecycle (delete, apply, pause/resume/stop, health, REST errors)
against the real Kafka Connect, Debezium, MariaDB, PostgreSQL and Kafka.

Each test uses fresh databases, its own connector prefix (``mpsclh...``), and removes its
connectors, replication slot and topics afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition
from tests.integration.test_connectors import (  # noqa: F401  (env: a fixture)
    POLL_S,
    after_id,
    context,
    create_table,
    env,
    mysql_exec,
    pg_exec,
    table_mapping,
    wait_for_event,
)

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, change_topic
from mysql_pg_sync.cdc.connector_lifecycle import wait_for_source_position
from mysql_pg_sync.cdc.topics import delete_topics
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration


@pytest.fixture
def hunt_settings(endpoints: Endpoints) -> Iterator[ConnectorSettings]:
    """Connector names and topic prefix of this test alone; removes connectors (and their
    stored offsets), the slot and the topics afterwards."""
    made = ConnectorSettings(prefix=f"mpsclh{uuid.uuid4().hex[:8]}")
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


def slot_count(pg: DatabaseEndpoint, slot: str) -> int:
    with pg_connect(pg, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def publication_count(pg: DatabaseEndpoint, publication: str) -> int:
    with pg_connect(pg, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_publication WHERE pubname = %s", (publication,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_following_the_kept_slot_warning_leaves_no_slot_and_a_later_apply_captures(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`delete` without drop_slot keeps the slot and says: run delete with drop_replication_slot.
    By then the connector is gone, so that second delete could not forget its stored position,
    and the next `apply` failed on WAL no longer there. Following the advice must leave neither
    slot nor publication behind, and a later apply must capture again."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "pg_to_mysql")], settings)
    actions.apply(ctx)
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (1, 'before delete')")
    topic = change_topic(settings.postgres_topic_prefix, "public", "orders")
    wait_for_event(env.kafka_bootstrap, topic, after_id(1))
    client = ConnectClient(env.connect_url)
    wait_for_source_position(client, settings.postgres_connector, "lsn", timeout_s=60)

    with caplog.at_level(logging.WARNING, logger=actions.__name__):
        assert actions.delete(ctx) == [settings.postgres_connector]
    assert "drop_replication_slot=true" in caplog.text
    assert slot_count(env.postgres, settings.slot_name) == 1

    # the advice, followed
    assert actions.run_action(ctx, "delete", drop_slot=True) == {
        "deleted": [],
        "slot_dropped": True,
    }
    assert slot_count(env.postgres, settings.slot_name) == 0
    assert publication_count(env.postgres, settings.publication_name) == 0

    # Later the connectors are wanted again: apply works and captures from now on.
    again = actions.apply(ctx)
    assert [r.status.is_running for r in again] == [True]
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (2, 'after re-apply')")
    wait_for_event(env.kafka_bootstrap, topic, after_id(2))


def test_a_postgres_source_deleted_with_its_slot_kept_resumes_without_losing_a_change(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
) -> None:
    """`delete` keeps the slot, which keeps the position: the writes made while no connector
    ran are read when apply creates it again (delete forgets Connect's stored position, so the
    re-created connector resumes from the slot)."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "pg_to_mysql")], settings)
    actions.apply(ctx)
    topic = change_topic(settings.postgres_topic_prefix, "public", "orders")
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (1, 'before delete')")
    wait_for_event(env.kafka_bootstrap, topic, after_id(1))
    assert actions.delete(ctx) == [settings.postgres_connector]
    assert slot_count(env.postgres, settings.slot_name) == 1
    for i in range(2, 6):
        pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (%s, 'deleted')", i)
    actions.apply(ctx)
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (6, 'after')")
    for i in range(2, 7):
        wait_for_event(env.kafka_bootstrap, topic, after_id(i))


def topic_events(bootstrap: str, topic: str, until: int, timeout_s: float = 60.0) -> list[Any]:
    """Every change payload on ``topic`` from its start, once one has ``after.id == until``
    (the test's last write): then each partition is read to its end (a table's topic may
    have several partitions; an id's changes are in order within its partition)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"mpsclh-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    found: list[Any] = []
    ends: dict[int, int] | None = None
    done: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        partitions = [TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions]
        consumer.assign(partitions)
        while time.monotonic() < deadline:
            if ends is not None and all(done.get(p, 0) >= end for p, end in ends.items()):
                return found
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            done[msg.partition() or 0] = (msg.offset() or 0) + 1
            value = msg.value()
            if not value:
                continue
            payload = json.loads(value)["payload"]
            found.append(payload)
            if ends is None and (payload.get("after") or {}).get("id") == until:
                ends = {
                    p.partition: consumer.get_watermark_offsets(TopicPartition(topic, p.partition))[
                        1
                    ]
                    for p in partitions
                }
    finally:
        consumer.close()
    raise AssertionError(f"{topic}: id {until} and what precedes it not read in {timeout_s:.0f}s")


class Writer(threading.Thread):
    """Inserts rows with increasing ids into one table on both sides until stopped."""

    def __init__(self, endpoints: Endpoints, table: str, start: int) -> None:
        super().__init__(daemon=True)
        self.env, self.table, self.next_id = endpoints, table, start
        self.written: list[int] = []
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.halt.is_set():
                i = self.next_id
                mysql_exec(
                    self.env.mysql, f"INSERT INTO {self.table} (id, note) VALUES (%s, 'm')", i
                )
                pg_exec(
                    self.env.postgres,
                    f"INSERT INTO public.{self.table} (id, note) VALUES (%s, 'p')",
                    i,
                )
                self.written.append(i)
                self.next_id += 1
                time.sleep(0.02)
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> list[int]:
        self.halt.set()
        self.join(30)
        assert self.error is None, self.error
        return self.written


def test_adding_and_removing_a_table_loses_no_change_of_the_other_table(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
) -> None:
    """`apply` with a table added (then removed) restarts both sources on the new config while
    the app keeps writing another table: every one of those writes must reach Kafka, on both
    sides, and the removed table must not be captured any more."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    create_table(env.mysql, mysql_admin, env.postgres, "customers")
    orders = table_mapping(env.mysql.database, "orders")
    customers = table_mapping(env.mysql.database, "customers")
    actions.apply(context(env, [orders], settings))

    writer = Writer(env, "orders", 1)
    writer.start()
    time.sleep(1)
    added = actions.apply(context(env, [orders, customers], settings))
    assert [r.updated for r in added] == [True, True]
    time.sleep(1)
    removed = actions.apply(context(env, [orders], settings))
    assert [r.updated for r in removed] == [True, True]
    time.sleep(1)
    written = writer.finish()
    last = written[-1]
    assert len(written) > 20
    for topic in (
        change_topic(settings.mysql_topic_prefix, env.mysql.database, "orders"),
        change_topic(settings.postgres_topic_prefix, "public", "orders"),
    ):
        events = topic_events(env.kafka_bootstrap, topic, last)
        seen = {(e.get("after") or {}).get("id") for e in events if e.get("op") == "c"}
        assert sorted(set(written) - seen) == [], f"{topic} lost inserts"

    # customers is no longer captured: a write now never reaches its topic
    mysql_exec(env.mysql, "INSERT INTO customers (id, note) VALUES (900, 'not captured')")
    pg_exec(env.postgres, "INSERT INTO public.customers (id, note) VALUES (901, 'not captured')")
    mysql_exec(env.mysql, "INSERT INTO orders (id, note) VALUES (99999, 'marker')")
    pg_exec(env.postgres, "INSERT INTO public.orders (id, note) VALUES (99999, 'marker')")
    for side, topic_prefix, schema in (
        ("mysql", settings.mysql_topic_prefix, env.mysql.database),
        ("postgres", settings.postgres_topic_prefix, "public"),
    ):
        topic_events(env.kafka_bootstrap, change_topic(topic_prefix, schema, "orders"), 99999)
        customers_topic = change_topic(topic_prefix, schema, "customers")
        consumer = Consumer(
            {"bootstrap.servers": env.kafka_bootstrap, "group.id": f"mpsclh-{uuid.uuid4().hex}"}
        )
        try:
            meta = consumer.list_topics(customers_topic, timeout=10).topics[customers_topic]
            ends = [
                consumer.get_watermark_offsets(TopicPartition(customers_topic, p))[1]
                for p in meta.partitions
            ]
        finally:
            consumer.close()
        assert sum(ends) == 0, f"{side}: customers was captured after its removal"


def signal_rows(mysql: DatabaseEndpoint, table: str) -> int:
    from mysql_pg_sync.connections import mysql_connect

    conn = mysql_connect(mysql, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT count(*) FROM {table}")
        row = cur.fetchone()
    finally:
        conn.close()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("action", ["pause", "stop", "delete"])
def test_snapshot_tables_on_a_connector_that_does_not_run_says_so_at_once(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    action: str,
) -> None:
    """An incremental snapshot is read by the running connector. With the source paused,
    stopped or deleted, snapshot_tables sent its signal and waited ten minutes (twice, with the
    DAG's retry) for a notice that could not come; it must refuse at once, sending nothing,
    naming the connector and what to do."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "mysql_to_pg")], settings)
    actions.apply(ctx)
    actions.run_action(ctx, action)
    signal_table = f"{env.mysql.database}.mps_debezium_signal"
    before = signal_rows(env.mysql, signal_table)
    outcome: list[BaseException | object] = []

    def run() -> None:
        try:
            outcome.append(actions.run_action(ctx, "snapshot_tables", tables=["orders"]))
        except BaseException as exc:  # reported below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)
    assert outcome, "snapshot_tables still waits 30 s later for a connector that does not run"
    [error] = outcome
    assert isinstance(error, ConfigError), error
    assert settings.mysql_connector in str(error)
    assert ("resume" if action != "delete" else "apply") in str(error)
    assert signal_rows(env.mysql, signal_table) == before


def test_a_secret_put_through_rest_never_reaches_the_health_alert_or_the_apply_log(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Someone adds Kafka SASL credentials to the MySQL source through the REST API (the schema
    history's producer and consumer take them): health's drift line and apply's log named the
    keys with both values, the literal password included, and the alert carried it to chat."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders", "mysql_to_pg")], settings)
    actions.apply(ctx)
    client = ConnectClient(env.connect_url)
    deployed = client.get_config(settings.mysql_connector)
    assert deployed is not None
    leaked = f"hunter2-{uuid.uuid4().hex[:6]}"
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required "
        f'username="sync" password="{leaked}";'
    )
    client.put_config(
        settings.mysql_connector,
        {
            **deployed,
            "schema.history.internal.producer.sasl.jaas.config": jaas,
            "schema.history.internal.consumer.sasl.jaas.config": jaas,
            "key.converter.basic.auth.user.info": f"sync:{leaked}",
        },
    )
    report = actions.health(ctx)
    assert not report.healthy
    text = report.message()
    assert "schema.history.internal.producer.sasl.jaas.config" in text
    assert "key.converter.basic.auth.user.info" in text
    assert leaked not in text
    assert leaked not in json.dumps(actions.look(ctx), default=str)
    with caplog.at_level(logging.DEBUG):
        actions.apply(ctx)
    assert "sasl.jaas.config" in caplog.text
    assert leaked not in caplog.text


def test_snapshot_of_a_table_added_later_racing_live_changes_ends_as_mysql_holds_it(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
) -> None:
    """snapshot_tables of a table added after the backfill while the app updates, deletes and
    inserts its rows: folding the table's change topic (snapshot reads and live changes, in
    topic order) must give exactly MySQL's rows: no snapshot read may bring back a deleted row
    or an old value."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    create_table(env.mysql, mysql_admin, env.postgres, "items")
    rows = 3000
    mysql_exec(
        env.mysql,
        f"INSERT INTO items (id, note) SELECT seq, concat('v0-', seq) FROM seq_1_to_{rows}",
    )
    orders = table_mapping(env.mysql.database, "orders", "mysql_to_pg")
    items = table_mapping(env.mysql.database, "items", "mysql_to_pg")
    actions.apply(context(env, [orders], settings))
    ctx = context(env, [orders, items], settings)
    actions.apply(ctx)

    halt = threading.Event()
    errors: list[BaseException] = []

    def churn() -> None:
        import random

        rng = random.Random(7)
        step, next_id = 0, rows + 1
        try:
            while not halt.is_set():
                step += 1
                target = rng.randint(1, rows)
                kind = step % 3
                if kind == 0:
                    mysql_exec(env.mysql, "DELETE FROM items WHERE id = %s", target)
                elif kind == 1:
                    mysql_exec(
                        env.mysql, "UPDATE items SET note = %s WHERE id = %s", f"v{step}", target
                    )
                else:
                    mysql_exec(
                        env.mysql, "INSERT INTO items (id, note) VALUES (%s, 'new')", next_id
                    )
                    next_id += 1
        except BaseException as exc:  # reported below
            errors.append(exc)

    churner = threading.Thread(target=churn, daemon=True)
    churner.start()
    try:
        [result] = actions.snapshot_tables(ctx, ["items"])
    finally:
        halt.set()
        churner.join(30)
    assert not errors, errors
    assert result.outcome == "COMPLETED"
    marker = 10_000_000
    mysql_exec(env.mysql, "INSERT INTO items (id, note) VALUES (%s, 'marker')", marker)
    topic = change_topic(settings.mysql_topic_prefix, env.mysql.database, "items")
    folded: dict[int, str] = {}
    for event in topic_events(env.kafka_bootstrap, topic, marker, timeout_s=120):
        if event["op"] == "d":
            folded.pop(event["before"]["id"], None)
        else:
            folded[event["after"]["id"]] = event["after"]["note"]
    from mysql_pg_sync.connections import mysql_connect

    conn = mysql_connect(env.mysql, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, note FROM items")
        actual = {int(i): str(n) for i, n in cur.fetchall()}
    finally:
        conn.close()
    assert len(actual) > rows // 2
    assert folded == actual


class VanishingConnect(ConnectClient):
    """A real client; someone deletes ``victim`` through the REST API just before our pause or
    resume of it reaches Connect, which then answers a real 404."""

    def __init__(self, url: str, victim: str) -> None:
        super().__init__(url)
        self.victim = victim

    def pause(self, name: str) -> None:
        if name == self.victim:
            self.delete(name)
            deadline = time.monotonic() + 30
            while name in self.connectors():
                assert time.monotonic() < deadline
                time.sleep(POLL_S)
        super().pause(name)


def test_a_connector_deleted_during_pause_is_named_and_the_other_one_is_still_paused(
    env: Endpoints,  # noqa: F811
    hunt_settings: ConnectorSettings,
    mysql_admin: DatabaseEndpoint,
) -> None:
    """`pause` goes through both connectors "each one, even after another failed". A 404 from
    Connect for the first (deleted meanwhile) ended the action there: the PostgreSQL source
    kept running, and the message said only `HTTP 404`, not what to do."""
    settings = hunt_settings
    create_table(env.mysql, mysql_admin, env.postgres, "orders")
    ctx = context(env, [table_mapping(env.mysql.database, "orders")], settings)
    actions.apply(ctx)
    vanishing = VanishingConnect(env.connect_url, settings.mysql_connector)
    ctx = context(env, [table_mapping(env.mysql.database, "orders")], settings, connect=vanishing)
    with pytest.raises(SyncError) as failed:
        actions.control(ctx, "pause")
    message = str(failed.value)
    assert settings.mysql_connector in message
    assert "connectors apply" in message
    assert ConnectClient(env.connect_url).status(settings.postgres_connector).state == "PAUSED"
