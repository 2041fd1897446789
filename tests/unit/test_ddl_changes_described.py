"""What `ddl` says it did, per table, and the `--` comment on a column made NULLable (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync.ddl import ZERO_DATE_NULLABLE, describe_changes, plan_ddl
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

pytestmark = pytest.mark.unit


def _table(**kw: Any) -> TableMapping:
    data: dict[str, Any] = {
        "source": "app.invoices",
        "target": "public.invoices",
        "key": ["id"],
        "direction": "mysql_to_pg",
        "columns": [
            {"name": "id", "column_type": "int(11)", "nullable": False},
            {"name": "status", "column_type": "enum('new','paid')", "pg_type": "text"},
            {"name": "paid_on", "column_type": "date"},
            {"name": "flags", "column_type": "int(11)"},
        ],
    }
    data.update(kw)
    return TableMapping.model_validate(data)


@pytest.mark.parametrize(
    ("present", "kwargs", "expected"),
    [
        (None, {}, ["created table public.invoices"]),
        ({"id", "status", "paid_on", "flags"}, {}, []),
        (
            {"id", "status"},
            {},
            ["added column(s) paid_on, flags to public.invoices"],
        ),
        (
            {"id", "status", "paid_on", "flags"},
            {
                "stale_checks": ["invoices_status_check"],
                "missing_checks": ["invoices_status_check", "not_ours"],
                "unvalidated": ["invoices_status_check", "the_apps_own"],
            },
            [
                "replaced CHECK(s) invoices_status_check (the mapping changed them)",
                "validated CHECK(s) invoices_status_check (left NOT VALID by an earlier run)",
            ],
        ),
    ],
)
def test_each_change_is_one_line_and_nothing_to_do_is_none(
    present: set[str] | None, kwargs: dict[str, Any], expected: list[str]
) -> None:
    assert describe_changes(_table(), present, **kwargs) == expected


def test_replica_identity_full_is_named_only_when_it_is_set() -> None:
    wins = _table(direction="both", conflict={"rule": "mysql_wins"})
    columns = {"id", "status", "paid_on", "flags"}
    assert describe_changes(wins, None) == [
        "created table public.invoices with REPLICA IDENTITY FULL"
    ]
    assert describe_changes(wins, columns, replica_identity="d") == [
        "set REPLICA IDENTITY FULL on public.invoices"
    ]
    assert describe_changes(wins, columns, replica_identity="f") == []


def test_a_not_null_date_made_nullable_for_the_zero_date_says_so_in_a_comment() -> None:
    """MySQL's NOT NULL became NULLable without a word, though README promises a `--` comment
    for what is not carried."""
    columns = [
        {"name": "id", "column_type": "date", "nullable": False},
        {"name": "issued_at", "column_type": "datetime", "nullable": False},
        {"name": "due", "column_type": "date"},
    ]
    sql = "\n".join(plan_ddl(MappingSet((_table(columns=columns),))))
    assert f'"issued_at" timestamp(0),  -- {ZERO_DATE_NULLABLE}\n' in sql
    assert '"id" date NOT NULL,\n' in sql  # a key column stays NOT NULL: no comment
    assert '"due" date,\n' in sql  # NULLable in MySQL too: nothing to explain
    sentinel = _table(columns=columns, values={"zero_dates": "sentinel"})
    assert ZERO_DATE_NULLABLE not in "\n".join(plan_ddl(MappingSet((sentinel,))))
    added = plan_ddl(MappingSet((_table(columns=columns),)), existing={"app.invoices": {"id"}})
    assert f"-- issued_at: {ZERO_DATE_NULLABLE}" in "\n".join(added)
