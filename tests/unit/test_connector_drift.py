"""A deployed connector config edited outside apply: which keys differ, which captured tables it
leaves out, and what the operator is told (no servers)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc.connect_client import ConnectorStatus, TaskStatus
from mysql_pg_sync.cdc.connector_config import (
    ConnectorSettings,
    RenderedConnector,
    include_list,
    render_mysql_source,
)
from mysql_pg_sync.cdc.connector_drift import (
    captures,
    config_changes,
    config_drift,
    uncaptured_tables,
)
from mysql_pg_sync.mapping.models import ColumnMapping, TableMapping
from mysql_pg_sync.settings import endpoints_from_env

pytestmark = pytest.mark.unit

PASSWORD_REF = "${file:/run/secrets/connect.properties:mysql.password}"
DESIRED = {
    "connector.class": "io.debezium.connector.mariadb.MariaDbConnector",
    "database.include.list": include_list(["legacy"]),
    "table.include.list": include_list(["legacy.orders", "legacy.customers", "legacy.sig"]),
    "database.password": PASSWORD_REF,
}
TABLES = ("legacy.customers", "legacy.orders")


def test_the_same_config_with_the_name_connect_adds_is_no_drift() -> None:
    assert config_drift("c", DESIRED, {**DESIRED, "name": "c"}, TABLES) is None


def test_a_table_taken_out_of_the_include_list_is_named_with_the_keys_and_the_fixes() -> None:
    current = {
        **DESIRED,
        "name": "c",
        "table.include.list": include_list(["legacy.customers", "legacy.sig"]),
    }
    drift = config_drift("c", DESIRED, current, TABLES)
    assert drift is not None
    assert drift.keys == ("table.include.list",)
    assert drift.uncaptured == ("legacy.orders",)
    message = drift.message()
    assert message.startswith("c: CONFIG DRIFT")
    assert (
        "table.include.list: 'legacy\\\\.customers,legacy\\\\.sig' -> "
        "'legacy\\\\.orders,legacy\\\\.customers,legacy\\\\.sig'"
    ) in message
    assert "connectors apply" in message
    assert "legacy.orders" in message.split("table.include.list", 1)[1]
    assert "reconcile --tables legacy.orders --repair --no-dry-run" in message


def test_a_table_new_to_the_mappings_is_not_applied_yet_not_an_edit_behind_apply() -> None:
    """After a mapping is added and before `apply`, health said the config was "changed outside
    apply" and sent the operator to a reconcile; a new table needs apply and a backfill."""
    from dataclasses import replace

    current = {
        **DESIRED,
        "name": "c",
        "table.include.list": include_list(["legacy.customers", "legacy.sig"]),
    }
    drift = config_drift("c", DESIRED, current, TABLES)
    assert drift is not None
    message = replace(drift, new=("legacy.orders",)).message()
    assert message.startswith("c: NOT APPLIED: the mappings capture legacy.orders")
    assert "then backfill it" in message
    assert "reconcile" not in message
    assert "outside apply" not in message


def test_keys_added_removed_or_changed_are_each_listed_old_to_new() -> None:
    current = {**DESIRED, "snapshot.mode": "recovery", "name": "c"}
    del current["connector.class"]
    changes = config_changes(DESIRED, current)
    assert [c.describe() for c in changes] == [
        "connector.class: (absent) -> 'io.debezium.connector.mariadb.MariaDbConnector'",
        "snapshot.mode: 'recovery' -> (absent)",
    ]
    drift = config_drift("c", DESIRED, current, TABLES)
    assert drift is not None
    assert drift.uncaptured == ()  # still captures every table
    assert "reconcile" not in drift.message()


def test_a_literal_secret_is_never_shown_but_a_provider_reference_is() -> None:
    current = {**DESIRED, "database.password": "hunter2-plain"}
    drift = config_drift("c", DESIRED, current, TABLES)
    assert drift is not None
    text = drift.message()
    assert "hunter2" not in text
    assert f"database.password: (hidden) -> {PASSWORD_REF!r}" in text


