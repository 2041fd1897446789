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
