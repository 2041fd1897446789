"""A change topic made before the connectors carried large messages keeps Kafka's 1 MB limit,
and a larger row then fails the source task at every restart: `connectors apply` raises the
limit of such topics (never lowers one), against the real broker."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from mysql_pg_sync.cdc.topics import (
    MESSAGE_LIMIT,
    TopicSettings,
    delete_topics,
    limits_to_raise,
    raise_message_limits,
)
from mysql_pg_sync.connections import Endpoints

pytestmark = pytest.mark.integration

BIG = 64 * 1024 * 1024
KAFKA_DEFAULT = 1048588


def _limit(admin: AdminClient, topic: str) -> int:
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return int(future.result(30)[MESSAGE_LIMIT].value)


def test_apply_raises_an_old_topics_limit_and_a_large_message_then_fits(
    endpoints: Endpoints,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    old, larger, absent = (f"mpsml{tag}_mysql.db.{t}" for t in ("old", "larger", "absent"))
    admin = AdminClient({"bootstrap.servers": bootstrap})
    made = admin.create_topics(
        [
            # as a broker with Kafka's default message.max.bytes made it
            NewTopic(old, 1, 1, config={MESSAGE_LIMIT: str(KAFKA_DEFAULT)}),
            NewTopic(larger, 1, 1, config={MESSAGE_LIMIT: str(2 * BIG)}),
        ]
    )
    for future in made.values():
        future.result(30)
    settings = TopicSettings(config=((MESSAGE_LIMIT, str(BIG)),))
    wanted = {old: settings, larger: settings, absent: settings}
    try:
        assert _limit(admin, old) == KAFKA_DEFAULT
        assert _produce(bootstrap, old) is not None  # refused: larger than the topic takes
        assert raise_message_limits(bootstrap, wanted) == {old: BIG}
        assert _limit(admin, old) == BIG
        assert _limit(admin, larger) == 2 * BIG  # an operator's larger limit stays
        assert absent not in admin.list_topics(timeout=10).topics  # not created by this step
        assert raise_message_limits(bootstrap, wanted) == {}  # a second apply changes nothing

        assert _produce(bootstrap, old) is None  # a 3 MB change message is taken now
    finally:
        delete_topics(bootstrap, [f"mpsml{tag}_"])


def _produce(bootstrap: str, topic: str) -> object:
    """The delivery error of a 3 MB message to ``topic``, or None."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": BIG})
    delivered: list[object] = []
    producer.produce(topic, b"x" * (3 * 1024 * 1024), on_delivery=lambda e, m: delivered.append(e))
    assert producer.flush(60) == 0
    [error] = delivered
    return error


def test_only_limits_below_the_wanted_one_are_raised() -> None:
    settings = TopicSettings(config=((MESSAGE_LIMIT, "100"),))
    plain = TopicSettings()
    wanted = {"a": settings, "b": settings, "c": plain}
    assert limits_to_raise(wanted, {"a": 50, "b": 100, "c": 1, "d": 1}) == {"a": 100}