@pytest.mark.parametrize(
    ("change", "left_out"),
    [
        ({"table.exclude.list": "legacy\\.orders"}, ("legacy.orders",)),
        ({"table.exclude.list": "legacy\\..*"}, TABLES),
        ({"database.include.list": "other"}, TABLES),
        ({"database.exclude.list": "LEGACY"}, TABLES),  # Debezium matches case-insensitively
        ({"table.include.list": "legacy\\.cust.*"}, ("legacy.orders",)),
        ({"table.include.list": "LEGACY\\.ORDERS,legacy\\.customers"}, ()),
        ({"table.include.list": "legacy\\.ord"}, TABLES),  # fully matched, not a prefix
        ({"table.include.list": "legacy\\.(orders"}, TABLES),  # not a valid regex
        ({"heartbeat.interval.ms": "1"}, ()),
    ],
)
def test_which_captured_tables_a_deployed_config_leaves_out(
    change: dict[str, str], left_out: tuple[str, ...]
) -> None:
    assert uncaptured_tables({**DESIRED, **change}, TABLES) == left_out


def test_no_filter_captures_everything_and_postgres_schemas_are_filtered_too() -> None:
    assert captures({}, "public.orders")
    assert not captures({"schema.exclude.list": "public"}, "public.orders")
    assert captures({"schema.include.list": "public"}, "public.orders")


def test_the_rendered_mysql_source_captures_its_tables_and_not_without_them() -> None:
    mapping = TableMapping(
        source="legacy.orders",
        target="public.orders",
        key=("id",),
        columns=(ColumnMapping(name="id", column_type="int(11)", pg_type="integer"),),
    )
    rendered = render_mysql_source(
        [mapping], endpoints_from_env({}), ConnectorSettings(prefix="mps"), "mariadb"
    )
    assert uncaptured_tables(rendered.config, rendered.tables) == ()
    edited = {**rendered.config, "table.include.list": include_list([rendered.signal_table])}
    drift = config_drift(rendered.name, rendered.config, edited, rendered.tables)
    assert drift is not None
    assert drift.uncaptured == ("legacy.orders",)


class FakeConnect:
    def __init__(self, config: dict[str, str]) -> None:
        self.config = {**config, "name": "a"}
        self.state = "RUNNING"

    def get_config(self, name: str) -> dict[str, str] | None:
        return self.config

    def put_config(self, name: str, config: dict[str, str]) -> dict[str, Any]:
        self.config = {**config, "name": name}
        return {}

    def status(self, name: str) -> ConnectorStatus:
        tasks = () if self.state == "STOPPED" else (TaskStatus(0, self.state),)
        return ConnectorStatus(name, self.state, tasks=tasks)

    def stop(self, name: str) -> None:
        self.state = "STOPPED"

    def resume(self, name: str) -> None:
        self.state = "RUNNING"


def test_apply_logs_the_changed_keys_and_returns_the_tables_it_did_not_capture(
    caplog: pytest.LogCaptureFixture,
) -> None:
    deployed = {
        **DESIRED,
        "table.include.list": include_list(["legacy.customers"]),
        "database.password": "hunter2-plain",
    }
    client = FakeConnect(deployed)
    rendered = RenderedConnector("a", "mysql", dict(DESIRED), TABLES, "p", "legacy.sig")
    with caplog.at_level(logging.INFO, logger=lifecycle.__name__):
        result = lifecycle.apply_connector(client, rendered, timeout_s=1, poll_s=0.01)  # type: ignore[arg-type]
    assert result.updated
    assert result.uncaptured_before == ("legacy.orders",)
    changed = [r.getMessage() for r in caplog.records if "config changed" in r.getMessage()]
    assert len(changed) == 1
    assert "table.include.list: 'legacy\\\\.customers' -> " in changed[0]
    assert "database.password: (hidden) -> " in changed[0]
    assert "hunter2" not in caplog.text
