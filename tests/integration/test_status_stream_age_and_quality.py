"""A batch of dropped echoes does not move "applied" nor the lag; `status --json` names the
data-quality report and the checks that broke."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.cdc.apply import BatchResult
from mysql_pg_sync.cdc.metrics import record_batch
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.quality.persist import save_run
from mysql_pg_sync.quality.results import CheckResult, QualityRun
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.status.read import SECTION_QUERIES

pytestmark = pytest.mark.integration
TABLE = "legacy.products"


def _batch(side: str, applied: int, echoes: int) -> BatchResult:
    result = BatchResult()
    n = result.counts(TABLE, side)  # type: ignore[arg-type]
    n.events, n.applied, n.echoes = applied, applied, echoes
    return result


def _metrics(conn) -> dict[str, tuple]:
    rows = conn.execute(
        "SELECT incoming_side, last_lag_ms, last_applied_at, echoes, applied"
        " FROM mps_sync.stream_metrics"
    ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_echo_only_batches_leave_the_lag_and_its_age(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        record_batch(conn, _batch("mysql", applied=5, echoes=0), {(TABLE, "mysql"): 16_100}, 1.0)
        conn.execute(
            "UPDATE mps_sync.stream_metrics SET last_applied_at = now() - interval '37 minutes'"
        )
        (before,) = conn.execute("SELECT last_applied_at FROM mps_sync.stream_metrics").fetchone()
        # the same direction, then the other one's first batch: only our own writes coming back
        record_batch(conn, _batch("mysql", applied=0, echoes=18), {}, 1.0)
        record_batch(conn, _batch("postgres", applied=0, echoes=18), {}, 1.0)
        metrics = _metrics(conn)
        assert metrics["mysql"] == (16_100, before, 18, 5)
        assert metrics["postgres"] == (None, None, 18, 0)
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM ({SECTION_QUERIES['stream']}) s")
            names = [d.name for d in cur.description]
            stream = dict(zip(names, cur.fetchone(), strict=True))
        assert float(stream["lag_seconds"]) == 16.1
        assert 37 * 60 - 60 < stream["age_seconds"] < 37 * 60 + 60
        # an applied batch moves both
        record_batch(conn, _batch("postgres", applied=2, echoes=0), {(TABLE, "postgres"): 300}, 1)
        assert _metrics(conn)["postgres"][0] == 300
        assert _metrics(conn)["postgres"][1] is not None


def test_status_json_names_the_dq_report_and_the_failed_checks(
    pg_db: DatabaseEndpoint, tmp_path: Path, monkeypatch, capsys
) -> None:
    mapping = {
        "source": TABLE,
        "target": "public.products",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
    }
    (tmp_path / "products.yaml").write_text(yaml.safe_dump(mapping))
    report = str(tmp_path / "quality" / "runs" / "manual__1" / "report.html")
    now = datetime.now(UTC)

    def result(check_id: str, outcome: str, severity: str) -> CheckResult:
        return CheckResult(TABLE, check_id, check_id.split(":")[0], severity, outcome, "X")  # type: ignore[arg-type]

    run = QualityRun(
        "manual__1", now, now,
        (result("key_unique", "passed", "fail"), result("row_count_parity", "failed", "fail"),
         result("custom:name_lower", "failed", "warn")),
        report_path=report,
    )  # fmt: skip
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        save_run(conn, run)
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    assert main(["status", "--json", "--mappings", str(tmp_path)]) == 3
    (row,) = json.loads(capsys.readouterr().out)["tables"]
    assert row["quality"] == "failed"
    assert row["quality_report"] == report
    assert row["quality_breaches"] == ["row_count_parity", "custom:name_lower"]
    assert row["links"] == [{"label": "DQ report", "href": f"{report}#{TABLE}"}]
    # (other reasons may come first: no connector captures this test's table)
    assert (
        f"data quality failed: row_count_parity, custom:name_lower (details in {report}#{TABLE})"
        in row["reason"]
    )
    assert main(["status", "--mappings", str(tmp_path)]) == 3
    out = capsys.readouterr().out
    assert "data quality failed: row_count_parity, custom:name_lower" in out
    assert f"{report}#{TABLE}" in out
