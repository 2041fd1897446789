"""Parity failures in words and by gap size, the GE log level, Data Docs retention, and which
failed checks get row keys."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.quality.config import ExpectationsFileError, Retention, load_quality_config
from mysql_pg_sync.quality.gx_runner import expired_runs, prune_runs, quiet_gx_logs
from mysql_pg_sync.quality.parity import gap_severity, parity_failure
from mysql_pg_sync.quality.results import CheckResult, describe
from mysql_pg_sync.quality.samples import value_keys_query, wants_keys
from mysql_pg_sync.quality.specs import CheckSpec, Thresholds

REPAIR = (
    'trigger the reconcile DAG with Params tables = ["legacy.group"], repair on and dry_run '
    "off, or `python -m mysql_pg_sync reconcile --tables legacy.group --repair --no-dry-run`"
)


def test_a_large_gap_names_both_counts_fails_and_says_how_to_repair() -> None:
    severity, detail = parity_failure("legacy.group", "warn", 3, 153, (53, 253), 0.1)
    assert severity == "fail"
    assert detail == (
        "PostgreSQL has 3 rows, MySQL 153: 150 row(s) missing in PostgreSQL (98% of MySQL's "
        "rows); tolerated: 53 to 253 rows; a fail whatever its severity: the gap is over 10% of "
        "MySQL's rows (row_count_fail_ratio); if the stream is behind (`python -m mysql_pg_sync "
        f"status` shows its lag), the rows are in flight; otherwise, to repair it {REPAIR}"
    )


@pytest.mark.parametrize(
    ("pg", "mysql", "configured", "expected"),
    [
        (100_000, 101_000, "warn", "warn"),  # 1 %: rows in flight
        (100_000, 120_000, "warn", "fail"),  # 17 %
        (500, 0, "warn", "fail"),  # MySQL is empty: any breach is a fail
        (100_000, 101_000, "fail", "fail"),  # never lowered
    ],
)
def test_the_gap_decides_the_severity(pg: int, mysql: int, configured, expected) -> None:
    assert gap_severity(configured, pg, mysql, 0.1) == expected


def test_a_small_gap_keeps_its_severity_and_says_extra_rows() -> None:
    severity, detail = parity_failure("legacy.group", "warn", 1_300, 1_000, (900, 1_100), 0.5)
    assert severity == "warn"
    assert detail.startswith(
        "PostgreSQL has 1,300 rows, MySQL 1,000: 300 row(s) more in PostgreSQL than in MySQL "
        "(30% of MySQL's rows); tolerated: 900 to 1,100 rows; if the stream"
    )
    assert "row_count_fail_ratio" not in detail


def test_a_failed_parity_check_does_not_repeat_the_observed_count() -> None:
    base = CheckResult(
        "legacy.group", "row_count_parity", "row_count_parity", "fail", "failed",
        "ExpectTableRowCountToBeBetween", observed=3, detail="PostgreSQL has 3 rows, MySQL 153",
    )  # fmt: skip
    assert describe(base) == "PostgreSQL has 3 rows, MySQL 153"
    passed = CheckResult(
        "t", "row_count_parity", "row_count_parity", "warn", "passed", "X", observed=3
    )
    assert describe(passed) == "observed 3"


def test_fail_ratio_and_retention_come_from_the_expectations_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "defaults:\n  thresholds: {row_count_fail_ratio: 0.5}\n  data_docs: {keep_runs: 5}\n"
    )
    (tmp_path / "b.yaml").write_text("defaults:\n  data_docs: {keep_days: 2}\n")
    config = load_quality_config(tmp_path)
    assert config.thresholds.row_count_fail_ratio == 0.5
    assert config.data_docs == Retention(keep_runs=5, keep_days=2)
    assert Thresholds().row_count_fail_ratio == 0.1
    assert Retention() == Retention(keep_runs=30, keep_days=14)
    (tmp_path / "c.yaml").write_text("defaults:\n  data_docs: {keep_runs: 7}\n")
    with pytest.raises(ExpectationsFileError, match=r"data_docs\.keep_runs is also set in"):
        load_quality_config(tmp_path)


def test_expired_runs_are_beyond_the_newest_n_or_too_old() -> None:
    day = 86400.0
    now = 100 * day
    times = [now - 20 * day, now - 3 * day, now - 2 * day, now - 1 * day, now]
    assert expired_runs(times, Retention(keep_runs=30, keep_days=14), now) == {now - 20 * day}
    assert expired_runs(times, Retention(keep_runs=2, keep_days=14), now) == {
        now - 20 * day, now - 3 * day, now - 2 * day,
    }  # fmt: skip


def _ge_file(root: Path, suite: str, stamp: str, suffix: str) -> Path:
    path = root / "validations" / suite / "__none__" / stamp / f"mps_target-batch{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")
    return path


def test_prune_runs_deletes_pages_and_results_of_expired_runs(tmp_path: Path) -> None:
    store, docs = tmp_path / "gx", tmp_path / "data_docs"
    stamps = ["20261101T000000.000000Z", "20261126T010000.000000Z", "20261127T010000.000000Z"]
    files = {
        s: [_ge_file(store, "mps_0000_public/orders", s, ".json"),
            _ge_file(docs, "mps_0000_public/orders", s, ".html"),
            _ge_file(docs, "mps_0001_public/orders_state", s, ".html")]
        for s in stamps
    }  # fmt: skip
    (docs / "index.html").write_text("index")
    now = datetime(2026, 11, 27, 2, tzinfo=UTC).timestamp()
    removed = prune_runs(
        [store / "validations", docs / "validations"], Retention(keep_runs=1, keep_days=14), now
    )
    assert removed == 6
    assert all(p.exists() for p in files[stamps[2]])
    assert not any(p.exists() for s in stamps[:2] for p in files[s])
    assert not (
        docs / "validations" / "mps_0000_public" / "orders" / "__none__" / stamps[0]
    ).exists()
    assert (docs / "index.html").exists()  # rebuilt by GE from the pages that remain


def test_ge_loggers_are_at_warning_only_during_the_run() -> None:
    child = logging.getLogger("great_expectations.datasource.fluent.config_str")
    child.setLevel(logging.INFO)
    parent = logging.getLogger("great_expectations")
    before = parent.level
    try:
        with quiet_gx_logs():
            assert not child.isEnabledFor(logging.INFO)
            assert not logging.getLogger("great_expectations.batch_filter").isEnabledFor(
                logging.INFO
            )
            assert child.isEnabledFor(logging.WARNING)
        assert child.level == logging.INFO
        assert parent.level == before
    finally:
        child.setLevel(logging.NOTSET)


def _mapping() -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.group",
            "target": "public.group",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "name", "column_type": "varchar(20)"},
            ],
        }
    )


def _failed(check: str, expectation: str, sample: list, column: str | None = "name"):
    return CheckResult(
        "legacy.group", f"{check}:x", check, "warn", "failed", expectation, column=column,
        unexpected_count=len(sample), sample=sample,
    )  # fmt: skip


def test_value_determined_failures_get_keys_others_do_not() -> None:
    m = _mapping()
    assert wants_keys(_failed("custom", "ExpectColumnValuesToMatchRegex", ["Editors"]), m)
    assert wants_keys(_failed("enum_values", "ExpectColumnValuesToBeInSet", ["x"]), m)
    # a condition on other rows or an aggregate: the sample's rows cannot be found by value
    assert not wants_keys(_failed("custom", "ExpectColumnValuesToBeIncreasing", [3]), m)
    assert not wants_keys(_failed("custom", "ExpectColumnMeanToBeBetween", [], None), m)
    assert not wants_keys(_failed("custom", "ExpectColumnValuesToMatchRegex", [None]), m)
    conditional = CheckSpec(
        "legacy.group", "custom", "warn", "ExpectColumnValuesToMatchRegex",
        kwargs={"column": "name", "regex": "^a", "row_condition": 'id>3'}, column="name",
    )  # fmt: skip
    failed = _failed("custom", "ExpectColumnValuesToMatchRegex", ["Editors"])
    assert not wants_keys(failed, m, conditional)
    assert value_keys_query(m, "name") == (
        'SELECT "id" FROM "public"."group" WHERE "name"::text = ANY(%s) ORDER BY "id" LIMIT 5'
    )
