"""Operator review: zero dates are no NOT NULL breach, and breaches say which row, run and fix."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime

import pytest

from mysql_pg_sync import cli
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.gx_runner import failure_detail
from mysql_pg_sync.quality.plan import (
    PlannedCheck,
    ReconcileFacts,
    SkippedCheck,
    TableFacts,
    plan_check,
)
from mysql_pg_sync.quality.report_html import render_report
from mysql_pg_sync.quality.results import CheckResult, QualityRun, describe
from mysql_pg_sync.quality.samples import null_keys_query, wants_keys

pytestmark = pytest.mark.unit


def _products(key: tuple[str, ...] = ("id",), **extra: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.products",
            "target": "public.products",
            "key": list(key),
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "sku", "column_type": "varchar(20)", "nullable": False},
                {"name": "updated_at", "column_type": "datetime", "nullable": False},
                {"name": "created", "column_type": "timestamp", "nullable": False},
                {"name": "released", "column_type": "date", "nullable": False},
                {"name": "retired", "column_type": "date"},
            ],
            **extra,
        }
    )


def _not_null(mapping: TableMapping) -> set[str]:
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    return {s.check_id for s in specs if s.check == "not_null"}


def test_zero_dates_as_null_give_no_not_null_check_on_the_postgres_side() -> None:
    # zero_dates: null is the default policy
    assert _not_null(_products()) == {"not_null:sku"}
    assert _not_null(_products(values={"zero_dates": "null"})) == {"not_null:sku"}


def test_a_zero_date_sentinel_keeps_the_not_null_check() -> None:
    assert _not_null(_products(values={"zero_dates": "sentinel"})) == {
        "not_null:sku",
        "not_null:updated_at",
        "not_null:created",
        "not_null:released",
    }


def _drift_plan(status: str = "drift", report: str | None = "/r/reconcile-42.html") -> PlannedCheck:
    mapping = _products()
    (spec,) = [
        s
        for s in derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
        if s.check == "reconcile_drift"
    ]
    facts = TableFacts(
        state_tables=frozenset({"reconcile_tables", "conflicts", "dead_letters"}),
        reconcile=ReconcileFacts(run_id=42, status=status, unrepaired=1, report_html=report),
    )
    planned = plan_check(spec, mapping, facts)
    assert isinstance(planned, PlannedCheck)
    return planned


def _command(text: str) -> list[str]:
    (command,) = re.findall(r"`(python -m mysql_pg_sync [^`]+)`", text)
    return shlex.split(command)[3:]


def test_failed_drift_names_the_run_its_report_and_the_repair_that_parses() -> None:
    detail = failure_detail(_drift_plan())
    assert detail.startswith("expected at most 0; drift left by reconcile run 42")
    assert "its report: /r/reconcile-42.html" in detail
    assert 'trigger the reconcile DAG with Params tables = ["legacy.products"]' in detail
    assert "repair on and dry_run off" in detail
    argv = _command(detail)
    assert argv == ["reconcile", "--tables", "legacy.products", "--repair", "--no-dry-run"]
    args = cli._parser(argv).parse_args(argv)
    assert (args.tables, args.repair, args.no_dry_run) == (["legacy.products"], True, True)


def test_refused_repairs_ask_for_a_higher_max_repairs() -> None:
    detail = failure_detail(_drift_plan("repair_refused"))
    assert "refused as over max_repairs" in detail
    argv = _command(detail)
    assert argv[-2:] == ["--max-repairs", "<n>"]
    args = cli._parser(argv).parse_args([*argv[:-1], "5000"])
    assert args.max_repairs == 5000


def test_a_reconcile_error_names_its_report() -> None:
    mapping = _products()
    (spec,) = [
        s
        for s in derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
        if s.check == "reconcile_drift"
    ]
    facts = TableFacts(
        state_tables=frozenset({"reconcile_tables"}),
        reconcile=ReconcileFacts(
            run_id=43, status="error", error="boom", report_html="/r/reconcile-43.html"
        ),
    )
    skipped = plan_check(spec, mapping, facts)
    assert isinstance(skipped, SkippedCheck)
    assert skipped.reason.endswith("its report: /r/reconcile-43.html")


def _failed(check: str, column: str, **kw: object) -> CheckResult:
    return CheckResult(
        table="legacy.products",
        check_id=f"{check}:{column}",
        check=check,
        severity="fail",
        outcome="failed",
        expectation="ExpectColumnValuesToNotBeNull",
        column=column,
        unexpected_count=1,
        sample=[None],
        **kw,  # type: ignore[arg-type]
    )


def test_null_samples_show_their_keys_in_text_html_and_json() -> None:
    result = _failed("not_null", "sku", sample_keys=[{"id": 7}])
    assert describe(result) == "1 unexpected value(s); e.g. None at key id=7"
    compound = _failed("not_null", "sku", sample_keys=[{"id": 7, "line": "a"}])
    assert describe(compound).endswith("e.g. None at key (id=7, line='a')")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    run = QualityRun("manual__k", now, now, (result,))
    assert "not_null:sku: 1 unexpected value(s); e.g. None at key id=7" in run.summary()
    assert "e.g. None at key id=7" in render_report(run)
    assert run.to_json()["results"][0]["sample_keys"] == [{"id": 7}]


def test_keys_are_looked_up_only_for_failed_null_checks_they_add_to() -> None:
    mapping = _products()
    assert wants_keys(_failed("not_null", "sku"), mapping)
    assert not wants_keys(_failed("key_not_null", "id"), mapping)  # the key itself is NULL
    assert wants_keys(_failed("key_not_null", "id"), _products(key=("id", "sku")))
    assert not wants_keys(_failed("enum_values", "sku"), mapping)
    passed = CheckResult("legacy.products", "not_null:sku", "not_null", "fail", "passed", "E")
    assert not wants_keys(passed, mapping)
    assert null_keys_query(mapping, "sku") == (
        'SELECT "id" FROM "public"."products" WHERE "sku" IS NULL ORDER BY "id" LIMIT 5'
    )
