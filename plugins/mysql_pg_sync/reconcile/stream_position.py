"""Where the stream stands on one table, for a re-check (:class:`OffsetsWaiter`): the end
offsets of the table's change topics in Kafka, and the consumer group's applied offsets, which
each target stores with the writes (ADR 0007)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable

import MySQLdb
import psycopg

from mysql_pg_sync.cdc.events import Side
from mysql_pg_sync.cdc.service import config_from_env
from mysql_pg_sync.cdc.topics import change_topic
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.recheck import Offsets, OffsetsWaiter
from mysql_pg_sync.settings import Endpoints

_NO_SUCH_TABLE = 1146  # the MySQL applier has not run yet: nothing applied there


def end_offsets(bootstrap: str, topics: Iterable[str], timeout_s: float = 10.0) -> Offsets:
    """Each partition's end offset; a topic Kafka does not have has none."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"mps-recheck-{uuid.uuid4().hex}"}
    )
    try:
        ends: Offsets = {}
        for topic in topics:
            found = consumer.list_topics(topic, timeout=timeout_s).topics.get(topic)
            if found is None or found.error is not None:
                continue
            for partition in found.partitions:
                _, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s, cached=False
                )
                ends[(topic, partition)] = high
        return ends
    finally:
        consumer.close()


def _pg_applied(endpoints: Endpoints, group: str) -> Offsets:
    try:
        with pg_connect(endpoints.postgres) as conn:
            rows = conn.execute(pg_dialect.applied_offsets_sql(), (group,)).fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {(str(t), int(p)): int(o) for t, p, o, _ in rows}


def _mysql_applied(endpoints: Endpoints, group: str) -> Offsets:
    conn = mysql_connect(endpoints.mysql)
    try:
        cur = conn.cursor()
        cur.execute(mysql_dialect.applied_offsets_sql(endpoints.mysql.database), (group,))
        return {(str(t), int(p)): int(o) for t, p, o, _ in cur.fetchall()}
    except MySQLdb.ProgrammingError as exc:
        if exc.args and exc.args[0] == _NO_SUCH_TABLE:
            return {}
        raise
    finally:
        conn.close()


def offsets_waiter(
    endpoints: Endpoints,
    mapping: TableMapping,
    max_wait_s: float,
    sides: Collection[Side] = ("mysql", "postgres"),
) -> OffsetsWaiter:
    """The re-check's wait for ``mapping``'s table, in each direction it streams whose source
    is one of ``sides``."""
    config = config_from_env()
    from_mysql = (
        [change_topic(config.mysql_topic_prefix, mapping.source.db, mapping.source.table)]
        if mapping.replicates_to_pg() and "mysql" in sides
        else []
    )
    from_pg = (
        [change_topic(config.pg_topic_prefix, mapping.target.schema, mapping.target.table)]
        if mapping.replicates_to_mysql() and "postgres" in sides
        else []
    )

    def ends(_: str) -> Offsets:
        return end_offsets(endpoints.kafka_bootstrap, [*from_mysql, *from_pg])

    def applied(_: str) -> Offsets:
        found: Offsets = {}
        if from_mysql:  # applied to PostgreSQL, recorded there
            found |= _pg_applied(endpoints, config.group_id)
        if from_pg:
            found |= _mysql_applied(endpoints, config.group_id)
        return found

    return OffsetsWaiter(ends, applied, max_wait_s)
