"""Debezium signals: the signal tables, execute-snapshot (incremental) and its completion.

The connectors read ``signal.data.collection`` (a table in each source). Inserting an
``execute-snapshot`` row starts an incremental snapshot of the named tables while streaming goes
on; Debezium reports progress on the ``<topic_prefix>.notifications`` topic with the signal's id.
"""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from mysql_pg_sync.cdc.connector_config import Side
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import for_side
from mysql_pg_sync.errors import PreflightError, SyncError
from mysql_pg_sync.settings import DatabaseEndpoint

DEFAULT_SNAPSHOT_TIMEOUT_S = 600.0
_FINAL_TYPES = frozenset({"COMPLETED", "ABORTED"})


# What to do when Debezium reports a table scan that copied nothing (additional_data.status).
# A scan that copied the whole table: EMPTY is Debezium's word for a table with no rows (the new,
# empty PostgreSQL side of a table added later), nothing to copy, not a failure
SCAN_DONE = frozenset({"SUCCEEDED", "EMPTY"})
SCAN_STATUS_FIX = {
    "UNKNOWN_SCHEMA": "the connector does not capture the table (or has not seen its schema): "
    "enable its mapping, trigger connectors with action apply"
    " (CLI: connectors apply), then snapshot_tables again",
    "NO_PRIMARY_KEY": "the table has no primary key, which incremental snapshots chunk by: add "
    "one (or set the connector's snapshot key), then snapshot_tables again",
    "SQL_EXCEPTION": "the scan query failed: read the error in the Connect log (often a missing "
    "SELECT grant for the sync user), fix it, then snapshot_tables again",
    "SKIPPED": "Debezium skipped the table (not in the include list, or filtered out by the "
    "signal): check the mapping is enabled, trigger apply, then snapshot_tables again",
}


class SnapshotTimeout(SyncError):
    """An incremental snapshot did not report completion in time."""


class SnapshotFailed(SyncError):
    """An incremental snapshot aborted or a table scan did not succeed; nothing was copied."""


@dataclass(frozen=True)
class SnapshotResult:
    signal_id: str
    tables: tuple[str, ...]
    outcome: str  # COMPLETED or ABORTED
    rows_scanned: dict[str, int]
    scan_status: dict[str, str] = field(default_factory=dict)  # table -> SUCCEEDED, SKIPPED...

    def problems(self) -> list[str]:
        """Why this snapshot did not copy what was asked, each naming the fix (pure)."""
        found = []
        if self.outcome != "COMPLETED":
            found.append(
                f"incremental snapshot {self.signal_id} of {', '.join(self.tables) or '?'} was "
                f"{self.outcome} (a stop-snapshot signal or a connector restart); run "
                "snapshot_tables again"
            )
        for table, status in sorted(self.scan_status.items()):
            if status not in SCAN_DONE:
                fix = SCAN_STATUS_FIX.get(status, "check the Connect log, then snapshot again")
                found.append(f"table {table}: scan {status}, nothing copied: {fix}")
        return found


def signal_table_ddl(side: Side, signal_table: str) -> str:
    """The three-column table Debezium expects (id, type, data); same shape on both engines."""
    namespace, _, table = signal_table.partition(".")
    qualified = for_side(side).qualified(namespace, table)
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified} "
        "(id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL)"
    )


def ensure_signal_table(endpoint: DatabaseEndpoint, side: Side, signal_table: str) -> bool:
    """Create the signal table if missing (True if created).

    Only a missing table is created: MySQL checks the CREATE privilege even for IF NOT EXISTS,
    and the sync user normally has just INSERT/SELECT there. A missing privilege names the fix.
    """
    namespace, _, table = signal_table.partition(".")
    dialect = for_side(side)
    probe = f"SELECT id FROM {dialect.qualified(namespace, table)} WHERE 1 = 0"
    ddl = signal_table_ddl(side, signal_table)
    if side == "mysql":
        conn = mysql_connect(endpoint, autocommit=True)
        try:
            return _create_unless_present(lambda sql: conn.cursor().execute(sql), probe, [ddl])
        except _CannotCreate as exc:
            raise _signal_table_error(endpoint, signal_table, ddl, exc.__cause__) from exc
        finally:
            conn.close()
    try:
        return _ensure_postgres_table(endpoint, signal_table, ddl)
    except _CannotCreate as exc:
        raise _signal_table_error(endpoint, signal_table, ddl, exc.__cause__) from exc


