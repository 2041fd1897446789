"""Delete the Kafka topics of a connector prefix (a torn-down pipeline's change topics).

Debezium names every topic of a connector after its ``topic.prefix``: change topics, schema
history and transaction metadata start with it, heartbeats are ``__debezium-heartbeat.<prefix>``.
So one prefix selects them all.
"""

from __future__ import annotations

from collections.abc import Iterable

from mysql_pg_sync.errors import SyncError


class TopicDeleteError(SyncError):
    """Kafka refused or did not confirm the deletion of a topic."""


HEARTBEAT_TOPIC_PREFIX = "__debezium-heartbeat."  # Debezium's default topic.heartbeat.prefix


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


def delete_topics(bootstrap: str, prefixes: Iterable[str], timeout_s: float = 30.0) -> list[str]:
    """Delete every topic whose name starts with one of ``prefixes``; returns their names.

    An empty prefix selects nothing (it would be every topic)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    try:
        names = matching_topics(admin.list_topics(timeout=timeout_s).topics, prefixes)
    except KafkaException as exc:
        raise TopicDeleteError(f"cannot list the topics of {bootstrap}: {exc}") from None
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
