"""A real two-way pipeline for the stream tests: fresh databases, Debezium connectors, a consumer.

Connectors come from the project's renderer (include/connectors) with a unique prefix; teardown
deletes them, their topics and the PostgreSQL replication slot.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_actions import wait_for_start_up_snapshot
from mysql_pg_sync.cdc.connector_config import (
    ConnectorSettings,
    RenderedConnector,
    postgres_heartbeat_table,
    render_connectors,
)
from mysql_pg_sync.cdc.connector_lifecycle import apply_connector
from mysql_pg_sync.cdc.connector_lifecycle import delete as delete_connector
from mysql_pg_sync.cdc.connector_signals import ensure_heartbeat_table
from mysql_pg_sync.cdc.consumer import RunSummary, StreamConfig, StreamConsumer
from mysql_pg_sync.cdc.metrics import PrometheusMetrics
from mysql_pg_sync.cdc.topics import delete_topics
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

ITEMS_MYSQL = """CREATE TABLE items (
  id bigint PRIMARY KEY, name varchar(64), qty int, price decimal(12,2),
  updated_at datetime(6) NOT NULL, note text)"""
ITEMS_PG = """CREATE TABLE public.items (
  id bigint PRIMARY KEY, name varchar(64), qty integer, price numeric(12,2),
  updated_at timestamp(6) NOT NULL, note text)"""


def items_mapping(db: str, rule: str = "mysql_wins", column: str | None = None) -> TableMapping:
    conflict: dict[str, Any] = {"rule": rule}
    if column:
        conflict["column"] = column
    return TableMapping.model_validate(
        {
            "source": f"{db}.items",
            "target": "public.items",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "name", "column_type": "varchar(64)"},
                {"name": "qty", "column_type": "int(11)"},
                {"name": "price", "column_type": "decimal(12,2)"},
                {"name": "updated_at", "column_type": "datetime(6)", "nullable": False},
                {"name": "note", "column_type": "text"},
            ],
            "direction": "both",
            "conflict": conflict,
        }
    )


def grant_applier_privileges(
    mysql_admin: DatabaseEndpoint, pg_admin: DatabaseEndpoint, pg_db: str, user: str
) -> None:
    """The applier's loop-prevention tags need privileges the stack does not grant in fresh dbs."""
    with pg_connect(replace(pg_admin, database=pg_db), autocommit=True) as conn:
        for fn in (
            "pg_replication_origin_session_setup(text)",
            "pg_replication_origin_session_reset()",
            "pg_replication_origin_create(text)",
        ):
            conn.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{user}"')  # type: ignore[arg-type]
    conn2 = mysql_connect(replace(mysql_admin, database="mysql"), autocommit=True)
    try:
        conn2.cursor().execute(f"GRANT BINLOG REPLAY ON *.* TO '{user}'@'127.0.0.1'")
        conn2.cursor().execute(f"GRANT BINLOG REPLAY ON *.* TO '{user}'@'localhost'")
    finally:
        conn2.close()


