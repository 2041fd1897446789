"""The Kafka topics of the change capture: create a mapped table's change topics before its first
change, delete the topics of a connector prefix (a torn-down pipeline's change topics).

Debezium names every topic of a connector after its ``topic.prefix``: change topics, schema
history and transaction metadata start with it, heartbeats are ``__debezium-heartbeat.<prefix>``.
So one prefix selects them all.

Left to itself, Kafka creates a table's change topic when Debezium writes the table's first change,
and a stream consumer subscribed to it sees it only at its next metadata refresh (10 s) and
rebalance: that first change came 9-12 s late, later ones in about a second. ``connectors apply``
therefore creates the missing ones first, with the settings Kafka would have given them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.cdc.connector_config import RenderedConnector, change_topic
from mysql_pg_sync.cdc.events import Side
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.mapping.models import MappingSet

log = logging.getLogger(__name__)


class TopicDeleteError(SyncError):
    """Kafka refused or did not confirm the deletion of a topic."""


class TopicCreateError(SyncError):
    """Kafka could not be asked, or refused to create a topic; the message names each and why."""


HEARTBEAT_TOPIC_PREFIX = "__debezium-heartbeat."  # Debezium's default topic.heartbeat.prefix
BROKER_DEFAULT = -1  # partitions / replication factor: the broker's num.partitions and so on
TOPIC_CREATION = "topic.creation."  # Kafka Connect's per-connector topic creation (KIP-158)
_GROUP_KEYS = ("include", "exclude", "partitions", "replication.factor")


@dataclass(frozen=True)
class TopicSettings:
    """What a new topic gets; the broker's defaults unless a value is given."""

    partitions: int = BROKER_DEFAULT
    replication_factor: int = BROKER_DEFAULT
    config: tuple[tuple[str, str], ...] = ()  # topic configs, e.g. ("cleanup.policy", "delete")


def connect_topic_settings(connector_config: Mapping[str, str], topic: str) -> TopicSettings:
    """The settings a topic gets when the connector's first write to it makes it.

    With ``topic.creation.*`` properties Kafka Connect creates it: with the first group listed in
    ``topic.creation.groups`` whose ``include`` and not ``exclude`` regular expressions match the
    topic, else the ``default`` group; a group's partitions and replication factor fall back to the
    default group's, its other properties are topic configs. Without them (the rendered configs
    today) the broker auto-creates it with its own defaults, which ``BROKER_DEFAULT`` and no topic
    config ask for. (A worker with ``topic.creation.enable=false`` leaves it to the broker too; its
    setting cannot be read from here.)
    """
    if not any(key.startswith(TOPIC_CREATION) for key in connector_config):
        return TopicSettings()

    def group(name: str) -> dict[str, str]:
        prefix = f"{TOPIC_CREATION}{name}."
        return {k[len(prefix) :]: v for k, v in connector_config.items() if k.startswith(prefix)}

    def matches(props: Mapping[str, str]) -> bool:
        return _any_fullmatch(props.get("include", ""), topic) and not _any_fullmatch(
            props.get("exclude", ""), topic
        )

    listed = _csv(connector_config.get(f"{TOPIC_CREATION}groups", ""))
    named = (name for name in dict.fromkeys(listed) if name != "default")
    chosen = next((name for name in named if matches(group(name))), "default")

    def number(key: str) -> int:
        for name in (chosen, "default"):
            prop = f"{TOPIC_CREATION}{name}.{key}"
            if prop in connector_config:
                try:
                    return int(connector_config[prop])
                except ValueError:
                    raise ConfigError(
                        f"{prop} is {connector_config[prop]!r}; it must be a whole number "
                        f"({BROKER_DEFAULT} for the broker's default)"
                    ) from None
        return BROKER_DEFAULT

    return TopicSettings(
        partitions=number("partitions"),
        replication_factor=number("replication.factor"),
        config=tuple(sorted((k, v) for k, v in group(chosen).items() if k not in _GROUP_KEYS)),
    )


def change_topic_settings(connectors: Iterable[RenderedConnector]) -> dict[str, TopicSettings]:
    """Each change topic the connectors write (one per captured table) -> its settings."""
    wanted = {}
    for connector in connectors:
        for table in connector.tables:  # db.table / schema.table, joined again by change_topic
            topic = change_topic(connector.topic_prefix, *table.split(".", 1))
            wanted[topic] = connect_topic_settings(connector.config, topic)
    return wanted


def change_topics(
    mappings: MappingSet, mysql_topic_prefix: str, pg_topic_prefix: str
) -> dict[str, tuple[Side, str]]:
    """Kafka change topic -> (the side its changes come from, MySQL db.table of the mapping),
    for every enabled mapping and each direction it replicates."""
    topics: dict[str, tuple[Side, str]] = {}
    for m in mappings.enabled():
        if m.replicates_to_pg():
            topic = change_topic(mysql_topic_prefix, m.source.db, m.source.table)
            topics[topic] = ("mysql", m.name)
        if m.replicates_to_mysql():
            topic = change_topic(pg_topic_prefix, m.target.schema, m.target.table)
            topics[topic] = ("postgres", m.name)
    return topics


