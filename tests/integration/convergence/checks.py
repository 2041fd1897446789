"""Quiescence and the after-the-run checks: lag, conflicts by policy, loops, dead letters."""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from tests.integration.convergence.schema import TABLES, Table
from tests.integration.stream_harness import Pipeline

from mysql_pg_sync.connections import pg_connect


def topics(p: Pipeline) -> list[str]:
    db = p.endpoints.mysql.database
    out = []
    for t in TABLES:
        out.append(f"{p.config.mysql_topic_prefix}.{db}.{t.name}")
        out.append(f"{p.config.pg_topic_prefix}.public.{t.name}")
    return out


def consumer_lag(p: Pipeline) -> int:
    """Messages in the source topics the stream group has not committed yet."""
    reader = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": p.config.group_id,  # reads the group's commits; never joins it
            "enable.auto.commit": False,
        }
    )
    try:
        lag = 0
        meta = reader.list_topics(timeout=30).topics
        parts = [
            TopicPartition(name, pid)
            for name in topics(p)
            if name in meta
            for pid in meta[name].partitions
        ]
        for tp in reader.committed(parts, timeout=30):
            _, high = reader.get_watermark_offsets(tp, timeout=30)
            lag += high - max(tp.offset, 0)
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


def conflicts(p: Pipeline) -> list[ConflictRow]:
    with pg_connect(p.endpoints.postgres) as conn:
        rows = conn.execute(
            "SELECT source_table, kind, rule, winner, incoming_side, incoming_image, target_image"
            " FROM mps_sync.conflicts ORDER BY id"
        ).fetchall()
    return [ConflictRow(*r) for r in rows]


def _ts(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def policy_violations(rows: list[ConflictRow]) -> list[str]:
    """Conflicts whose recorded winner is not the one the table's rule names.

    Fixed-side rules: the winner is that side. last_writer_wins: when both images carry the
    rule column, the later one wins and a tie goes to MySQL; a delete has no after-image, so only
    the side named as winner can be checked against the kind (update_delete: the update wins).
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
        return c.incoming_side
    column = table.rule_column or ""
    if c.incoming is None or c.target is None:
        return None  # delete_update: the delete's commit time is not recorded in the row
    incoming, target = _ts(c.incoming.get(column)), _ts(c.target.get(column))
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
            pid: reader.get_watermark_offsets(
                TopicPartition(p.config.dead_letter_topic, pid), timeout=30
            )[1]
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
