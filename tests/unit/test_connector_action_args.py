"""Connector actions refuse arguments that belong to another action, before touching anything:
`pause --tables t` paused every table of both connectors and said nothing."""

from __future__ import annotations

from typing import Any, cast

import pytest

from mysql_pg_sync.cdc.connector_actions import run_action
from mysql_pg_sync.errors import ConfigError

pytestmark = pytest.mark.unit

NO_CONTEXT = cast(Any, None)  # refused before the context is used


@pytest.mark.parametrize("action", ["pause", "resume", "stop", "restart_failed", "apply", "delete"])
def test_tables_are_only_for_snapshot_tables(action: str) -> None:
    with pytest.raises(ConfigError) as refused:
        run_action(NO_CONTEXT, action, tables=["legacy.walk_items"])
    message = str(refused.value)
    assert f"{action} acts on whole connectors" in message
    assert "legacy.walk_items" in message
    assert "nothing was done" in message


@pytest.mark.parametrize("action", ["pause", "apply", "snapshot_tables"])
def test_drop_slot_is_only_for_delete(action: str) -> None:
    tables = ["t"] if action == "snapshot_tables" else []
    with pytest.raises(ConfigError, match=f"drop_slot is for delete, not {action}"):
        run_action(NO_CONTEXT, action, tables=tables, drop_slot=True)


@pytest.mark.parametrize("action", ["health", "status", "render", "preflight"])
def test_the_cli_report_actions_refuse_tables_and_drop_slot(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mysql_pg_sync.cli import main

    assert main(["connectors", action, "--tables", "legacy.orders"]) == 2
    assert f"connectors {action} takes no --tables" in capsys.readouterr().err
    assert main(["connectors", action, "--drop-slot"]) == 2
    assert "nothing was done" in capsys.readouterr().err