def missing_topics(
    wanted: Mapping[str, TopicSettings], existing: Iterable[str]
) -> dict[str, TopicSettings]:
    """The topics of ``wanted`` Kafka does not have, sorted; existing ones are left as they are."""
    have = set(existing)
    return {name: wanted[name] for name in sorted(wanted) if name not in have}


MESSAGE_LIMIT = "max.message.bytes"


def limits_to_raise(
    wanted: Mapping[str, TopicSettings], current: Mapping[str, int]
) -> dict[str, int]:
    """Existing topics (``current``: topic -> its max.message.bytes) whose limit is below the
    one ``wanted`` gives new topics -> that limit. Never lowers one: an operator's larger
    limit stays."""
    raise_to = {}
    for name in sorted(current):
        want = dict(wanted[name].config).get(MESSAGE_LIMIT) if name in wanted else None
        if want is not None and int(want) > current[name]:
            raise_to[name] = int(want)
    return raise_to


def matching_topics(topics: Iterable[str], prefixes: Iterable[str]) -> list[str]:
    """The names in ``topics`` that start with one of ``prefixes``, and those prefixes'
    heartbeat topics; no other internal (``__``) topic."""
    wanted = tuple(p for p in prefixes if p)
    if not wanted:
        return []
    heartbeats = tuple(HEARTBEAT_TOPIC_PREFIX + p for p in wanted)
    return sorted(
        t
        for t in topics
        if t.startswith(heartbeats) or (not t.startswith("__") and t.startswith(wanted))
    )


def create_missing_topics(
    bootstrap: str, wanted: Mapping[str, TopicSettings], timeout_s: float = 10.0
) -> list[str]:
    """Create each topic of ``wanted`` that Kafka does not have yet; returns the names created.

    One created meanwhile (Debezium wrote to it first) counts as there. Raises
    :class:`TopicCreateError` naming each topic Kafka refused and why (the others are created).
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import NewTopic

    admin = _admin(bootstrap)
    missing = missing_topics(wanted, _topic_names(admin, bootstrap, timeout_s, TopicCreateError))
    if not missing:
        return []
    new = [
        NewTopic(
            name,
            num_partitions=settings.partitions,
            replication_factor=settings.replication_factor,
            config=dict(settings.config),
        )
        for name, settings in missing.items()
    ]
    created, failed = [], []
    for name, future in admin.create_topics(new, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                failed.append(f"{name}: {exc.args[0].str()}")
    if created:
        log.info("created %d topic(s): %s", len(created), ", ".join(sorted(created)))
    if failed:
        raise TopicCreateError(
            f"Kafka at {bootstrap} did not create {len(failed)} topic(s): " + "; ".join(failed)
        )
    return sorted(created)


def raise_message_limits(
    bootstrap: str, wanted: Mapping[str, TopicSettings], timeout_s: float = 10.0
) -> dict[str, int]:
    """Raise the max.message.bytes of each existing topic of ``wanted`` to the limit new ones
    get; returns topic -> new limit. A topic made before the connectors carried large messages
    keeps Kafka's 1 MB otherwise, and a larger row's change then fails the source task at
    every restart (RecordTooLargeException). Raises :class:`TopicCreateError` naming each topic
    Kafka refused to change and why (the others are changed)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

    admin = _admin(bootstrap)
    limited = [n for n, s in wanted.items() if MESSAGE_LIMIT in dict(s.config)]
    existing = set(_topic_names(admin, bootstrap, timeout_s, TopicCreateError))
    resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in limited if n in existing]
    if not resources:
        return {}
    current, failed = {}, []
    for resource, future in admin.describe_configs(resources, request_timeout=timeout_s).items():
        try:
            current[resource.name] = int(future.result(timeout=timeout_s)[MESSAGE_LIMIT].value)
        except KafkaException as exc:
            failed.append(f"{resource.name}: {exc.args[0].str()}")
    raise_to = limits_to_raise(wanted, current)
    changes = [
        ConfigResource(
            ConfigResource.Type.TOPIC,
            name,
            incremental_configs=[
                ConfigEntry(MESSAGE_LIMIT, str(limit), incremental_operation=AlterConfigOpType.SET)
            ],
        )
        for name, limit in raise_to.items()
    ]
    raised = {}
    if changes:
        futures = admin.incremental_alter_configs(changes, request_timeout=timeout_s)
        for resource, future in futures.items():
            try:
                future.result(timeout=timeout_s)
                raised[resource.name] = raise_to[resource.name]
            except KafkaException as exc:
                failed.append(f"{resource.name}: {exc.args[0].str()}")
    if raised:
        log.info(
            "raised %s of %d topic(s) made before: %s",
            MESSAGE_LIMIT,
            len(raised),
            ", ".join(f"{n} -> {v}" for n, v in sorted(raised.items())),
        )
    if failed:
        raise TopicCreateError(
            f"Kafka at {bootstrap} did not raise {MESSAGE_LIMIT} of {len(failed)} topic(s): "
            + "; ".join(sorted(failed))
        )
    return raised


