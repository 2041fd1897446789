"""A table reconcile skips while its backfill moves: neither a failure nor drift, shown as
skipped with its reason; a stalled backfill stays an error that says how to check before
resuming (pure: run status, headline, reports, the DAG's summary, the words)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

from mysql_pg_sync.airflow.reconcile_summary import failed_tables, summarize, verdict
from mysql_pg_sync.reconcile.backfilling import skipped_reason, stalled_reason
from mysql_pg_sync.reconcile.report import finalize, headline, run_status, to_html, to_json
from mysql_pg_sync.status.model import (
    BACKFILL_STALLED_S,
    backfill_progressing,
    backfill_stalled,
)

FINISHED = datetime(2026, 3, 4, 2, 14, 32, tzinfo=UTC)
REASON = skipped_reason({"chunks_done": 12, "chunks_total": 40})


def _table(name: str, status: str, **over: Any) -> dict[str, Any]:
    compared = {"rows_mysql": 10, "rows_postgres": 10} if status != "skipped" else {}
    return {
        "table": f"legacy.{name}",
        "target": f"public.{name}",
        "status": status,
        "error": REASON if status == "skipped" else None,
        "drift": {"missing": 0, "extra": 0, "different": 0},
        "repairs": {},
        **compared,
        **over,
    }


def _run(*tables: dict[str, Any]) -> dict[str, Any]:
    loaded = {
        "run_id": 7,
        "trigger": "scheduled",
        "status": "running",
        "params": {"repair": False},
        "started_at": "2026-03-04T02:00:00+00:00",
        "finished_at": None,
        "tables": list(tables),
    }
    return finalize(loaded, FINISHED)


def _text(page: str) -> str:
    body = re.sub(r"<[^>]+>", " ", page[page.index("<body>") :])
    return re.sub(r"\s+", " ", html.unescape(body)).strip()


def test_a_skipped_table_neither_fails_the_run_nor_counts_as_drift() -> None:
    assert run_status([_table("a", "in_sync"), _table("b", "skipped")]) == "succeeded"
    assert run_status([_table("a", "drift"), _table("b", "skipped")]) == "drift"
    assert run_status([_table("a", "error"), _table("b", "skipped")]) == "failed"
    assert run_status([_table("b", "skipped")]) == "succeeded"


def test_the_headline_and_summary_say_how_many_were_skipped() -> None:
    run = _run(*(_table(n, "in_sync") for n in ("a", "b", "c")), _table("d", "skipped"))
    assert headline(run) == "in sync: 3 of 4 table(s); 1 skipped while backfilling"
    s = run["summary"]
    assert (s["tables"], s["compared"], s["in_sync"], s["skipped"], s["failed"]) == (4, 3, 3, 1, 0)
    drift = _run(_table("a", "drift", drift={"missing": 1}), _table("d", "skipped"))
    assert headline(drift) == (
        "drift left unrepaired in 1 of 2 table(s); 1 skipped while backfilling"
    )
    assert headline(_run(_table("d", "skipped"))) == (
        "nothing compared: all 1 table(s) skipped while backfilling"
    )
    assert headline(_run(_table("a", "in_sync"))) == "in sync: all 1 table(s)"


def test_the_reports_show_the_table_as_skipped_with_its_reason_not_as_failed() -> None:
    run = _run(_table("a", "in_sync"), _table("d", "skipped"))
    text = _text(to_html(run))
    assert text.startswith("Reconcile run 7: in sync: 1 of 2 table(s); 1 skipped while backfilling")
    assert "2: 1 compared (1 in sync, 0 repaired, 0 with drift), 0 failed, 1 skipped" in text
    assert "Failed tables" not in text
    assert f"skipped (backfilling) {REASON}" in text
    assert "1 table(s) (legacy.d) were skipped: their backfill is still copying" in text
    (skipped,) = [t for t in json.loads(to_json(run))["tables"] if t["status"] == "skipped"]
    assert skipped["error"] == REASON


def test_the_dag_summary_names_it_and_does_not_alert() -> None:
    run = _run(_table("a", "in_sync"), _table("d", "skipped"))
    summary = summarize(run)
    assert summary.startswith(
        "reconcile run 7: succeeded (2 table(s), 1 in sync, 1 skipped while backfilling)"
    )
    assert f"legacy.d: skipped; {REASON}" in summary
    assert "trigger reconcile" not in summary  # no retry hint: nothing to fix
    assert failed_tables(run) == []
    assert verdict(run["status"], summary, failed_tables(run)) is None


def test_the_reasons_say_what_happens_next() -> None:
    assert REASON == (
        "backfilling (12/40 chunks done): not compared; it will be compared by the first "
        "reconcile after its backfill finishes"
    )
    stalled = stalled_reason(
        "legacy.d", {"chunks_done": 3, "chunks_total": 40, "idle_seconds": 7200.0}
    )
    assert "legacy.d is backfilling, so it was not compared" in stalled
    assert "no backfill progress for 2 h (3/40 chunks done)" in stalled
    assert "if no backfill run is active" in stalled
    assert "`make cli ARGS=status`" in stalled
    assert "`backfill run --mode resume --tables legacy.d`), then reconcile it" in stalled
    assert "no chunk of it is planned" in stalled_reason("legacy.d", None)


def test_progressing_and_stalled_share_the_status_pages_threshold() -> None:
    moving = {"chunks_total": 40, "chunks_done": 12, "idle_seconds": BACKFILL_STALLED_S - 1}
    still = {**moving, "idle_seconds": BACKFILL_STALLED_S}
    assert backfill_progressing(moving)
    assert not backfill_stalled(moving)
    assert not backfill_progressing(still)
    assert backfill_stalled(still)
    assert not backfill_progressing(None)
    assert not backfill_progressing({"chunks_total": 0, "idle_seconds": 1.0})
    # every chunk done but not finalized and idle: stuck before the handoff, not progressing
    assert not backfill_progressing({**still, "chunks_done": 40})
