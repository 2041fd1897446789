"""Each benchmark runs end to end at a tiny size, as `make bench-*` runs it (the same CLI, the
real servers, the competitor beside ours where it needs no extra install). They are run by hand
otherwise, and `make bench-backfill` was broken for most of a day before anyone ran it: its
parser choked on a line our CLI had started to print. Timings here mean nothing; the reports'
shape and exactness do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import endpoints_from_env

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _bench(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _last_json(stdout: str) -> dict[str, Any]:
    """The report: the last pretty-printed JSON object of the output."""
    start = stdout.rindex("\n{\n") + 1 if not stdout.startswith("{\n") else 0
    report, _ = json.JSONDecoder().raw_decode(stdout[start:])
    assert isinstance(report, dict)
    return report


def test_the_backfill_bench_copies_every_row_and_reports_the_floor() -> None:
    # pgloader is left out: `make bench-backfill` installs it (a Debian package), tests do not
    report = _last_json(
        _bench("bench.backfill", "--rows", "3000", "--repeats", "1", "--skip-pgloader")
    )
    assert report["rows"] == 3000
    assert sum(report["tables"].values()) == 3000
    for method in ("floor", "ours"):
        assert len(report[method]["runs_s"]) == 1
        assert report[method]["rows_per_s"] > 0
    assert report["ratio_vs_floor"] > 0
    assert report["ours"]["peak_rss_mb"] > 0
    assert json.loads((REPO / ".stack/reports/bench_backfill_3000.json").read_text()) == report
    # ours ran as the admin: the sync user can still read the state schema (made by the admin
    # first, it could not, and the scheduler's runs failed with permission denied)
    with pg_connect(endpoints_from_env().postgres) as conn:
        for table in ("schema_files", "backfill_tables", "table_state"):
            assert conn.execute(f"SELECT count(*) FROM mps_sync.{table}").fetchone() is not None


def test_the_reconcile_bench_finds_exactly_the_injected_differences_with_both_tools() -> None:
    report = _last_json(_bench("bench.reconcile", "--rows", "5000", "--repeat", "1"))
    assert report["ours_no_changes_found"] == 0
    for tool in ("ours", "reladiff"):
        result = report[tool]
        assert (result["found"], result["correct"]) == (report["injected"], report["injected"])
        assert (result["false_positives"], result["false_negatives"]) == (0, 0)
    assert report["speedup_median"] > 0


def test_the_stream_bench_applies_every_event_beside_the_jdbc_sink_and_measures_lag() -> None:
    report = _last_json(
        _bench(
            "bench.stream",
            "--events",
            "2000",
            "--runs",
            "1",
            "--jdbc-runs",
            "1",
            "--lag-seconds",
            "3",
        )
    )
    (ours,) = report["ours_runs"]
    assert ours["dead_letters"] == 0
    assert ours["events_per_s"] > 0
    (jdbc,) = report["jdbc_runs"]
    assert jdbc["events_per_s_wall"] > 0
    assert report["ratio_wall"] > 0
    assert report["lag"]["row_versions_measured"] > 0
    assert report["lag"]["lag_p99_ms"] > 0