def _ensure_postgres_table(endpoint: DatabaseEndpoint, qualified_name: str, ddl: str) -> bool:
    """Create a PostgreSQL table (and its schema) unless it is already readable."""
    namespace, _, table = qualified_name.partition(".")
    dialect = for_side("postgres")
    probe = f"SELECT 1 FROM {dialect.qualified(namespace, table)} WHERE 1 = 0"
    with pg_connect(endpoint, autocommit=True) as pg:
        statements = [f"CREATE SCHEMA IF NOT EXISTS {dialect.quote_ident(namespace)}", ddl]
        return _create_unless_present(lambda sql: pg.execute(sql), probe, statements)


def heartbeat_table_ddl(heartbeat_table: str) -> str:
    namespace, _, table = heartbeat_table.partition(".")
    qualified = for_side("postgres").qualified(namespace, table)
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified} "
        "(id smallint PRIMARY KEY, beat_at timestamptz NOT NULL)"
    )


def ensure_heartbeat_table(endpoint: DatabaseEndpoint, heartbeat_table: str) -> bool:
    """Create the PostgreSQL source's heartbeat table if missing (True if created); the
    connector's heartbeat.action.query writes it (ADR 0009)."""
    ddl = heartbeat_table_ddl(heartbeat_table)
    try:
        return _ensure_postgres_table(endpoint, heartbeat_table, ddl)
    except _CannotCreate as exc:
        raise PreflightError(
            f"cannot create the Debezium heartbeat table {heartbeat_table} as "
            f"{endpoint.user}: {exc.__cause__}. Create it once as an administrator: {ddl}; "
            "the sync user then needs SELECT, INSERT and UPDATE on it and must own it "
            "(the connector adds it to its publication)"
        ) from exc


class _CannotCreate(Exception):
    pass


def _create_unless_present(
    execute: Callable[[str], Any], probe: str, statements: Sequence[str]
) -> bool:
    try:
        execute(probe)
        return False
    except Exception:  # driver errors differ per engine; any failure means "not usable yet"
        pass
    try:
        for sql in statements:
            execute(sql)
    except Exception as exc:
        raise _CannotCreate() from exc
    return True


def _signal_table_error(
    endpoint: DatabaseEndpoint, signal_table: str, ddl: str, cause: BaseException | None
) -> PreflightError:
    return PreflightError(
        f"cannot create the Debezium signal table {signal_table} as {endpoint.user}: {cause}. "
        f"Create it once as an administrator: {ddl}; the sync user then needs only SELECT and "
        f"INSERT on it (MySQL alternative: GRANT CREATE ON {signal_table} TO the sync user)"
    )


def signal_row(tables: Sequence[str], signal_id: str | None = None) -> tuple[str, str, str]:
    """(id, type, data) of an incremental execute-snapshot signal (pure)."""
    if not tables:
        raise SyncError("execute-snapshot needs at least one table")
    data = json.dumps({"data-collections": list(tables), "type": "incremental"})
    return (signal_id or str(uuid.uuid4()), "execute-snapshot", data)


