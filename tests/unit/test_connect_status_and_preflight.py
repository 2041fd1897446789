"""Pure parts of the Connect client and the preflight judges (no servers)."""

from __future__ import annotations

import pytest
import requests

from mysql_pg_sync.backfill.target import UniqueIndex
from mysql_pg_sync.cdc.connect_client import ConnectorStatus, _is_rebalance, connect_error_message
from mysql_pg_sync.cdc.connector_signals import signal_row, snapshot_outcome
from mysql_pg_sync.cdc.preflight import Finding, raise_for_errors
from mysql_pg_sync.cdc.preflight.connect import check_plugins
from mysql_pg_sync.cdc.preflight.mysql import MysqlFacts, check_grants, check_server, parse_grants
from mysql_pg_sync.cdc.preflight.postgres import (
    PostgresFacts,
    TableFacts,
    check,
    check_target_keys,
)
from mysql_pg_sync.errors import PreflightError, SyncError
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping

FAILED = {
    "name": "mps-mysql-source",
    "connector": {"state": "RUNNING", "worker_id": "w:8083"},
    "tasks": [
        {"id": 1, "state": "RUNNING", "worker_id": "w:8083"},
        {"id": 0, "state": "FAILED", "worker_id": "w:8083", "trace": "Access denied for user"},
    ],
    "type": "source",
}


def test_status_parses_and_names_the_failed_task_with_its_trace() -> None:
    status = ConnectorStatus.from_json(FAILED)
    assert [t.id for t in status.tasks] == [0, 1]
    assert status.is_failed
    assert not status.is_running
    assert status.summary() == "mps-mysql-source: RUNNING (task 0 FAILED, task 1 RUNNING)"
    assert "task 0:\nAccess denied for user" in status.failure_trace()


def test_running_needs_tasks() -> None:
    no_tasks = ConnectorStatus.from_json({"name": "c", "connector": {"state": "RUNNING"}})
    assert not no_tasks.is_running
    assert not no_tasks.is_failed


def test_connect_error_message_prefers_connects_message() -> None:
    assert connect_error_message({"error_code": 409, "message": "rebalance"}) == "rebalance"
    assert connect_error_message("plain text") == "plain text"


MARIADB_OK = MysqlFacts(
    version="10.11.6-MariaDB",
    variables={
        "log_bin": "ON",
        "binlog_format": "ROW",
        "binlog_row_image": "FULL",
        "server_id": "1",
        "gtid_strict_mode": "ON",
    },
    grants=(
        "GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `sync`@`%`",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON `legacy`.* TO `sync`@`%`",
        "GRANT SELECT ON `mps\\_test\\_%`.* TO `sync`@`%`",
    ),
    user="sync@%",
)


def test_a_well_configured_mariadb_passes() -> None:
    assert check_server(MARIADB_OK) == []
    assert check_grants(MARIADB_OK, ["legacy", "mps_test_1"], "legacy") == []


@pytest.mark.parametrize(
    ("variable", "value", "fix"),
    [
        ("binlog_format", "MIXED", "binlog_format=ROW"),
        ("binlog_row_image", "MINIMAL", "binlog_row_image=FULL"),
        ("server_id", "0", "non-zero server_id"),
        ("log_bin", "OFF", "log_bin=<path>"),
    ],
)
def test_each_binlog_problem_names_its_fix(variable: str, value: str, fix: str) -> None:
    facts = MysqlFacts(
        MARIADB_OK.version, {**MARIADB_OK.variables, variable: value}, MARIADB_OK.grants, "u"
    )
    [finding] = check_server(facts)
    assert finding.check == variable
    assert fix in finding.fix


def test_mysql_needs_gtid_mode_on() -> None:
    facts = MysqlFacts("8.4.3", {**MARIADB_OK.variables, "gtid_mode": "OFF"}, (), "u")
    checks = {f.check for f in check_server(facts)}
    assert checks == {"gtid_mode", "enforce_gtid_consistency"}


def test_missing_grants_name_the_grant_statement() -> None:
    facts = MysqlFacts(
        MARIADB_OK.version,
        MARIADB_OK.variables,
        (
            "GRANT REPLICATION SLAVE ON *.* TO `sync`@`%`",
            "GRANT SELECT ON `legacy`.* TO `sync`@`%`",
        ),
        "sync@%",
    )
    fixes = [f.fix for f in check_grants(facts, ["legacy", "other"], "legacy")]
    assert fixes == [
        "GRANT RELOAD, SHOW DATABASES, BINLOG MONITOR ON *.* TO sync@%",
        "GRANT SELECT ON `other`.* TO sync@%",
        "GRANT INSERT ON `legacy`.* TO sync@%",
    ]


