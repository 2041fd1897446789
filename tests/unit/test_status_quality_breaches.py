"""`status` names the data-quality checks that broke and the report, without a web page."""

from __future__ import annotations

from mysql_pg_sync.cli.status import local_path
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.status.model import StateSnapshot, build_status, quality_reason
from mysql_pg_sync.status.read import _quality, breached_checks


def _mapping() -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.group",
            "target": "public.group",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
    )


REPORT = "/srv/reports/quality/runs/manual__1/report.html"


def _rows() -> list[dict]:
    common = {"source_table": "legacy.group", "run_id": "manual__1", "report_path": REPORT,
              "data_docs_index": None, "finished_at": None}  # fmt: skip
    return [
        {**common, "check_id": "key_unique", "outcome": "passed", "severity": "fail"},
        {**common, "check_id": "custom:name_lower", "outcome": "failed", "severity": "warn"},
        {**common, "check_id": "row_count_parity", "outcome": "failed", "severity": "fail"},
        {**common, "check_id": "reconcile_drift", "outcome": "error", "severity": "fail"},
    ]


def test_breached_checks_fail_severity_first() -> None:
    assert breached_checks(_rows()) == ["reconcile_drift", "row_count_parity", "custom:name_lower"]


def test_the_reason_names_the_checks_and_the_report_and_the_cli_links_the_file() -> None:
    snapshot = StateSnapshot(quality=_quality(_rows()))
    (row,) = build_status([_mapping()], snapshot, local_path)
    assert row.quality == "failed"
    assert row.quality_report == REPORT
    assert row.quality_breaches == ("reconcile_drift", "row_count_parity", "custom:name_lower")
    assert row.reason == (
        "data quality failed: reconcile_drift, row_count_parity, custom:name_lower "
        f"(details in {REPORT}#legacy.group)"
    )
    assert [(link.label, link.href) for link in row.links] == [
        ("DQ report", f"{REPORT}#legacy.group")
    ]


def test_a_long_list_is_cut_and_a_missing_path_says_where_to_look() -> None:
    checks = [f"range:c{i}" for i in range(7)]
    assert quality_reason("t", "warn", checks, None) == (
        "data quality warn: range:c0, range:c1, range:c2, range:c3, range:c4 and 2 more "
        "(details in the latest data-quality report)"
    )
    assert local_path(None) is None
