"""Where a backfill run's report files go."""

from __future__ import annotations

import json
from pathlib import Path

from mysql_pg_sync.backfill.report import build_summary, render_html, write_report


def test_two_airflow_runs_in_the_same_second_keep_their_own_reports(tmp_path: Path) -> None:
    """An Airflow run id has a fraction of a second with a dot in it: it is part of the file
    name, not a suffix to replace (both runs wrote backfill_manual__2026-11-27T01_09_42.*)."""
    runs = ("manual__2026-11-27T01:09:42.861649+00:00", "manual__2026-11-27T01:09:42.990001+00:00")
    paths = [write_report(tmp_path, build_summary(run, {}, 1.0)) for run in runs]
    assert paths[0]["json"] != paths[1]["json"]
    assert paths[0]["json"].name == "backfill_manual__2026-11-27T01_09_42.861649_00_00.json"
    assert paths[0]["html"].name == "backfill_manual__2026-11-27T01_09_42.861649_00_00.html"
    assert [json.loads(p["json"].read_text())["run_id"] for p in paths] == list(runs)
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(
        p[k].name for p in paths for k in ("json", "html")
    )


def test_a_resumed_run_reports_what_it_copied_itself() -> None:
    """It counted the killed run's rows as its own: '400,499 rows ... 4,988 rows/s' for a run
    that copied 180,499 (and the per-table rate, over chunk time, disagreed without saying)."""
    per_table = {
        "legacy.big": {
            "chunks": 40,
            "chunks_done": 40,
            "rows": 400_000,
            "bytes": 32_000_000,
            "chunk_seconds": 21.6,
            "rejected": 0,
            "run_chunks": 18,
            "run_rows": 180_000,
            "run_bytes": 14_400_000,
        }
    }
    summary = build_summary("resume-1", per_table, 80.0)
    assert summary["total"]["run_rows"] == 180_000
    assert summary["total"]["rows_per_s"] == 2250.0  # this run's rows over its wall time
    page = render_html(summary)
    assert (
        "180,000 rows copied by this run (22 chunk(s), 220,000 rows, were done by earlier runs "
        "and skipped; 400,000 rows in all)" in page
    )
    assert "rows/s of chunk time" in page
    assert "MB/s of wall time" in page