def test_grant_parsing_handles_all_privileges_wildcards_and_column_grants() -> None:
    granted = parse_grants(
        [
            "GRANT ALL PRIVILEGES ON *.* TO `admin`@`%` WITH GRANT OPTION",
            "GRANT SELECT (a, b), INSERT ON `db`.`t` TO `u`@`%`",
        ]
    )
    assert granted == {"*.*": {"ALL"}, "`db`.`t`": {"INSERT"}}
    admin = MysqlFacts("10.11.6-MariaDB", {}, ("GRANT ALL PRIVILEGES ON *.* TO `a`@`%`",), "a")
    assert check_grants(admin, ["anything"], "anything") == []


def pg_facts(**changes: object) -> PostgresFacts:
    base = {
        "wal_level": "logical",
        "max_replication_slots": 10,
        "slots_in_use": 2,
        "slot_exists": False,
        "can_replicate": True,
        "can_create_publication": True,
        "publication_exists": False,
        "published_tables": (),
        "tables": (TableFacts("public.orders", True, True, "d", ()),),
        "user": "sync",
    }
    return PostgresFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_a_well_configured_postgres_passes() -> None:
    assert check(pg_facts()) == []


def test_postgres_problems_name_their_fix() -> None:
    found = check(
        pg_facts(
            wal_level="replica",
            slots_in_use=10,
            can_replicate=False,
            can_create_publication=False,
            tables=(
                TableFacts("public.gone", False),
                TableFacts("public.log", True, False, "d", ()),
            ),
        )
    )
    by_check = {f.check: f for f in found}
    assert "wal_level = logical" in by_check["wal_level"].fix
    assert "max_replication_slots" in by_check["replication_slots"].fix
    assert by_check["replication_role"].fix == 'ALTER ROLE "sync" REPLICATION'
    assert "make ddl" in by_check["tables"].fix
    assert by_check["replica_identity"].fix.startswith(
        "ALTER TABLE public.log REPLICA IDENTITY FULL"
    )
    assert "publication" in by_check


def test_existing_slot_needs_no_free_one() -> None:
    assert check(pg_facts(slots_in_use=10, slot_exists=True)) == []


def test_toast_columns_warn_by_default_and_fail_on_request() -> None:
    toasty = (TableFacts("public.docs", True, True, "d", ("body",)),)
    [warning] = check(pg_facts(tables=toasty))
    assert warning.severity == "warning"
    assert "__debezium_unavailable_value" in warning.message
    [error] = check(pg_facts(tables=toasty), require_full_for_toast=True)
    assert error.severity == "error"
    assert check(pg_facts(tables=(TableFacts("public.docs", True, True, "f", ("body",)),))) == []


def test_toast_columns_of_many_tables_are_one_finding() -> None:
    """A 200-table database logged 200 warnings on every apply (nearly every table has a text
    or numeric column): one finding names the first few and counts the rest."""
    toasty = tuple(TableFacts(f"public.t{i:03d}", True, True, "d", ("body",)) for i in range(220))
    [warning] = check(pg_facts(tables=toasty))
    assert warning.message.startswith(
        "220 tables have TOASTable columns: public.t000 (body), public.t001 (body)"
    )
    assert "public.t009 (body) and 210 more:" in warning.message
    assert "public.t010" not in warning.message
    [error] = check(pg_facts(tables=toasty), require_full_for_toast=True)
    assert "public.t219 (body)" in error.message


def test_a_table_mysql_wins_both_ways_without_full_before_images_is_an_error() -> None:
    """Its PostgreSQL changes could not see MySQL's: the sides would swap changes."""
    tables = (
        TableFacts("public.orders", True, True, "d", ("note",)),
        TableFacts("public.items", True, True, "f", ("note",)),
        TableFacts("public.logs", True, True, "d", ()),
    )
    [error] = check(pg_facts(tables=tables), need_full={"public.orders", "public.items"})
    assert error.check == "replica_identity_conflicts"
    assert error.severity == "error"
    assert error.message.startswith("public.orders: synced both ways under conflict rule")
    assert "public.items" not in error.message  # it has FULL
    assert 'ALTER TABLE "public"."orders" REPLICA IDENTITY FULL' in error.fix
    assert 'make ddl ARGS="--tables public.orders"' in error.fix
    # the TOAST warning is not given again for the table the error names
    assert check(pg_facts(tables=tables[1:]), need_full={"public.items"}) == []


def test_raise_for_errors_lists_every_error_and_returns_warnings() -> None:
    warn = Finding("a", "minor", "ignore", "warning")
    assert raise_for_errors("db", [warn]) == [warn]
    with pytest.raises(PreflightError, match=r"2 problem\(s\)[\s\S]*Fix: one[\s\S]*Fix: two"):
        raise_for_errors("db", [Finding("x", "bad", "one"), Finding("y", "worse", "two"), warn])


