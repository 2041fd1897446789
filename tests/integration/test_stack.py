"""The local stack answers: databases set up for CDC, a Kafka round trip, Connect plugins."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from mysql_pg_sync.cdc.topics import (
    TopicCreateError,
    TopicSettings,
    create_missing_topics,
    delete_topics,
    message_count,
)
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import Endpoints


def test_mariadb_is_configured_for_cdc(endpoints: Endpoints) -> None:
    conn = mysql_connect(endpoints.mysql)
    cur = conn.cursor()
    cur.execute(
        "SELECT @@log_bin, @@binlog_format, @@binlog_row_image, @@binlog_annotate_row_events,"
        " @@server_id, @@gtid_strict_mode, @@character_set_server"
    )
    assert cur.fetchone() == (1, "ROW", "FULL", 1, 1, 1, "utf8mb4")
    conn.close()


def test_postgres_is_configured_for_logical_decoding(endpoints: Endpoints) -> None:
    with pg_connect(endpoints.postgres) as conn:
        row = conn.execute(
            "SELECT current_setting('wal_level'), current_setting('max_replication_slots')::int,"
            " current_setting('max_wal_senders')::int,"
            " (SELECT count(*) FROM pg_replication_origin WHERE roname = 'mysql_pg_sync')"
        ).fetchone()
    assert row is not None
    assert row[0] == "logical"
    assert row[1] >= 10
    assert row[2] >= 10
    assert row[3] == 1


def test_kafka_produce_and_consume_round_trip(endpoints: Endpoints) -> None:
    topic = f"mps_test_{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": endpoints.kafka_bootstrap})
    payload = {"id": 1, "text": "héllo 🐘"}
    producer.produce(topic, key=b"1", value=json.dumps(payload).encode())
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.kafka_bootstrap,
            "group.id": topic,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        msg = None
        for _ in range(60):
            msg = consumer.poll(1.0)
            if msg is not None and msg.error() is None:
                break
        assert msg is not None
        assert msg.error() is None
        assert msg.key() == b"1"
        assert json.loads(msg.value()) == payload
    finally:
        consumer.close()
        admin.delete_topics([topic])


def test_connect_lists_the_debezium_plugins(endpoints: Endpoints) -> None:
    with urllib.request.urlopen(f"{endpoints.connect_url}/connector-plugins", timeout=10) as resp:
        classes = {plugin["class"] for plugin in json.load(resp)}
    assert {
        "io.debezium.connector.mysql.MySqlConnector",
        "io.debezium.connector.mariadb.MariaDbConnector",
        "io.debezium.connector.postgresql.PostgresConnector",
    } <= classes


def test_delete_topics_removes_exactly_one_pipelines_topics(endpoints: Endpoints) -> None:
    tag = uuid.uuid4().hex[:8]
    ours = [f"mpst{tag}_mysql.db.items", f"mpst{tag}_pg.public.items", f"mpst{tag}.dead-letters"]
    other = f"mpst{tag}x_mysql.db.items"  # another pipeline whose prefix extends ours
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    for future in admin.create_topics(
        [NewTopic(t, num_partitions=1, replication_factor=1) for t in (*ours, other)]
    ).values():
        future.result(30)
    try:
        deleted = delete_topics(endpoints.kafka_bootstrap, [f"mpst{tag}_", f"mpst{tag}."])
        assert deleted == sorted(ours)
        remaining = set(admin.list_topics(timeout=10).topics)
        assert not remaining & set(ours)
        assert other in remaining
        assert delete_topics(endpoints.kafka_bootstrap, [f"mpst{tag}_"]) == []
    finally:
        admin.delete_topics([other])


def test_created_topics_get_what_the_brokers_auto_create_gives_and_existing_ones_stay(
    endpoints: Endpoints,
) -> None:
    """As `connectors apply` creates change topics today (no topic.creation.* in the configs)."""
    bootstrap = endpoints.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    auto, existing, new = (f"mpst{tag}_mysql.db.{t}" for t in ("auto", "existing", "new"))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(existing, num_partitions=1, replication_factor=1)])[
        existing
    ].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})  # a first write: the broker makes it
    producer.produce(auto, b"{}")
    assert producer.flush(30) == 0
    try:
        wanted = {existing: TopicSettings(), new: TopicSettings()}
        assert create_missing_topics(bootstrap, wanted) == [new]
        assert create_missing_topics(bootstrap, wanted) == []
        meta = admin.list_topics(timeout=10).topics
        assert len(meta[existing].partitions) == 1  # left as it was
        assert len(meta[new].partitions) == len(meta[auto].partitions) > 1  # num.partitions
        assert len(meta[new].partitions[0].replicas) == len(meta[auto].partitions[0].replicas)
        assert _topic_configs(admin, new) == _topic_configs(admin, auto)  # cleanup, retention...
    finally:
        delete_topics(bootstrap, [f"mpst{tag}_"])


def test_a_topic_kafka_refuses_to_create_is_named_with_the_reason(endpoints: Endpoints) -> None:
    bootstrap = endpoints.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    refused, fine = f"mpst{tag}_mysql.db.refused", f"mpst{tag}_mysql.db.fine"
    try:
        with pytest.raises(TopicCreateError) as raised:
            create_missing_topics(
                bootstrap, {refused: TopicSettings(replication_factor=5), fine: TopicSettings()}
            )
        message = str(raised.value)
        assert f"{refused}: " in message
        assert "replication factor" in message.lower()  # the broker's reason
        assert fine not in message
        assert fine in AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics
    finally:
        delete_topics(bootstrap, [f"mpst{tag}_"])


def _topic_configs(admin: AdminClient, topic: str) -> dict[str, tuple[str | None, object]]:
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return {name: (entry.value, entry.source) for name, entry in future.result(30).items()}


def test_message_count_sums_the_partitions_and_is_zero_for_a_missing_topic(
    endpoints: Endpoints,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    topic = f"mpst{tag}_count"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(30)
    try:
        assert message_count(bootstrap, topic) == 0
        producer = Producer({"bootstrap.servers": bootstrap})
        for i in range(7):
            producer.produce(topic, b"{}", partition=i % 3)
        assert producer.flush(30) == 0
        assert message_count(bootstrap, topic) == 7
        assert message_count(bootstrap, f"mpst{tag}_absent") == 0
    finally:
        delete_topics(bootstrap, [f"mpst{tag}_"])
