"""The DAGs' helpers in mysql_pg_sync.airflow: the reconcile summary and verdict, and what
data_quality reads from the Asset events that triggered it (no services, no DAG run)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mysql_pg_sync.airflow.asset_events import reconcile_trigger
from mysql_pg_sync.airflow.reconcile_summary import summarize, verdict
from mysql_pg_sync.quality.results import ReconcileTrigger

RECONCILE_URI = "mysql_pg_sync://reconcile"


def _run(status: str, params: dict[str, Any], *tables: dict[str, Any]) -> dict[str, Any]:
    return {"run_id": 9, "status": status, "params": params, "tables": list(tables)}


DRIFTED = {
    "table": "legacy.b",
    "status": "drift",
    "drift": {"missing": 0, "extra": 1, "different": 2},
    "repairs": {"dry_run": 3},
}
IN_SYNC = {"table": "legacy.a", "status": "in_sync", "drift": {}, "repairs": {}}


def test_a_dry_run_says_repairs_were_only_planned_and_nothing_written() -> None:
    text = summarize(_run("drift", {"repair": True, "dry_run": True}, IN_SYNC, DRIFTED), "/r.html")
    assert "reconcile run 9: drift (2 table(s), 1 in sync)" in text
    assert "DRY RUN: repairs were only planned and recorded, nothing was written" in text
    assert "repair on and dry_run off" in text
    assert (
        "legacy.b: drift; 3 drift row(s) (extra 1, different 2); "
        "3 repair(s) planned only (dry run), nothing written"
    ) in text
    assert "legacy.a" not in text  # tables in sync are counted, not listed
    assert text.endswith("report: /r.html")


def test_repair_off_and_written_repairs_are_told_apart() -> None:
    off = summarize(_run("drift", {"repair": False, "dry_run": True}, DRIFTED))
    assert "report only (repair off)" in off
    repaired = {**DRIFTED, "status": "repaired", "repairs": {"applied": 3}}
    written = summarize(_run("succeeded", {"repair": True, "dry_run": False}, repaired))
    assert "repairs written through the stream applier" in written
    assert "3 repaired" in written
    assert "DRY RUN" not in written


def test_drift_and_failed_runs_fail_the_verdict_and_good_runs_pass() -> None:
    drift = verdict("drift", "summary")
    assert drift is not None
    assert drift.startswith("confirmed drift is left unrepaired")
    failed = verdict("failed", "summary")
    assert failed is not None
    assert "could not be compared" in failed
    assert verdict("succeeded", "summary") is None


class _Event:
    """What the task context holds per event (AssetEventDagRunReferenceResult)."""

    def __init__(self, uri: str, extra: dict[str, Any]) -> None:
        from airflow.sdk.execution_time.comms import AssetEventDagRunReferenceResult

        self.ref = AssetEventDagRunReferenceResult(
            asset={"name": uri, "uri": uri, "extra": {}},
            extra=extra,
            source_task_id="report",
            source_dag_id="reconcile",
            source_run_id="scheduled__x",
            source_map_index=-1,
            source_aliases=[],
            timestamp=datetime.now(UTC),
        )


def test_data_quality_reads_the_newest_reconcile_run_from_its_trigger_events() -> None:
    from airflow.sdk import Asset
    from airflow.sdk.execution_time.context import TriggeringAssetEventsAccessor

    asset = Asset(RECONCILE_URI)
    events = TriggeringAssetEventsAccessor.build(
        [
            _Event(RECONCILE_URI, {"run_id": 11, "status": "failed"}).ref,
            _Event(RECONCILE_URI, {"run_id": 12, "status": "drift"}).ref,
            _Event("mysql_pg_sync://other", {"run_id": 99, "status": "succeeded"}).ref,
        ]
    )
    trigger = reconcile_trigger({"triggering_asset_events": events}, asset)
    assert trigger == ReconcileTrigger(12, "drift")
    # a run from the UI: no events at all, or none of this asset
    assert reconcile_trigger({}, asset) is None
    assert (
        reconcile_trigger(
            {"triggering_asset_events": TriggeringAssetEventsAccessor.build([])}, asset
        )
        is None
    )
