"""Where a backfill run's report files go."""

from __future__ import annotations

import json
from pathlib import Path

from mysql_pg_sync.backfill.report import build_summary, write_report


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