def pg_rows(p: Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Rows from the pipeline's PostgreSQL database, on a session of their own."""
    with p.pg() as conn:
        return [tuple(r) for r in conn.execute(sql)]  # type: ignore[arg-type]


def mysql_rows(p: Pipeline, sql: str) -> list[tuple[Any, ...]]:
    """Rows from (or a statement on) the pipeline's MySQL database, on a session of its own."""
    conn = p.mysql()
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


LAX_SQL_MODE = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"  # lets MySQL store zero dates


def mysql_lax(p: Pipeline, *statements: str) -> None:
    """Statements on the pipeline's MySQL database in a session whose sql_mode lets it store
    the zero date and partial zero dates, as legacy applications' sessions do."""
    conn = p.mysql()
    try:
        cur = conn.cursor()
        cur.execute(LAX_SQL_MODE)
        for sql in statements:
            cur.execute(sql)
    finally:
        conn.close()


def held_reason(consumer: StreamConsumer, table: str, timeout_s: float = 60) -> str:
    """Run the consumer until it holds ``table`` (``"<db.table> (<side>)"``); the reason."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        summary = consumer.run(max_seconds=0.5)
        if table in summary.held:
            return summary.held[table]
    raise AssertionError(f"{table} was not held within {timeout_s} s")


def wait_until(predicate: Callable[[], bool], timeout_s: float = 90, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        time.sleep(poll_s)


@dataclass
class Pipeline:
    endpoints: Endpoints
    mappings: MappingSet
    settings: ConnectorSettings
    config: StreamConfig

    def consumer(self, metrics: PrometheusMetrics | None = None, **changes: Any) -> StreamConsumer:
        config = replace(self.config, **changes)
        return StreamConsumer(self.endpoints, self.mappings, config, metrics)

    def mysql(self) -> Any:
        return mysql_connect(self.endpoints.mysql, autocommit=True)

    def pg(self) -> Any:
        return pg_connect(self.endpoints.postgres, autocommit=True)

    def env(self) -> dict[str, str]:
        """Environment for a consumer in a separate process (CLI)."""
        e = self.endpoints
        return {
            "MPS_MYSQL_DATABASE": e.mysql.database,
            "MPS_PG_DATABASE": e.postgres.database,
            "MPS_CONNECTOR_PREFIX": self.settings.prefix,
            "MPS_STREAM_GROUP": self.config.group_id,
            "MPS_STREAM_DEAD_LETTER_TOPIC": self.config.dead_letter_topic,
        }


def drive(consumer: StreamConsumer, predicate: Callable[[], bool], timeout_s: float = 90) -> None:
    """Run the consumer in short bounded slices until the predicate holds.

    A slice also ends right after a batch that made the predicate hold, instead of consuming
    on to the end of its 0.5 s (about a quarter second per call, over a hundred calls in the
    suite)."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"pipeline did not converge within {timeout_s} s")
        summary = RunSummary()
        consumer.run(max_seconds=0.5, stop=_after_a_batch(summary, predicate), summary=summary)


def _after_a_batch(summary: RunSummary, predicate: Callable[[], bool]) -> Callable[[], bool]:
    """A ``stop`` for ``run``: the predicate, asked once per batch the run applied (not per
    poll: some predicates compare whole tables)."""
    looked_at = 0  # summary.batches when the predicate was last asked

    def stop() -> bool:
        nonlocal looked_at
        if summary.batches == looked_at:
            return False
        looked_at = summary.batches
        return predicate()

    return stop


# the make_pipeline fixture: pipeline() on the test's own databases
PipelineFactory = Callable[..., AbstractContextManager[Pipeline]]


@contextmanager
def pipeline(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    mappings: list[TableMapping],
    mysql_ddl: list[str],
    pg_ddl: list[str],
    converter: str = "json",
    drop_backfill_writes: bool = True,
) -> Iterator[Pipeline]:
    """``drop_backfill_writes=False``: the PostgreSQL source as configured before it dropped
    the backfill's writes (ADR 0012), so they reach the consumer."""
    grant_applier_privileges(mysql_admin, pg_admin, pg_db.database, endpoints.postgres.user)
    admin_m = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    for sql in mysql_ddl:
        admin_m.cursor().execute(sql)
    admin_m.close()
    with pg_connect(pg_db, autocommit=True) as conn:
        for sql in pg_ddl:
            conn.execute(sql)  # type: ignore[arg-type]
    ep = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    tag = uuid.uuid4().hex[:8]
    settings = ConnectorSettings(prefix=f"mpst{tag}", converter=converter)  # type: ignore[arg-type]
    mapping_set = MappingSet(tuple(mappings))
    client = ConnectClient(endpoints.connect_url)
    rendered = render_connectors(mapping_set, ep, settings, "mariadb")
    if not drop_backfill_writes:
        rendered = [_without_backfill_filter(c) for c in rendered]
    config = StreamConfig(
        mysql_topic_prefix=settings.mysql_topic_prefix,
        pg_topic_prefix=settings.postgres_topic_prefix,
        group_id=f"mpst-{tag}",
        dead_letter_topic=f"mpst{tag}.dead-letters",
        max_batch_ms=100,
        value_format="avro" if converter == "avro" else "json",
        # Debezium creates a change topic with its table's first change, after the consumer
        # subscribed: the consumer finds it at its next metadata refresh (10 s in the service).
        # Not faster than 1 s: each refresh that finds a topic starts a rebalance, and at 0.25 s
        # they came one on top of another (commits failed with REBALANCE_IN_PROGRESS)
        kafka_overrides=(("topic.metadata.refresh.interval.ms", "1000"),),
    )
    try:
        for connector in rendered:
            if connector.side == "postgres":
                # as `connectors apply` does: the source's heartbeat query writes this table,
                # and a missing one fails the task at its first heartbeat (10 s in)
                ensure_heartbeat_table(pg_db, postgres_heartbeat_table())
            # polled every 0.1 s, not the library's 0.5 s: a connector runs well under a
            # second after its PUT, so the default poll cost ~0.4 s per connector and test
            apply_connector(client, connector, timeout_s=120, poll_s=0.1)
        for connector in rendered:
            if connector.side == "mysql":
                # Connect says RUNNING before the source has read its binlog position
                wait_for_start_up_snapshot(endpoints, client, connector, {}, timeout_s=120)
        yield Pipeline(ep, mapping_set, settings, config)
    finally:
        for connector in rendered:
            # waits until Connect no longer lists it, so its task stops writing heartbeats
            # before the topics go
            delete_connector(client, connector.name, timeout_s=60, poll_s=0.1)
        _drop_slot(pg_admin, settings.slot_name)
        # every topic of the pipeline (change topics, history, dead letters) starts so
        delete_topics(endpoints.kafka_bootstrap, [settings.prefix])


def _without_backfill_filter(connector: RenderedConnector) -> RenderedConnector:
    config = {k: v for k, v in connector.config.items() if not k.startswith("transforms.dropb")}
    config["transforms"] = ",".join(
        t for t in config["transforms"].split(",") if t != "dropbackfill"
    )
    return replace(connector, config=config)


def _drop_slot(pg_admin: DatabaseEndpoint, slot: str) -> None:
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        deadline = time.monotonic() + 30
        while True:
            row = conn.execute(
                "SELECT active_pid FROM pg_replication_slots WHERE slot_name = %s", (slot,)
            ).fetchone()
            if row is None:
                return
            if row[0] is None:
                conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                return
            if time.monotonic() > deadline:
                conn.execute("SELECT pg_terminate_backend(%s)", (row[0],))
            time.sleep(0.2)