def snapshot_signal_id(run_key: str, side: Side, tables: Sequence[str]) -> str:
    """A signal id stable across retries of one run (pure): a retry then finds the signal it
    already sent and waits for it, instead of starting a second full re-scan."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mps-snapshot:{run_key}:{side}:{','.join(tables)}"))


def send_execute_snapshot(
    endpoint: DatabaseEndpoint,
    side: Side,
    signal_table: str,
    tables: Sequence[str],
    signal_id: str | None = None,
) -> tuple[str, bool]:
    """Insert the signal unless a row with ``signal_id`` is there already.

    Returns its id (Debezium reports progress under it) and whether it was sent now.
    """
    row = signal_row(tables, signal_id)
    dialect = for_side(side)
    namespace, _, table = signal_table.partition(".")
    qualified = dialect.qualified(namespace, table)
    probe = f"SELECT 1 FROM {qualified} WHERE id = {dialect.PARAM}"
    sql = (
        f"INSERT INTO {qualified} (id, type, data) "
        f"VALUES ({dialect.PARAM}, {dialect.PARAM}, {dialect.PARAM})"
    )
    if side == "mysql":
        conn = mysql_connect(endpoint, autocommit=True)
        try:
            cur = conn.cursor()
            cur.execute(probe, (row[0],))
            if cur.fetchone() is not None:
                return row[0], False
            cur.execute(sql, row)
        finally:
            conn.close()
    else:
        with pg_connect(endpoint, autocommit=True) as pg:
            if pg.execute(probe, (row[0],)).fetchone() is not None:
                return row[0], False
            pg.execute(sql, row)
    return row[0], True


Fetch = Callable[[int], str]


def parse_notification(
    value: bytes | None, fetch_schema: Fetch | None = None
) -> dict[str, Any] | None:
    """A notification record's payload, or None.

    JSON (with or without schema envelope), or Confluent-framed Avro (magic byte 0, 4-byte
    schema id) when ``fetch_schema`` reads schemas from the registry (MPS_CONNECT_CONVERTER=avro).
    """
    if not value:
        return None
    if value[:1] == b"\x00":
        body: Any = _avro_notification(value, fetch_schema)
    else:
        try:
            body = json.loads(value)
        except ValueError as exc:  # UnicodeDecodeError included
            raise SyncError(
                f"a Debezium notification is neither JSON nor Confluent-framed Avro ({exc}); "
                "check MPS_CONNECT_CONVERTER matches the connectors' value converter"
            ) from exc
    if isinstance(body, dict) and "payload" in body and "schema" in body:
        body = body["payload"]
    return body if isinstance(body, dict) else None


def _avro_notification(value: bytes, fetch_schema: Fetch | None) -> Any:
    if fetch_schema is None:
        raise SyncError(
            "the connectors write Avro notifications but no schema registry is configured to "
            "decode them; set MPS_SCHEMA_REGISTRY_URL (Apicurio: .../apis/ccompat/v7)"
        )
    import fastavro

    if len(value) < 5:
        raise SyncError("a Debezium notification is truncated Avro (shorter than its header)")
    schema_id = struct.unpack(">I", value[1:5])[0]
    schema = fastavro.parse_schema(json.loads(fetch_schema(schema_id)))
    return fastavro.schemaless_reader(io.BytesIO(value[5:]), schema)


def snapshot_outcome(
    notifications: Sequence[dict[str, Any]], signal_id: str
) -> SnapshotResult | None:
    """The final notification for ``signal_id`` among those read so far (pure)."""
    rows: dict[str, int] = {}
    scan_status: dict[str, str] = {}
    tables: tuple[str, ...] = ()
    for note in notifications:
        if note.get("id") != signal_id or note.get("aggregate_type") != "Incremental Snapshot":
            continue
        extra = note.get("additional_data") or {}
        if extra.get("data_collections"):  # STARTED lists them; COMPLETED does not
            tables = tuple(str(extra["data_collections"]).split(","))
        if note.get("type") == "TABLE_SCAN_COMPLETED" and extra.get("scanned_collection"):
            scanned = str(extra["scanned_collection"])
            rows[scanned] = int(extra.get("total_rows_scanned") or 0)
            # Debezium reports UNKNOWN_SCHEMA, NO_PRIMARY_KEY, ... here and still COMPLETES
            scan_status[scanned] = str(extra.get("status") or "SUCCEEDED")
        if note.get("type") in _FINAL_TYPES:
            return SnapshotResult(signal_id, tables, str(note["type"]), rows, scan_status)
    return None


def initial_snapshot_outcome(notifications: Sequence[dict[str, Any]]) -> str | None:
    """How the snapshot a source task takes when it starts ended, among the notices read so far:
    COMPLETED, ABORTED or SKIPPED, or None while it runs (pure)."""
    for note in notifications:
        if note.get("aggregate_type") == "Initial Snapshot" and note.get("type") in (
            *_FINAL_TYPES,
            "SKIPPED",
        ):
            return str(note["type"])
    return None


def wait_for_snapshot(
    kafka_bootstrap: str,
    notification_topic: str,
    signal_id: str,
    *,
    timeout_s: float = DEFAULT_SNAPSHOT_TIMEOUT_S,
    schema_registry_url: str | None = None,
) -> SnapshotResult:
    """Read the notification topic until the snapshot with ``signal_id`` completes or aborts.

    Reads from the topic's start, so a retry waiting for an earlier signal sees its notices.
    """
    seen: list[dict[str, Any]] = []
    with closing(
        _notifications(
            kafka_bootstrap,
            notification_topic,
            timeout_s,
            schema_registry_url,
            group_id=f"mps-snapshot-wait-{signal_id}",
        )
    ) as notes:
        for note in notes:
            seen.append(note)
            result = snapshot_outcome(seen, signal_id)
            if result is not None:
                return result
    raise SnapshotTimeout(
        f"incremental snapshot {signal_id} reported no completion on {notification_topic} "
        f"within {timeout_s:.0f}s; check the connector status and the Connect log"
    )


def wait_for_initial_snapshot(
    kafka_bootstrap: str,
    notification_topic: str,
    start: Mapping[str, int],
    *,
    timeout_s: float = DEFAULT_SNAPSHOT_TIMEOUT_S,
    schema_registry_url: str | None = None,
    check: Callable[[], object] | None = None,
) -> str:
    """Wait for the outcome of the snapshot a restarted source task takes (COMPLETED, ABORTED
    or SKIPPED), reading the notices after ``start`` ({partition: offset}, the topic's end
    before the restart). ``check`` runs about once a second and may raise (a failed task)."""
    seen: list[dict[str, Any]] = []
    with closing(
        _notifications(
            kafka_bootstrap, notification_topic, timeout_s, schema_registry_url, start, check
        )
    ) as notes:
        for note in notes:
            seen.append(note)
            outcome = initial_snapshot_outcome(seen)
            if outcome is not None:
                return outcome
    raise SnapshotTimeout(
        f"the connector's start-up snapshot reported no completion on {notification_topic} "
        f"within {timeout_s:.0f}s; check the connector status and the Connect log"
    )


def _notifications(
    kafka_bootstrap: str,
    topic: str,
    timeout_s: float,
    schema_registry_url: str | None,
    start: Mapping[str, int] | None = None,
    tick: Callable[[], object] | None = None,
    *,
    group_id: str | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Notification payloads from ``topic`` until ``timeout_s`` has passed: from the start as
    consumer group ``group_id``, or from the ``start`` offsets (partitions not named: their
    start)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    fetch: Fetch | None = None
    if schema_registry_url:
        from mysql_pg_sync.cdc.decode_avro import registry_fetch

        fetch = registry_fetch(schema_registry_url)

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": group_id or f"mps-notifications-{uuid.uuid4()}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "allow.auto.create.topics": False,
        }
    )
    deadline = time.monotonic() + timeout_s
    assigned = start is None
    try:
        if start is None:
            consumer.subscribe([topic])
        while time.monotonic() < deadline:
            if tick is not None:
                tick()
            if not assigned:  # the topic may appear only with the first notice
                found = consumer.list_topics(topic, timeout=5).topics.get(topic)
                if found is None or found.error is not None or not found.partitions:
                    time.sleep(1.0)
                    continue
                offsets = start or {}
                consumer.assign(
                    [
                        TopicPartition(topic, n, int(offsets.get(str(n), OFFSET_BEGINNING)))
                        for n in sorted(found.partitions)
                    ]
                )
                assigned = True
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            note = parse_notification(msg.value(), fetch)
            if note is not None:
                yield note
    finally:
        consumer.close()
