"""The rule column must hold what its rule compares it with.

Under ``last_writer_wins`` a delete counts as a *datetime* (``conflicts.delete_time``) and a
tombstone is a datetime: compared with a whole-number rule column (epoch milliseconds, a counter)
``incoming_wins`` raised TypeError, which failed the whole batch again on every run (the stream
stopped at the first re-insert of a deleted key). The mapping is now refused up front, naming
table, column and fix; ``version`` likewise needs a number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mysql_pg_sync.cdc.apply import Applier, _Prepared, plan_for
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.mapping.loader import validate_entries
from mysql_pg_sync.mapping.models import MappingSet, TableMapping


def _entry(rule: str, column_type: str) -> dict[str, Any]:
    return {
        "source": "app.items",
        "target": "public.items",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "bigint(20)", "nullable": False},
            {"name": "qty", "column_type": "int(11)"},
            {"name": "changed", "column_type": column_type, "nullable": False},
        ],
        "direction": "both",
        "conflict": {"rule": rule, "column": "changed"},
    }


@pytest.mark.parametrize(
    ("rule", "column_type", "needs"),
    [
        ("last_writer_wins", "bigint(20)", "a date, datetime or timestamp column"),
        ("last_writer_wins", "varchar(30)", "a date, datetime or timestamp column"),
        ("last_writer_wins", "time(6)", "a date, datetime or timestamp column"),
        ("version", "datetime(6)", "an integer or decimal column"),
        ("version", "varchar(30)", "an integer or decimal column"),
        ("version", "double", "an integer or decimal column"),
    ],
)
def test_a_rule_column_of_the_wrong_kind_is_refused_naming_table_column_and_fix(
    rule: str, column_type: str, needs: str, tmp_path: Path
) -> None:
    path = tmp_path / "app.items.yaml"
    tables, problems = validate_entries(path, [_entry(rule, column_type)])
    assert tables == []
    [problem] = problems
    assert problem.startswith(
        f"{path}: table app.items: conflict.column: rule {rule} needs {needs}, "
        f"but app.items.changed is {column_type} (kind "
    )
    assert "name such a column" in problem  # the fix
    other = "version" if rule == "last_writer_wins" else "last_writer_wins"
    assert f"or use rule: {other}" in problem


@pytest.mark.parametrize(
    ("rule", "column_type"),
    [
        ("last_writer_wins", "datetime(6)"),
        ("last_writer_wins", "timestamp(3)"),
        ("last_writer_wins", "date"),
        ("version", "int(11)"),
        ("version", "bigint(20) unsigned"),
        ("version", "decimal(20,0)"),
    ],
)
def test_a_rule_column_of_its_rules_kind_is_accepted(rule: str, column_type: str) -> None:
    assert TableMapping.model_validate(_entry(rule, column_type)).conflict.column == "changed"


def test_a_re_insert_of_a_deleted_key_is_decided_against_the_tombstone() -> None:
    """With a time column the delete's tombstone and the re-inserted row's stamp compare: the
    newer wins, and nothing raises."""
    mapping = TableMapping.model_validate(_entry("last_writer_wins", "datetime(6)"))
    plan = plan_for(mapping, "postgres", mysql_dialect)
    session: Any = SimpleNamespace(side="mysql", dialect=mysql_dialect)
    applier = Applier(session, MappingSet((mapping,)))
    tombstone = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # MySQL deleted key 5 then
    for stamp, action in (
        (dt.datetime(2026, 1, 2), "apply"),  # re-inserted after the delete: back
        (dt.datetime(2025, 12, 31), "skip_lost"),  # written before the delete: stays deleted
    ):
        after = {"id": 5, "qty": 1, "changed": stamp}
        event = ChangeEvent("postgres", "public", "items", "c", {"id": 5}, None, after, 0)
        change = CollapsedChange(event, None, event.after, 1)
        prepared = _Prepared(change, (5,), dict(after), frozenset())
        decision = applier._decide(plan, prepared, None, tombstone)
        assert (decision.action, decision.conflict) == (action, "update_delete")
