"""A stream consumer makes its dead-letter topic take the letters its producer sends: a topic
made with Kafka's default 1 MB limit refused a larger letter, which stops the stream."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic
from tests.integration.stream_harness import Pipeline

from mysql_pg_sync.cdc.consumer import MAX_MESSAGE_BYTES
from mysql_pg_sync.cdc.topics import MESSAGE_LIMIT, delete_topics

pytestmark = pytest.mark.integration


def _limit(admin: AdminClient, topic: str) -> int:
    [future] = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, topic)]).values()
    return int(future.result(30)[MESSAGE_LIMIT].value)


def test_the_consumer_raises_an_old_dead_letter_topics_limit_and_creates_a_missing_one(
    items: Pipeline,
) -> None:
    bootstrap = items.endpoints.kafka_bootstrap
    tag = uuid.uuid4().hex[:8]
    old, missing = f"mpsdlt{tag}.old.dead-letters", f"mpsdlt{tag}.new.dead-letters"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    [made] = admin.create_topics([NewTopic(old, 1, 1, config={MESSAGE_LIMIT: "1048588"})]).values()
    made.result(30)
    try:
        for topic in (old, missing):
            items.consumer(dead_letter_topic=topic).close()
            assert _limit(admin, topic) == MAX_MESSAGE_BYTES
    finally:
        delete_topics(bootstrap, [f"mpsdlt{tag}."])