def delete_topics(bootstrap: str, prefixes: Iterable[str], timeout_s: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; returns their names.

    An empty prefix selects nothing (it would be every topic)."""
    from confluent_kafka import KafkaException

    admin = _admin(bootstrap)
    names = matching_topics(_topic_names(admin, bootstrap, timeout_s, TopicDeleteError), prefixes)
    if not names:
        return []
    failed = []
    for name, future in admin.delete_topics(names, operation_timeout=timeout_s).items():
        try:
            future.result(timeout=timeout_s)
        except KafkaException as exc:
            if "UNKNOWN_TOPIC_OR_PART" not in str(exc):  # deleted meanwhile: the goal holds
                failed.append(f"{name}: {exc}")
    if failed:
        raise TopicDeleteError(
            f"Kafka at {bootstrap} did not delete {len(failed)} topic(s): "
            + "; ".join(failed[:5])
            + ". Check the broker log, then run the deletion again."
        )
    return names


def leader_pending(exc: BaseException) -> bool:
    """A partition whose leader is still being elected, a broker that has not caught up, or a
    topic just created again that the client's metadata does not know yet (librdkafka marks
    none of these retriable on these calls)."""
    from confluent_kafka import KafkaError

    error = exc.args[0] if exc.args else None
    return isinstance(error, KafkaError) and error.code() in (
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError._TIMED_OUT,
        KafkaError._TRANSPORT,
    )


def message_count(bootstrap: str, topic: str, timeout_s: float = 10.0) -> int:
    """Messages ``topic`` holds now (end minus start offset, all partitions); 0 while it does
    not exist. A topic just created may have no partition leader for a moment: waited out."""
    import time
    import uuid

    from confluent_kafka import Consumer, KafkaException

    probe = {"bootstrap.servers": bootstrap, "group.id": f"mps-probe-{uuid.uuid4().hex}"}
    consumer = Consumer(probe)
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            try:
                return _message_count(consumer, topic, timeout_s)
            except KafkaException as exc:
                if not leader_pending(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        consumer.close()


def _message_count(consumer: Any, topic: str, timeout_s: float) -> int:
    from confluent_kafka import TopicPartition

    found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
    if found is None or found.error is not None:
        return 0
    total = 0
    for partition in found.partitions:
        low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout_s, cached=False
        )
        total += high - low
    return total


def topic_ids(admin: Any, topics: Iterable[str], timeout_s: float = 10.0) -> dict[str, str]:
    """Each existing topic's id (KIP-516: a topic deleted and created again gets a new one);
    a topic that does not exist is left out. ``admin``: an AdminClient (see :func:`admin_client`).
    """
    from confluent_kafka import KafkaException, TopicCollection

    names = sorted(set(topics))
    if not names:
        return {}
    found = {}
    futures = admin.describe_topics(TopicCollection(names), request_timeout=timeout_s)
    for name, future in futures.items():
        try:
            found[name] = str(future.result(timeout=timeout_s + 5).topic_id)
        except KafkaException as exc:
            if "UNKNOWN_TOPIC_OR_PART" not in str(exc):
                raise
    return found


def admin_client(bootstrap: str) -> Any:
    """A Kafka AdminClient for ``bootstrap``."""
    return _admin(bootstrap)


def topic_names(bootstrap: str, timeout_s: float = 10.0) -> list[str]:
    """Every topic Kafka has."""
    return _topic_names(_admin(bootstrap), bootstrap, timeout_s, SyncError)


def _admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def _topic_names(admin: Any, bootstrap: str, timeout_s: float, error: type[SyncError]) -> list[str]:
    from confluent_kafka import KafkaException

    try:
        return list(admin.list_topics(timeout=timeout_s).topics)
    except KafkaException as exc:
        raise error(f"cannot list the topics of {bootstrap}: {exc}") from None


def _csv(value: str) -> list[str]:
    """A Kafka LIST property: comma-separated, items trimmed, empty ones dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _any_fullmatch(patterns: str, topic: str) -> bool:
    """Kafka Connect joins a group's regular expressions with '|' and matches the whole name."""
    listed = _csv(patterns)
    return bool(listed) and re.fullmatch("|".join(listed), topic) is not None
