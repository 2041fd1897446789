"""The dead-letter path: the message goes to a topic with error headers, is logged and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from confluent_kafka import Producer

from mysql_pg_sync.cdc.apply import DeadLetter
from mysql_pg_sync.cdc.images import to_json

log = logging.getLogger(__name__)


def headers_for(letter: DeadLetter) -> list[tuple[str, str | bytes | None]]:
    """Error headers in the Kafka Connect style (``__connect.errors.*``) plus our table and key."""
    event = letter.event
    pos = event.position if event else None
    headers = {
        "mps.error.class": type(letter.error).__name__,
        "mps.error.message": str(letter.error)[:4000],
        "mps.table": letter.source_table,
        "mps.key": json.dumps(to_json(dict(letter.key or {}))),
        "__connect.errors.topic": pos.topic if pos else "",
        "__connect.errors.partition": str(pos.partition) if pos else "",
        "__connect.errors.offset": str(pos.offset) if pos else "",
    }
    return [(k, v.encode()) for k, v in headers.items()]


def publish(
    producer: Producer, topic: str, letters: Iterable[tuple[DeadLetter, bytes | None, bytes | None]]
) -> int:
    """Send each letter with the original key/value bytes; flush before offsets are committed."""
    sent = 0
    for letter, key, value in letters:
        log.error(
            "dead letter -> %s: table %s key %s: %s",
            topic,
            letter.source_table or "?",
            dict(letter.key or {}),
            letter.error,
        )
        producer.produce(topic, key=key, value=value, headers=headers_for(letter))
        sent += 1
    if sent and producer.flush(30) != 0:
        raise RuntimeError(f"dead-letter topic {topic}: messages not delivered within 30 s")
    return sent


def letter_row(letter: DeadLetter, topic: str) -> tuple[Any, ...]:
    pos = letter.event.position if letter.event else None
    return (
        letter.source_table or None,
        json.dumps(to_json(dict(letter.key or {}))),
        type(letter.error).__name__,
        str(letter.error)[:4000],
        pos.topic if pos else None,
        pos.partition if pos else None,
        pos.offset if pos else None,
        topic,
    )
