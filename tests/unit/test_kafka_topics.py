"""Which topics a prefix deletion selects; which change topics `connectors apply` creates."""

from __future__ import annotations

from dataclasses import replace

import pytest
from tests.unit.test_connector_config import ENDPOINTS, MAPPINGS

from mysql_pg_sync.cdc.connector_config import (
    ConnectorSettings,
    RenderedConnector,
    change_topic,
    render_connectors,
)
from mysql_pg_sync.cdc.topics import (
    BROKER_DEFAULT,
    TopicSettings,
    change_topic_settings,
    connect_topic_settings,
    matching_topics,
    missing_topics,
)
from mysql_pg_sync.errors import ConfigError

TOPICS = [
    "__consumer_offsets",
    "mpst1a2b3c4d_mysql.db.items",
    "mpst1a2b3c4d_pg.public.items",
    "mpst1a2b3c4d.dead-letters",
    "__debezium-heartbeat.mpst1a2b3c4d_mysql",
    "__debezium-heartbeat.mps_mysql",
    "mps_mysql.legacy.orders",
    "connect-offsets",
]


def test_a_prefix_selects_its_topics_sorted() -> None:
    assert matching_topics(TOPICS, ["mpst1a2b3c4d"]) == [
        "__debezium-heartbeat.mpst1a2b3c4d_mysql",
        "mpst1a2b3c4d.dead-letters",
        "mpst1a2b3c4d_mysql.db.items",
        "mpst1a2b3c4d_pg.public.items",
    ]


def test_an_empty_prefix_selects_nothing_rather_than_everything() -> None:
    assert matching_topics(TOPICS, [""]) == []
    assert matching_topics(TOPICS, []) == []


def test_internal_topics_other_than_the_prefix_heartbeats_are_never_selected() -> None:
    assert matching_topics(TOPICS, ["__"]) == []
    assert matching_topics(TOPICS, ["mps_"]) == [
        "__debezium-heartbeat.mps_mysql",
        "mps_mysql.legacy.orders",
    ]


# -- which change topics `connectors apply` creates, and how ---------------------------------------


def connectors(**config: str) -> list[RenderedConnector]:
    rendered = render_connectors(MAPPINGS, ENDPOINTS, ConnectorSettings(prefix="mps"), "mariadb")
    return [replace(c, config={**c.config, **config}) for c in rendered]


def test_each_enabled_mapping_gets_the_change_topic_of_each_side_it_captures() -> None:
    wanted = change_topic_settings(connectors())
    assert sorted(wanted) == [
        "mps_mysql.legacy.customers",
        "mps_mysql.legacy.orders",
        "mps_pg.public.audit",
        "mps_pg.public.orders",
    ]


def test_the_rendered_change_topics_take_the_brokers_counts_and_64_mib_messages() -> None:
    # a MEDIUMTEXT/LONGTEXT/BLOB value made a change message over Kafka's 1 MB default, and
    # the source task failed at every restart
    settings = set(change_topic_settings(connectors()).values())
    assert settings == {
        TopicSettings(BROKER_DEFAULT, BROKER_DEFAULT, (("max.message.bytes", "67108864"),))
    }
    for c in connectors():
        assert c.config["producer.override.max.request.size"] == "67108864"


def test_without_topic_creation_properties_the_broker_defaults_apply_as_its_auto_create() -> None:
    assert connect_topic_settings({}, "mps_mysql.legacy.orders") == TopicSettings(
        BROKER_DEFAULT, BROKER_DEFAULT, ()
    )


def test_kafka_connects_default_group_gives_partitions_factor_and_topic_configs() -> None:
    config = {
        "topic.creation.default.partitions": "6",
        "topic.creation.default.replication.factor": "3",
        "topic.creation.default.cleanup.policy": "compact",
        "topic.creation.default.include": "ignored.*",  # Connect ignores the default's regexes
    }
    assert connect_topic_settings(config, "mps_mysql.legacy.orders") == TopicSettings(
        6, 3, (("cleanup.policy", "compact"),)
    )


def test_the_first_listed_group_that_includes_and_does_not_exclude_the_topic_wins() -> None:
    config = {
        "topic.creation.groups": "audit, big ,default",
        "topic.creation.default.partitions": "3",
        "topic.creation.default.replication.factor": "-1",
        "topic.creation.default.retention.ms": "604800000",
        "topic.creation.audit.include": r"mps_pg\.public\.audit",
        "topic.creation.audit.retention.ms": "-1",
        "topic.creation.big.include": r"mps_mysql\..*, mps_pg\..*",
        "topic.creation.big.exclude": r".*\.customers",
        "topic.creation.big.partitions": "12",
    }
    # a group without its own partitions / factor takes the default group's; no other settings
    assert connect_topic_settings(config, "mps_pg.public.audit") == TopicSettings(
        3, -1, (("retention.ms", "-1"),)
    )
    assert connect_topic_settings(config, "mps_mysql.legacy.orders") == TopicSettings(12, -1, ())
    assert connect_topic_settings(config, "mps_mysql.legacy.customers") == TopicSettings(
        3, -1, (("retention.ms", "604800000"),)
    )
    # include must match the whole name, as Java's Pattern.matches does
    assert connect_topic_settings(config, "xmps_mysql.legacy.orders").partitions == 3


def test_only_missing_topics_are_created_and_existing_ones_keep_their_settings() -> None:
    wanted = change_topic_settings(connectors())
    existing = ["mps_mysql.legacy.orders", "mps_pg.public.audit", "other"]
    assert list(missing_topics(wanted, existing)) == [
        "mps_mysql.legacy.customers",
        "mps_pg.public.orders",
    ]
    assert missing_topics(wanted, wanted) == {}


def test_a_change_topic_replaces_characters_kafka_refuses_as_debezium_does() -> None:
    assert change_topic("mps_mysql", "legacy", "group") == "mps_mysql.legacy.group"
    assert change_topic("mps_mysql", "legacy", "my-tab_1.x") == "mps_mysql.legacy.my-tab_1.x"
    # one '_' per UTF-16 unit, as Java counts: a character outside the BMP becomes two
    assert change_topic("mps_mysql", "légacy", "order items🐘") == "mps_mysql.l_gacy.order_items__"


def test_a_partition_count_that_is_no_number_is_named() -> None:
    config = {"topic.creation.default.partitions": "six"}
    with pytest.raises(ConfigError, match=r"topic\.creation\.default\.partitions is 'six'"):
        connect_topic_settings(config, "mps_mysql.legacy.orders")
