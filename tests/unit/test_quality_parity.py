"""Repair advice after a capture gap names the side whose changes were lost (pure)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.quality.parity import parity_detail
from mysql_pg_sync.quality.plan import ReconcileFacts, reconcile_drift_hint

pytestmark = pytest.mark.unit

GAP = (
    "lost 12 change(s) Kafka deleted before the stream applied them (since 2026-11-27 02:00): "
    "run the reconcile DAG on this table with repair, dry_run off and authoritative postgres"
)


def test_the_drift_hint_gives_the_gaps_repair_instead_of_the_mappings() -> None:
    rec = ReconcileFacts(run_id=7, status="drift", unrepaired=3, report_html="/r/7.html")
    plain = reconcile_drift_hint("db.t", rec)
    assert "to repair it trigger the reconcile DAG" in plain
    with_gap = reconcile_drift_hint("db.t", rec, GAP)
    assert with_gap == f"drift left by reconcile run 7; its report: /r/7.html; the table {GAP}"


def test_a_parity_breach_after_a_gap_names_the_side_to_repair_from() -> None:
    plain = parity_detail("db.t", 90, 100, 95, 105, None)
    assert "the rows are in flight; otherwise, to repair it" in plain
    with_gap = parity_detail("db.t", 90, 100, 95, 105, None, GAP)
    assert with_gap.endswith(f"the table {GAP}")
    assert "in flight" not in with_gap
