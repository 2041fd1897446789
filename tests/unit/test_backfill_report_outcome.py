"""The backfill report says the run's outcome first, lists the tables it passed over, and shows
the verification it ran (pure: summaries built by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync.backfill.report import build_summary, outcome, render_html, verify_unsettled
from mysql_pg_sync.backfill.runner import BackfillError, raise_if_unfinished

pytestmark = pytest.mark.unit

DONE = {
    "chunks": 2,
    "chunks_done": 2,
    "rows": 2_000,
    "bytes": 120_000,
    "chunk_seconds": 1.0,
    "finalized": True,
    "state": "streaming",
    "source_rows": 2_003,
    "target_rows": 2_000,
}


def _summary(**tables: dict[str, Any]) -> dict[str, Any]:
    return build_summary("manual__1", dict(tables), 2.0)


def test_a_clean_run_verified_by_checksums_says_so_at_the_top() -> None:
    summary = _summary(**{"db.a": DONE})
    summary["verify"] = {"mode": "checksums", "tables": [{"table": "db.a", "status": "in_sync"}]}
    assert outcome(summary) == (
        "ok",
        "Succeeded: 1 table(s) copied and finalized, verified by checksums: in sync with MySQL",
    )
    page = render_html(summary)
    assert page.index("Succeeded: 1 table(s)") < page.index("<table>")
    assert "<td>2,003</td><td>2,000</td>" in page  # MySQL and PostgreSQL rows at finalize


def test_drift_found_by_verify_is_the_outcome_with_its_table_and_keys() -> None:
    summary = _summary(**{"db.a": DONE})
    summary["verify"] = {
        "mode": "checksums",
        "reconcile_run": 7,
        "report": "/r/reconcile-7.json",
        "tables": [
            {
                "table": "db.a",
                "status": "drift",
                "error": None,
                "rows_compared": 2_003,
                "segments": 4,
                "drift": {"missing": 3, "extra": 0, "different": 0},
                "examples": {"missing": [["11"], ["12"]]},
            }
        ],
    }
    css, said = outcome(summary)
    assert css == "failed"
    assert said.startswith("FAILED verification: 1 of 1 table(s) differ from MySQL")
    page = render_html(summary)
    assert "missing: 11, 12" in page
    assert "Reconcile run 7" in page
    assert "/r/reconcile-7.json" in page


def test_counts_mode_explains_itself_instead_of_an_empty_table() -> None:
    summary = _summary(**{"db.a": DONE})
    summary["verify"] = {"mode": "counts", "tables": []}
    assert "checked by row counts only" in outcome(summary)[1]
    page = render_html(summary)
    assert "no checksums were compared" in page
    assert "<th>rows compared</th>" not in page


def test_a_run_with_nothing_to_copy_names_the_tables_it_skipped_and_refused() -> None:
    summary = _summary()
    summary["finished"] = ["db.a", "db.b"]
    summary["refused"] = [{"table": "db.log", "reason": "no usable key"}]
    summary["verify"] = {"mode": "checksums", "tables": []}
    css, said = outcome(summary)
    assert css == "idle"
    assert said == (
        "Nothing to copy: 2 table(s) already backfilled and streaming were skipped "
        "(mode=reload copies a table again); 1 table(s) refused"
    )
    page = render_html(summary)
    assert "<li>db.a</li><li>db.b</li>" in page
    assert "<li>db.log: no usable key</li>" in page


def test_an_unfinished_table_or_a_verify_that_did_not_run_is_a_failure() -> None:
    failed = {**DONE, "finalized": False, "state": "backfilling", "finalize_error": "chunk 2"}
    assert outcome(_summary(**{"db.a": failed}))[1].startswith("FAILED: 1 of 1 table(s) not")
    summary = _summary(**{"db.a": DONE})
    summary["verify"] = {"mode": "not run", "tables": []}
    assert outcome(summary)[0] == "failed"


def test_drift_the_stream_had_not_caught_up_on_neither_passes_nor_fails() -> None:
    """Verify re-checks differences once the stream has applied the table's changes; when it
    waited in vain (a paused stream DAG), they may be in flight: a warning, not a failure."""
    summary = _summary(**{"db.a": DONE})
    summary["verify"] = {
        "mode": "checksums",
        "tables": [
            {
                "table": "db.a",
                "status": "drift",
                "error": None,
                "drift": {"missing": 0, "extra": 0, "different": 4},
                "examples": {"different": [["7"]]},
                "recheck": "timed_out",
                "recheck_wait_s": 30.0,
            }
        ],
    }
    css, said = outcome(summary)
    assert css == "warn"
    assert "not conclusive: the stream had not caught up" in said
    assert "not confirmed: the stream had not caught up" in render_html(summary)
    raise_if_unfinished(summary, summary["verify"])  # no failure
    assert verify_unsettled(summary["verify"]) == [
        "db.a: 4 difference(s) not confirmed: the stream had not applied the table's changes "
        "after 30 s (is the stream DAG unpaused and caught up? `make cli ARGS=status` shows its "
        "lag); run reconcile on it (dry run) once it has"
    ]
    confirmed = {**summary["verify"]["tables"][0], "recheck": "caught_up"}
    summary["verify"] = {"mode": "checksums", "tables": [confirmed]}
    assert outcome(summary)[0] == "failed"
    with pytest.raises(BackfillError, match=r"db\.a: drift: 4 different"):
        raise_if_unfinished(summary, summary["verify"])


def test_counts_that_differed_at_finalize_are_said_in_the_outcome() -> None:
    summary = _summary(**{"db.a": DONE})  # MySQL 2,003 rows at finalize, PostgreSQL 2,000
    summary["verify"] = {"mode": "counts", "tables": []}
    css, said = outcome(summary)
    assert css == "ok"
    assert "1 table(s) had other counts at finalize (db.a)" in said
