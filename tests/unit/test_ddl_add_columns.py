"""`ddl` on an existing table: the ALTER TABLE that adds the mapped columns it lacks (pure)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.ddl import add_columns_sql, plan_ddl
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

pytestmark = pytest.mark.unit


def _orders() -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "app.orders",
            "target": "public.orders",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "note", "column_type": "varchar(40)"},
                {"name": "coupon", "column_type": "varchar(20)", "default": "'none'"},
                {
                    "name": "points",
                    "column_type": "int(10) unsigned",
                    "nullable": False,
                    "default": "0",
                },
                {
                    "name": "seen",
                    "column_type": "timestamp",
                    "nullable": False,
                    "default": "current_timestamp()",
                    "on_update": "current_timestamp()",
                },
                {"name": "secret", "column_type": "varchar(9)", "exclude": True},
            ],
        }
    )


def test_only_the_missing_synced_columns_are_added_in_one_statement() -> None:
    [statement] = add_columns_sql(_orders(), {"id", "note"})
    lines = statement.splitlines()
    assert lines[0].startswith("-- seen: MySQL ON UPDATE current_timestamp() not carried")
    assert lines[1:] == [
        'ALTER TABLE "public"."orders"',
        "  ADD COLUMN \"coupon\" varchar(20) DEFAULT 'none',",
        '  ADD COLUMN "points" bigint DEFAULT 0 NOT NULL,',
        # NULLable: a NOT NULL timestamp may hold MySQL's zero date, NULL here (zero_dates: null)
        "  ADD COLUMN \"seen\" timestamptz(0) DEFAULT date_trunc('second', CURRENT_TIMESTAMP),",
        '  ADD CONSTRAINT "orders_points_range" CHECK ("points" >= 0 AND "points" <= 4294967295)',
    ]
    assert "secret" not in statement


def test_a_table_with_every_column_gets_nothing() -> None:
    assert add_columns_sql(_orders(), {"id", "note", "coupon", "points", "seen", "extra"}) == []


def test_the_plan_alters_an_existing_table_and_creates_a_missing_one() -> None:
    other = TableMapping.model_validate(
        {
            **_orders().model_dump(mode="json", exclude_none=True),
            "source": "app.carts",
            "target": "public.carts",
        }
    )
    plan = "\n".join(
        plan_ddl(MappingSet((_orders(), other)), existing={"app.orders": {"id", "note"}})
    )
    assert 'CREATE TABLE IF NOT EXISTS "public"."orders"' not in plan
    assert 'ALTER TABLE "public"."orders"\n  ADD COLUMN "coupon"' in plan
    assert 'CREATE TABLE IF NOT EXISTS "public"."carts"' in plan
