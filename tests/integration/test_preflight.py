"""Preflight checks against the real MariaDB, PostgreSQL and Kafka Connect of the local stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from mysql_pg_sync.cdc.connect_client import ConnectApiError, ConnectClient
from mysql_pg_sync.cdc.connector_actions import connector_classes
from mysql_pg_sync.cdc.connector_signals import ensure_signal_table
from mysql_pg_sync.cdc.preflight import connect, errors
from mysql_pg_sync.cdc.preflight import mysql as mysql_preflight
from mysql_pg_sync.cdc.preflight import postgres as postgres_preflight
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import PreflightError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_the_stack_mariadb_and_sync_user_pass(mysql_db: DatabaseEndpoint) -> None:
    facts = mysql_preflight.gather(mysql_db)
    assert facts.flavour == "mariadb"
    assert mysql_preflight.server_flavour(mysql_db) == "mariadb"
    assert errors(mysql_preflight.run(mysql_db, [mysql_db.database])) == []


@pytest.fixture
def bare_user(
    mysql_admin: DatabaseEndpoint, mysql_db: DatabaseEndpoint
) -> Iterator[DatabaseEndpoint]:
    """A MySQL user with no privileges at all."""
    user, password = f"mps_t_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    conn = mysql_connect(replace(mysql_admin, database="mysql"), autocommit=True)
    try:
        conn.cursor().execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        yield replace(mysql_db, user=user, password=password, database="")
    finally:
        conn.cursor().execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
        conn.close()


def test_a_user_without_grants_is_told_which_grants_to_add(
    bare_user: DatabaseEndpoint, mysql_db: DatabaseEndpoint
) -> None:
    found = mysql_preflight.run(replace(bare_user, database=""), [mysql_db.database])
    fixes = " | ".join(f.fix for f in errors(found))
    assert "GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.*" in fixes
    assert f"GRANT SELECT ON `{mysql_db.database}`.*" in fixes


def test_signal_table_creation_needs_a_privilege_and_says_so(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    table = f"{mysql_db.database}.mps_debezium_signal"
    with pytest.raises(PreflightError, match="Create it once as an administrator: CREATE TABLE"):
        ensure_signal_table(mysql_db, "mysql", table)
    assert ensure_signal_table(replace(mysql_admin, database=mysql_db.database), "mysql", table)
    assert not ensure_signal_table(mysql_db, "mysql", table)  # present: the sync user is enough


def test_postgres_checks_real_tables(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.keyless (id integer, note varchar(10))")
        conn.execute("CREATE TABLE public.docs (id integer PRIMARY KEY, body text)")
        conn.execute("CREATE TABLE public.plain (id integer PRIMARY KEY, n integer)")
    tables = ["public.keyless", "public.docs", "public.plain", "public.missing"]
    found = postgres_preflight.run(pg_db, tables, "mps_no_such_slot", "mps_no_such_pub")
    by_check = {(f.check, f.severity) for f in found}
    assert by_check == {
        ("replica_identity", "error"),
        ("replica_identity_toast", "warning"),
        ("tables", "error"),
    }
    messages = " ".join(f.message for f in found)
    assert "public.keyless has no primary key" in messages
    assert "public.docs has TOASTable columns (body)" in messages
    assert "public.missing" in messages

    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.keyless REPLICA IDENTITY FULL")
    found = postgres_preflight.run(pg_db, tables[:3], "mps_no_such_slot", "mps_no_such_pub")
    assert errors(found) == []


def test_connect_is_reachable_with_every_plugin(endpoints: Endpoints) -> None:
    client = ConnectClient(endpoints.connect_url)
    assert connect.run(client, connector_classes()) == []
    [missing] = connect.run(client, ["com.example.NoSuchConnector"])
    assert "com.example.NoSuchConnector" in missing.message


def test_unreachable_connect_is_a_clear_error() -> None:
    client = ConnectClient("http://127.0.0.1:9", timeout_s=2, retries=0)
    [finding] = connect.run(client, connector_classes())
    assert "unreachable" in finding.message
    with pytest.raises(ConnectApiError, match="make stack-up"):
        client.server_info()


def test_connect_errors_carry_connects_message(endpoints: Endpoints) -> None:
    client = ConnectClient(endpoints.connect_url)
    name = f"mps-test-{uuid.uuid4().hex[:8]}"
    assert client.get_config(name) is None
    with pytest.raises(ConnectApiError, match="HTTP 400") as caught:
        client.put_config(name, {"connector.class": "com.example.NoSuchConnector"})
    assert "NoSuchConnector" in caught.value.connect_message
    assert client.delete(name) is False


def test_postgres_reads_the_slots_wal_status(pg_db: DatabaseEndpoint) -> None:
    slot = f"mps_pf_{uuid.uuid4().hex[:8]}"
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        facts = postgres_preflight.gather(pg_db, [], slot, "mps_no_such_pub")
        assert (facts.slot_exists, facts.slot_wal_status) == (True, "reserved")
        assert postgres_preflight.check_slot(slot, facts.slot_wal_status) == []
        absent = postgres_preflight.gather(pg_db, [], "mps_no_such_slot", "mps_no_such_pub")
        assert (absent.slot_exists, absent.slot_wal_status) == (False, None)
        with pg_connect(pg_db, autocommit=True) as conn:
            conn.execute("CREATE TABLE mps_pf_wal AS SELECT g FROM generate_series(1, 20000) g")
            retained, safe = postgres_preflight.slot_retention(conn, slot) or (None, None)
            assert retained is not None
            assert retained > 100_000  # the table's WAL since the slot was made
            assert safe is not None  # the stack sets max_slot_wal_keep_size
            assert postgres_preflight.slot_retention(conn, "mps_no_such_slot") is None
    finally:
        with pg_connect(pg_db, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
