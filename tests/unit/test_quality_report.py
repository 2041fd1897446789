"""The run summary, the breach gate and the self-contained HTML report (pure)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mysql_pg_sync.quality.report_html import render_report, write_report
from mysql_pg_sync.quality.results import CheckResult, QualityRun
from mysql_pg_sync.quality.run import DataQualityBreach, raise_on_breach, run_folder_name

T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _r(table: str, check_id: str, outcome: str, severity: str, **kw: object) -> CheckResult:
    return CheckResult(table, check_id, check_id.split(":")[0], severity, outcome, "E", **kw)  # type: ignore[arg-type]


def _run(*results: CheckResult) -> QualityRun:
    return QualityRun("manual__2026-11-25T03:00:00+00:00", T0, T0, results, "/x/docs/index.html")


def test_warnings_do_not_fail_a_run_but_fail_breaches_and_errors_do() -> None:
    warn = _run(
        _r("a.t", "freshness:ts", "failed", "warn"), _r("a.t", "key_unique", "passed", "fail")
    )
    assert warn.success
    raise_on_breach(warn)
    assert warn.table_outcome("a.t") == "warn"

    error = _run(_r("a.t", "custom:x", "error", "fail", detail="no column 'x'"))
    assert not error.success
    with pytest.raises(DataQualityBreach, match=r"\[fail\] a.t custom:x: could not be evaluated"):
        raise_on_breach(error)


def test_summary_names_table_check_and_sample() -> None:
    run = _run(_r("a.t", "enum_values:s", "failed", "fail", unexpected_count=2, sample=["z", "q"]))
    assert "[fail] a.t enum_values:s: 2 unexpected value(s); e.g. 'z', 'q'" in run.summary()


def test_report_is_self_contained_escaped_and_links_data_docs_relatively(tmp_path: Path) -> None:
    run = _run(
        _r("a.<t>", "not_null:c", "failed", "fail", unexpected_count=1, sample=["<script>"]),
        _r("b.u", "dead_letters", "skipped", "fail", detail="no data: mps_sync.dead_letters"),
    )
    html = render_report(run, "../docs/index.html")
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert html.count('<section class="table"') == 2
    assert 'href="../docs/index.html"' in html
    path = write_report(run, tmp_path / "runs" / "r" / "report.html")
    assert path.read_text().startswith("<!DOCTYPE html>")


def test_run_folder_names_are_safe() -> None:
    assert (
        run_folder_name("manual__2026-11-25T03:00:00+00:00") == "manual__2026-11-25T03_00_00_00_00"
    )
    assert run_folder_name("../../etc") == "etc"
    assert run_folder_name("..") == "run"


def test_old_ge_results_are_pruned(tmp_path: Path) -> None:
    import os
    import time

    from mysql_pg_sync.quality.gx_runner import prune_results

    old = tmp_path / "suite" / "run1" / "old.json"
    new = tmp_path / "suite" / "run2" / "new.json"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    assert prune_results(tmp_path, keep_days=30) == 1
    assert not old.exists()
    assert new.exists()
    assert prune_results(tmp_path / "nothing") == 0


def _hrefs(page: Path) -> list[str]:
    return re.findall(r'href="([^"]+)"', page.read_text())


def test_both_reports_link_data_docs_that_exist(tmp_path: Path) -> None:
    """``latest.html`` sits two folders above ``runs/<run>/report.html``: a copy of the run's
    page kept a link that pointed outside the reports folder."""
    from mysql_pg_sync.quality.run import write_run_files

    quality = tmp_path / "quality"
    index = quality / "data_docs" / "index.html"
    index.parent.mkdir(parents=True)
    index.write_text("<html></html>")
    report = quality / "runs" / run_folder_name("manual__1") / "report.html"
    run = QualityRun(
        "manual__1", T0, T0, (_r("a.t", "key_unique", "passed", "fail"),), str(index), str(report)
    )
    write_run_files(run, quality)
    for page in (report, quality / "latest.html"):
        (href,) = _hrefs(page)
        assert (page.parent / href).resolve() == index.resolve(), (page, href)
    assert (report.parent / "results.json").exists()


def test_a_failed_triggering_reconcile_heads_the_summary_report_and_json() -> None:
    from mysql_pg_sync.quality.results import ReconcileTrigger

    trigger = ReconcileTrigger.latest(
        [{"run_id": 11, "status": "succeeded"}, {"run_id": 12, "status": "failed"}]
    )
    assert trigger == ReconcileTrigger(12, "failed")
    assert ReconcileTrigger.latest([]) is None
    run = QualityRun("r", T0, T0, (_r("a.t", "key_unique", "passed", "fail"),), reconcile=trigger)
    summary = run.summary()
    assert "triggered by reconcile run 12 ended failed" in summary
    assert "that reconcile run failed" in summary
    assert "after reconcile run 12" in render_report(run)
    assert run.to_json()["reconcile"] == {"run_id": 12, "status": "failed"}


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"column": "n", "max_value": 0}, "expected at most 0"),
        ({"min_value": 0, "max_value": None}, "expected at least 0"),
        ({"min_value": 1, "max_value": 5}, "expected between 1 and 5"),
        ({"column": "c"}, ""),
    ],
)
def test_failed_bounds_say_what_was_expected(kwargs: dict, text: str) -> None:
    from mysql_pg_sync.quality.gx_runner import expected_bounds

    assert expected_bounds(kwargs) == text
