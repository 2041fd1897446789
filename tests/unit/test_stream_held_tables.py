"""A run that held a table (its target lacks a mapped column) fails at its end, after the
other tables were applied, naming each held table with its fix."""

from __future__ import annotations

import pytest

from mysql_pg_sync.cdc.consumer import RunSummary
from mysql_pg_sync.cdc.service import TablesHeldError, fail_if_held

pytestmark = pytest.mark.unit


def test_a_run_without_held_tables_passes() -> None:
    fail_if_held(RunSummary().as_dict())
    fail_if_held({})  # a summary from before held tables were reported


def test_held_tables_fail_the_run_with_each_reason() -> None:
    summary = RunSummary()
    summary.held["app.items"] = "app.items: ... lacks a column ... run `make ddl`"
    summary.held["app.tags"] = "app.tags: ... add the column in MySQL"
    assert summary.as_dict()["held_tables"] == summary.held
    with pytest.raises(TablesHeldError) as failed:
        fail_if_held(summary.as_dict())
    message = str(failed.value)
    assert message.startswith("2 table(s) wait for a column their target lacks")
    assert "every other table was applied" in message
    assert "run `make ddl`" in message
    assert "add the column in MySQL" in message


def test_a_hold_an_earlier_run_began_fails_without_being_new() -> None:
    held = {"db.t": "db.t: PostgreSQL lacks column 'note'; run `make ddl`"}
    with pytest.raises(TablesHeldError) as first:
        fail_if_held({"held_tables": held, "held_new_tables": ["db.t"]})
    assert first.value.new
    with pytest.raises(TablesHeldError) as again:
        fail_if_held({"held_tables": held, "held_new_tables": []})
    assert not again.value.new
