"""The dead-letter path: the message goes to a topic with error headers, is logged and counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, Producer

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
        "mps.key": _key_text(letter),
        "__connect.errors.topic": pos.topic if pos else "",
        "__connect.errors.partition": str(pos.partition) if pos else "",
        "__connect.errors.offset": str(pos.offset) if pos else "",
    }
    return [(k, v.encode()) for k, v in headers.items()]


def publish(
    producer: Producer, topic: str, letters: Iterable[tuple[DeadLetter, bytes | None, bytes | None]]
) -> int:
    """Send each letter with the original key/value bytes; flush before offsets are committed.

    A letter Kafka refuses (larger than the topic's ``max.message.bytes``, a topic that cannot
    be written) is reported in its delivery report only, and ``flush`` still returns 0: such
    a letter raises here, so the batch's offsets are not committed past a message that is in
    no topic (the run fails and reads it again)."""
    sent = 0
    refused: list[str] = []

    def on_delivery(letter: DeadLetter) -> Callable[[KafkaError | None, Any], None]:
        def delivered(error: KafkaError | None, _message: Any) -> None:
            if error is not None:
                table = letter.source_table or "?"
                refused.append(f"table {table} key {_key_text(letter)}: {error}")

        return delivered

    for letter, key, value in letters:
        log.error(
            "dead letter -> %s: table %s key %s: %s",
            topic,
            letter.source_table or "?",
            dict(letter.key or {}),
            letter.error,
        )
        producer.produce(
            topic,
            key=key,
            value=value,
            headers=headers_for(letter),
            on_delivery=on_delivery(letter),
        )
        sent += 1
    if sent and producer.flush(30) != 0:
        raise RuntimeError(f"dead-letter topic {topic}: messages not delivered within 30 s")
    if refused:
        raise RuntimeError(
            f"dead-letter topic {topic} refused {len(refused)} of {sent} dead letter(s), so "
            f"the batch is not committed and is read again: {'; '.join(refused[:5])}. A "
            "message larger than the topic takes: raise the topic's max.message.bytes (kafka-"
            f"configs --alter --entity-type topics --entity-name {topic} --add-config "
            "max.message.bytes=67108864); else check the topic exists and can be written"
        )
    return sent


def _key_text(letter: DeadLetter) -> str:
    return json.dumps(to_json(dict(letter.key or {})))


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
