"""`ddl` on an existing table: the ALTER TABLE that adds the mapped columns it lacks (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.ddl import (
    ZERO_DATE_NULLABLE,
    add_columns_sql,
    is_validation,
    plan_ddl,
    replace_checks_sql,
    unfilled_columns,
)
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
    statement, *validate = add_columns_sql(_orders(), {"id", "note"})
    lines = statement.splitlines()
    assert lines[0].startswith("-- seen: MySQL ON UPDATE current_timestamp() not carried")
    assert lines[1] == f"-- seen: {ZERO_DATE_NULLABLE}"
    assert lines[2:] == [
        'ALTER TABLE "public"."orders"',
        "  ADD COLUMN \"coupon\" varchar(20) DEFAULT 'none',",
        '  ADD COLUMN "points" bigint DEFAULT 0 NOT NULL,',
        # NULLable: a NOT NULL timestamp may hold MySQL's zero date, NULL here (zero_dates: null)
        "  ADD COLUMN \"seen\" timestamptz(0) DEFAULT date_trunc('second', CURRENT_TIMESTAMP),",
        '  ADD CONSTRAINT "orders_points_range" CHECK ("points" >= 0 AND "points" <= 4294967295)'
        " NOT VALID,",
        # a MySQL TIMESTAMP holds 1970-2038 only (a table that replicates to MySQL)
        '  ADD CONSTRAINT "orders_seen_range" CHECK ("seen" >= \'1970-01-01 00:00:01+00\' AND '
        "\"seen\" < '2038-01-19 03:14:08+00') NOT VALID",
    ]
    assert "secret" not in statement
    # the rows are checked after the ALTER commits, without its ACCESS EXCLUSIVE lock
    assert validate == [
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_points_range"',
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_seen_range"',
    ]
    assert all(is_validation(v) for v in validate)
    assert not is_validation(statement)


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


def test_a_new_auto_increment_column_s_sequence_is_owned_by_it() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "app.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {
                    "name": "n",
                    "column_type": "bigint(20) unsigned",
                    "nullable": False,
                    "auto_increment": True,
                },
            ],
        }
    )
    statements = add_columns_sql(mapping, {"id"})
    assert statements[0] == 'CREATE SEQUENCE IF NOT EXISTS "public"."t_n_seq"'
    assert statements[2] == 'ALTER SEQUENCE "public"."t_n_seq" OWNED BY "public"."t"."n"'
    assert statements[3:] == ['ALTER TABLE "public"."t" VALIDATE CONSTRAINT "t_n_range"']


def test_not_null_columns_no_value_fills_say_why_and_what_to_set() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "app.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "code", "column_type": "varchar(8)", "nullable": False},
                {"name": "tier", "column_type": "enum('basic','gold')", "nullable": False},
                {
                    "name": "token",
                    "column_type": "char(36)",
                    "nullable": False,
                    "default": "uuid()",
                },
                {"name": "n", "column_type": "int(11)", "nullable": False, "default": "0"},
                {"name": "maybe", "column_type": "int(11)"},
            ],
        }
    )
    found = unfilled_columns(mapping, {"id"})
    assert [f.split("'")[1] for f in found] == ["code", "tier", "token"]
    assert "implicit default" in found[0]
    assert "the first member, 'basic'" in found[1]
    assert "MySQL's default uuid() is not carried" in found[2]
    assert "reconcile the table with repair on" in found[2]
    assert unfilled_columns(mapping, {"id", "code", "tier", "token"}) == []


def test_as_new_prints_every_create_table_without_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPS_PG_PORT", "1")  # nothing listens there: it must not connect
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "app.orders.yaml").write_text(
        yaml.safe_dump([_orders().model_dump(mode="json", exclude_none=True)])
    )
    assert main(["ddl", "--mappings", str(folder), "--dry-run", "--as-new"]) == 0
    assert 'CREATE TABLE IF NOT EXISTS "public"."orders"' in capsys.readouterr().out
    assert main(["ddl", "--mappings", str(folder), "--as-new"]) == 2


def test_validations_come_last_and_leftover_not_valid_checks_are_validated_again() -> None:
    other = TableMapping.model_validate(
        {
            **_orders().model_dump(mode="json", exclude_none=True),
            "source": "app.carts",
            "target": "public.carts",
        }
    )
    plan = plan_ddl(
        MappingSet((_orders(), other)),
        existing={"app.orders": {"id", "note"}, "app.carts": {"id", "note", "coupon", "seen"}},
        # left NOT VALID by an earlier run: ours again (once), and one the app's team added
        unvalidated={
            "app.orders": ["orders_points_range"],
            "app.carts": ["carts_points_range", "carts_app_rule"],
        },
    )
    validations = [s for s in plan if is_validation(s)]
    assert plan[-len(validations) :] == validations
    assert validations == [
        'ALTER TABLE "public"."carts" VALIDATE CONSTRAINT "carts_points_range"',
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_points_range"',
        'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_seen_range"',
    ]  # planned once each; the app's own NOT VALID check is not ours to validate


def test_a_new_table_gets_its_checks_inline() -> None:
    plan = plan_ddl(MappingSet((_orders(),)))
    assert not [s for s in plan if is_validation(s)]
    assert "NOT VALID" not in "\n".join(plan)


def test_a_stale_check_is_dropped_and_added_not_valid_in_one_alter_then_validated() -> None:
    mapping = _orders()
    alter, validate = replace_checks_sql(mapping, ["orders_points_range", "not_ours"])
    assert alter.splitlines() == [
        'ALTER TABLE "public"."orders"',
        '  DROP CONSTRAINT "orders_points_range",',
        '  ADD CONSTRAINT "orders_points_range" CHECK ("points" >= 0 AND "points" <= 4294967295)'
        " NOT VALID",
    ]
    assert validate == 'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_points_range"'
    assert replace_checks_sql(mapping, ["not_ours"]) == []


def test_a_validation_is_recognised_whatever_the_names_hold() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "app.t",
            "target": 'my schema.odd "t"',
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "unit price", "column_type": "int(10) unsigned", "default": "0"},
            ],
        }
    )
    *_, validate = add_columns_sql(mapping, {"id"})
    assert validate == (
        'ALTER TABLE "my schema"."odd ""t""" VALIDATE CONSTRAINT "odd ""t""_unit price_range"'
    )
    assert is_validation(validate)
    assert not is_validation('ALTER TABLE "t" ADD COLUMN "x" int')


def test_a_check_an_existing_column_lacks_is_added_not_valid_then_validated() -> None:
    """The mapping turned two-way, say: it now wants a CHECK the column never had."""
    mapping = _orders()
    alter, validate = replace_checks_sql(mapping, [], ["orders_points_range"])
    assert alter.splitlines() == [
        'ALTER TABLE "public"."orders"',
        '  ADD CONSTRAINT "orders_points_range" CHECK ("points" >= 0 AND "points" <= 4294967295)'
        " NOT VALID",
    ]
    assert validate == 'ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_points_range"'
    # stale and missing at once: replaced once
    both = replace_checks_sql(mapping, ["orders_points_range"], ["orders_points_range"])
    assert sum("ADD CONSTRAINT" in s for s in both) == 1