def test_missing_connect_plugins_are_named() -> None:
    [finding] = check_plugins(["a.B"], ["a.B", "c.D"])
    assert "c.D" in finding.message


def test_execute_snapshot_signal_and_its_completion() -> None:
    sid, kind, data = signal_row(["legacy.orders"], "abc")
    assert (sid, kind) == ("abc", "execute-snapshot")
    assert data == '{"data-collections": ["legacy.orders"], "type": "incremental"}'
    with pytest.raises(SyncError):
        signal_row([])
    notes = [
        {"id": "other", "aggregate_type": "Incremental Snapshot", "type": "COMPLETED"},
        {
            "id": "abc",
            "aggregate_type": "Incremental Snapshot",
            "type": "STARTED",
            "additional_data": {"data_collections": "legacy.orders"},
        },
        {
            "id": "abc",
            "aggregate_type": "Incremental Snapshot",
            "type": "TABLE_SCAN_COMPLETED",
            "additional_data": {"scanned_collection": "legacy.orders", "total_rows_scanned": "5"},
        },
    ]
    assert snapshot_outcome(notes, "abc") is None
    done = snapshot_outcome(
        [*notes, {"id": "abc", "aggregate_type": "Incremental Snapshot", "type": "COMPLETED"}],
        "abc",
    )
    assert done is not None
    assert (done.outcome, done.tables, done.rows_scanned) == (
        "COMPLETED",
        ("legacy.orders",),
        {"legacy.orders": 5},
    )


@pytest.mark.parametrize(
    ("status", "body", "retried"),
    [
        (409, b'{"error_code":409,"message":"Cannot complete request momentarily"}', True),
        (500, b'{"message":"Request cannot be completed because a rebalance is expected"}', True),
        (500, b'{"message":"NullPointerException"}', False),
        (400, b'{"message":"Connector configuration is invalid"}', False),
    ],
)
def test_which_connect_answers_are_retried(status: int, body: bytes, retried: bool) -> None:
    response = requests.Response()
    response.status_code = status
    response._content = body
    assert _is_rebalance(response) is retried


def test_an_invalidated_slot_is_an_error_naming_the_recovery() -> None:
    [lost] = check(pg_facts(slot_exists=True, slot="mps_pg_slot", slot_wal_status="lost"))
    assert (lost.check, lost.severity) == ("replication_slot_lost", "error")
    assert "mps_pg_slot" in lost.message
    assert "max_slot_wal_keep_size" in lost.message
    assert "action reset_lost_positions" in lost.fix
    assert "authoritative postgres" in lost.fix
    assert "reconcile" in lost.fix
    [risk] = check(pg_facts(slot_exists=True, slot="s", slot_wal_status="unreserved"))
    assert (risk.check, risk.severity) == ("replication_slot_at_risk", "warning")
    for fine in ("reserved", "extended", None):
        assert check(pg_facts(slot_exists=fine is not None, slot="s", slot_wal_status=fine)) == []


def _keyed(table: str, direction: str = "both") -> TableMapping:
    return TableMapping(
        source=f"legacy.{table}",
        target=f"public.{table}",
        key=("id",),
        direction=direction,  # type: ignore[arg-type]
        columns=(
            ColumnMapping(name="id", column_type="int(11)", pg_type="integer"),
            ColumnMapping(name="code", column_type="varchar(10)", pg_type="varchar(10)"),
        ),
    )


def test_a_target_without_a_unique_index_on_the_key_is_an_error_naming_the_fix() -> None:
    """The stream's ON CONFLICT needs one: without it every change would be a dead letter, and
    the backfill's prepare was the first to say so, after the connectors were applied."""
    on_other = UniqueIndex("orders_code_key", ("code",))
    partial = UniqueIndex("orders_id_live", ("id",), partial=True)
    found = check_target_keys(
        [
            (_keyed("orders"), [on_other, partial]),
            (_keyed("items"), [UniqueIndex("items_pkey", ("id",), primary=True)]),
            (_keyed("notes"), []),
        ]
    )
    assert [f.check for f in found] == ["target_key", "target_key"]
    assert [f.severity for f in found] == ["error", "error"]
    orders, notes = found
    assert orders.message.startswith(
        "public.orders (legacy.orders): no primary key or unique index on exactly the key (id)"
    )
    assert "orders_id_live on (id) cannot be used: it is partial (WHERE ...)" in orders.message
    assert orders.fix == 'ALTER TABLE "public"."orders" ADD PRIMARY KEY ("id")'
    assert notes.fix == 'ALTER TABLE "public"."notes" ADD PRIMARY KEY ("id")'
