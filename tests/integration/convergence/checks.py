"""Quiescence and the after-the-run checks: lag, conflicts by policy, loops, dead letters."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition
from tests.integration.convergence.schema import TABLES, Table
from tests.integration.stream_harness import Pipeline

from mysql_pg_sync.cdc.topics import leader_pending
from mysql_pg_sync.connections import pg_connect


def topics(p: Pipeline) -> list[str]:
    db = p.endpoints.mysql.database
    out = []
    for t in TABLES:
        out.append(f"{p.config.mysql_topic_prefix}.{db}.{t.name}")
        out.append(f"{p.config.pg_topic_prefix}.public.{t.name}")
    return out


def consumer_lag(p: Pipeline) -> int:
    """Messages in the source topics the stream group has not committed yet (a topic Debezium
    has not created yet counts as one message: its changes are still to come)."""
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": p.config.group_id,  # reads the group's commits; never joins it
            "enable.auto.commit": False,
        }
    )
    try:
        meta = reader.list_topics(timeout=30).topics
        lag = sum(1 for name in topics(p) if name not in meta)
        parts = [
            TopicPartition(name, pid)
            for name in topics(p)
            if name in meta
            for pid in meta[name].partitions
        ]
        for tp in reader.committed(parts, timeout=30):
            lag += high_watermark(reader, tp) - max(tp.offset, 0)
        return lag
    finally:
        reader.close()


def stream_counters(p: Pipeline) -> dict[str, dict[str, int]]:
    """Per incoming side: events, applied, echoes, conflicts, dead letters (mps_sync)."""
    with pg_connect(p.endpoints.postgres) as conn:
        rows = conn.execute(
            "SELECT incoming_side, sum(events), sum(applied), sum(skipped_same), sum(echoes),"
            " sum(conflicts), sum(dead_letters) FROM mps_sync.stream_metrics GROUP BY 1"
        ).fetchall()
    names = ("events", "applied", "skipped_same", "echoes", "conflicts", "dead_letters")
    out = {side: dict.fromkeys(names, 0) for side in ("mysql", "postgres")}
    for side, *values in rows:
        out[side] = {n: int(v or 0) for n, v in zip(names, values, strict=True)}
    return out


@dataclass(frozen=True)
class ConflictRow:
    table: str
    kind: str
    rule: str
    winner: str
    incoming_side: str
    incoming: dict[str, Any] | None
    target: dict[str, Any] | None
    position: tuple[str, int, int] | None
    key: dict[str, Any]
    # delete_update: the time the delete counts as, read back from its Kafka message
    commit_time: dt.datetime | None = None
    deleted_at: dt.datetime | None = None  # update_delete: the other side's delete (tombstone)


def conflicts(p: Pipeline) -> list[ConflictRow]:
    """The logged conflicts; deletes get their time from the Kafka message itself."""
    with pg_connect(p.endpoints.postgres) as conn:
        rows = conn.execute(
            "SELECT source_table, kind, rule, winner, incoming_side, incoming_image, target_image,"
            " kafka_topic, kafka_partition, kafka_offset, key FROM mps_sync.conflicts ORDER BY id"
        ).fetchall()
    out = [
        ConflictRow(*r[:7], (r[7], r[8], r[9]) if r[7] is not None else None, r[10]) for r in rows
    ]
    by_name = {t.name: t for t in TABLES}
    wanted = {
        c.position: by_name[c.table.split(".")[-1]].rule_column or ""
        for c in out
        if c.kind == "delete_update" and c.position
    }
    times = delete_times(p, wanted)
    out = [replace(c, commit_time=times.get(c.position)) if c.position else c for c in out]
    # update_delete: the stream records the other side's delete (tombstone) as the target image
    return [
        replace(c, deleted_at=_ts((c.target or {}).get("__deleted_at")))
        if c.kind == "update_delete"
        else c
        for c in out
    ]


def delete_times(
    p: Pipeline, positions: dict[tuple[str, int, int], str]
) -> dict[tuple[str, int, int], dt.datetime]:
    """The time each delete at these positions counts as under last-writer-wins: its source.ts_ms,
    or the rule column of the version it removed (its before-image) when that is later; MySQL
    stamps commits to the whole second. Parsed here from the message, not by decode."""
    if not positions:
        return {}
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": f"{p.config.group_id}-chaos-ts-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    out: dict[tuple[str, int, int], dt.datetime] = {}
    # one pass per partition from its lowest wanted offset (an assign and poll per delete took
    # ~0.4 s each, most of the chaos test's end checks)
    last: dict[tuple[str, int], int] = {}
    for topic, partition, offset in positions:
        last[(topic, partition)] = max(offset, last.get((topic, partition), -1))
    first = {part: min(o for t, p_, o in positions if (t, p_) == part) for part in last}
    seen: dict[tuple[str, int], int] = {}
    try:
        reader.assign([TopicPartition(t, p_, o) for (t, p_), o in first.items()])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
            seen.get(part, -1) < end for part, end in last.items()
        ):
            for msg in reader.consume(1000, 0.5):
                if msg.error():
                    continue
                where = (str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0))
                seen[where[:2]] = max(where[2], seen.get(where[:2], -1))
                column = positions.get(where)
                if column is None:
                    continue
                envelope = json.loads(msg.value() or b"{}")
                payload = envelope.get("payload", envelope)
                us = int(payload["source"]["ts_ms"]) * 1000
                removed = (payload.get("before") or {}).get(column)
                if isinstance(removed, int):  # datetime(6) / timestamp(6): epoch microseconds
                    us = max(us, removed)
                out[where] = dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=us)
    finally:
        reader.close()
    return out


def _ts(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def policy_violations(rows: list[ConflictRow]) -> list[str]:
    """Conflicts whose recorded winner is not the one the table's rule names.

    Fixed-side rules: the winner is that side. last_writer_wins: the later rule-column value
    wins, a delete counts with its time (read from its Kafka message), a tie goes to
    MySQL; an update meeting a deleted row (update_delete) brings it back, so the update wins.
    """
    by_name = {t.name: t for t in TABLES}
    bad = []
    for c in rows:
        table = by_name[c.table.split(".")[-1]]
        expected = _expected_winner(table, c)
        if expected is not None and expected != c.winner:
            bad.append(f"{c.table} {c.kind}: winner {c.winner}, rule says {expected}: {c}")
    return bad


def _expected_winner(table: Table, c: ConflictRow) -> str | None:
    if table.rule in ("mysql_wins", "postgres_wins"):
        return table.rule.removesuffix("_wins")
    if c.rule != table.rule:
        return f"rule {table.rule} (recorded {c.rule})"
    if c.kind == "update_delete":
        # the update meets a row the other side deleted: the newer of the two wins (tie: MySQL);
        # without a tombstone (not last-writer-wins) the update brings the row back
        incoming_ts = _ts((c.incoming or {}).get(table.rule_column or ""))
        if c.deleted_at is None or incoming_ts is None:
            return c.incoming_side
        if incoming_ts == c.deleted_at:
            return "mysql"
        other = "postgres" if c.incoming_side == "mysql" else "mysql"
        return c.incoming_side if incoming_ts > c.deleted_at else other
    column = table.rule_column or ""
    if c.target is None:
        return None
    if c.kind == "delete_update":  # a delete carries its time, not a column value
        incoming = c.commit_time
        if incoming is None:
            return "a readable delete event in Kafka"
    elif c.incoming is None:
        return None
    else:
        incoming = _ts(c.incoming.get(column))
    target = _ts(c.target.get(column))
    if incoming is None or target is None or incoming == target:
        return "mysql" if incoming == target else c.winner
    other = "postgres" if c.incoming_side == "mysql" else "mysql"
    return c.incoming_side if incoming > target else other


def dead_letter_keys(p: Pipeline, expected: int, timeout_s: float = 30) -> list[bytes | None]:
    """Every message in the dead-letter topic (read from the start by a fresh group)."""
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": f"{p.config.group_id}-chaos-dlq-{time.monotonic_ns()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    keys: list[bytes | None] = []
    try:
        meta = reader.list_topics(timeout=30).topics
        if p.config.dead_letter_topic not in meta:
            return keys
        parts = meta[p.config.dead_letter_topic].partitions
        ends = {
            pid: high_watermark(reader, TopicPartition(p.config.dead_letter_topic, pid))
            for pid in parts
        }
        total = sum(ends.values())
        reader.assign([TopicPartition(p.config.dead_letter_topic, pid, 0) for pid in parts])
        deadline = time.monotonic() + timeout_s
        while len(keys) < max(total, expected) and time.monotonic() < deadline:
            msg = reader.poll(0.5)
            if msg is not None and not msg.error():
                keys.append(msg.key())
        return keys
    finally:
        reader.close()


def dead_letter_rows(p: Pipeline) -> list[tuple[Any, ...]]:
    with pg_connect(p.endpoints.postgres) as conn:
        return [
            tuple(r)
            for r in conn.execute(
                "SELECT source_table, key, error_class, left(error, 300) FROM mps_sync.dead_letters"
                " ORDER BY id"
            )
        ]


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)


def key_history(p: Pipeline, table: str, key: dict[str, Any]) -> list[str]:
    """Every change event of one key in both source topics: op, source time, before, after."""
    db = p.endpoints.mysql.database
    names = [
        f"{p.config.mysql_topic_prefix}.{db}.{table}",
        f"{p.config.pg_topic_prefix}.public.{table}",
    ]
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": f"{p.config.group_id}-chaos-history-{time.monotonic_ns()}",
            "enable.auto.commit": False,
        }
    )
    out = []
    try:
        meta = reader.list_topics(timeout=30).topics
        for name in names:
            if name not in meta:
                continue
            for pid in meta[name].partitions:
                tp = TopicPartition(name, pid, 0)
                high = high_watermark(reader, tp)
                reader.assign([tp])
                offset, deadline = -1, time.monotonic() + 60
                while offset < high - 1 and time.monotonic() < deadline:
                    msg = reader.poll(0.5)
                    if msg is None or msg.error():
                        continue
                    offset = msg.offset() or 0
                    if msg.key() is None or msg.value() is None:
                        continue
                    try:
                        k = json.loads(msg.key())
                        v = json.loads(msg.value())
                    except ValueError:
                        continue
                    if k.get("payload", k) != key:
                        continue
                    pl = v.get("payload", v)
                    out.append(
                        f"{name.split('_')[-1].split('.')[0]}@{offset} op={pl.get('op')} "
                        f"ts={pl.get('source', {}).get('ts_ms')} "
                        f"origin={pl.get('source', {}).get('origin')} "
                        f"before={_short(pl.get('before'))} after={_short(pl.get('after'))}"
                    )
    finally:
        reader.close()
    return out


def _short(image: dict[str, Any] | None) -> str:
    if image is None:
        return "-"
    return ",".join(repr(v)[:16] for v in image.values())


def high_watermark(reader: Any, tp: Any, timeout_s: float = 30) -> int:
    """The partition's end offset, waiting out a leader still being elected (a topic made a
    moment ago), as the backfill's own position reader does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return int(reader.get_watermark_offsets(tp, timeout=timeout_s)[1])
        except KafkaException as exc:
            if not leader_pending(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
