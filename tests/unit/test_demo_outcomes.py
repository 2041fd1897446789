"""The demo summary's per-step figures, built from the state rows a DAG run stored."""

from __future__ import annotations

from mysql_pg_sync.demo.outcomes import backfill_text, quality_text, reconcile_text, stream_text


def test_backfill_names_rows_chunks_rate_and_report() -> None:
    summary = {
        "total": {"tables": 5, "rows": 20474, "chunks": 7, "chunks_done": 7, "rows_per_s": 8123.4},
        "report": {"html": "/r/backfill_x.html", "json": "/r/backfill_x.json"},
    }
    assert backfill_text(summary) == (
        "5 table(s), 20,474 rows copied, 7/7 chunk(s) done, 8,123 rows/s; report /r/backfill_x.html"
    )


def test_backfill_that_copied_nothing_says_why() -> None:
    text = backfill_text({"total": {"tables": 0, "rows": 0, "chunks": 0}})
    assert text.startswith("0 table(s), 0 rows copied")
    assert "already copied" in text


def test_backfill_with_rejects_and_unfinished_tables_says_so() -> None:
    summary = {
        "total": {"tables": 2, "rows": 10, "chunks": 2, "chunks_done": 1, "rejected": 3},
        "unfinished": {"legacy.b": "chunk 2 failed", "legacy.a": "x"},
    }
    text = backfill_text(summary)
    assert "1/2 chunk(s) done" in text
    assert "3 rejected (see the report)" in text
    assert "not finalized: legacy.a, legacy.b" in text


def test_stream_sums_the_bounded_runs_and_points_at_dead_letters() -> None:
    runs = [
        {"events": 3, "applied": 2, "conflicts": 1, "echoes_dropped": 4, "lag_p99_ms": 310},
        {"events": 1, "applied": 1, "dead_letters": 1, "lag_p99_ms": 1200},
    ]
    assert stream_text(runs) == (
        "4 events, 3 applied, 1 conflict(s) decided, 4 echo(es) dropped, 1 dead letter(s), "
        "lag p99 1,200 ms (changes made before the stream started) "
        '(make cli ARGS="dead-letters list")'
    )
    assert stream_text([{"events": 0}]) == (
        "0 events, 0 applied, 0 conflict(s) decided, 0 echo(es) dropped, 0 dead letter(s)"
    )


def test_reconcile_names_the_run_drift_repairs_errors_and_report() -> None:
    run = {"run_id": 7, "status": "failed", "report_html": "/r/reconcile-7.html"}
    tables = {"tables": 5, "rows": 20475, "found": 3, "repaired": 2, "errors": 1}
    assert reconcile_text(run, tables) == (
        "run 7 failed: 5 table(s), 20,475 rows compared, drift 3, repaired 2, "
        "1 table(s) in error; report /r/reconcile-7.html"
    )


def test_quality_counts_each_outcome() -> None:
    run = {"checks": 62, "failed_fail": 1, "failed_warn": 2, "skipped": 3, "report_path": "/q.html"}
    assert quality_text(run) == (
        "62 check(s): 56 passed, 1 failed, 2 warned, 3 skipped; report /q.html"
    )
