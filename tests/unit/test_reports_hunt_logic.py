"""Words and numbers of the backfill and reconcile reports that must be the truth (pure
formatting of run dicts shaped as the library stores them)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mysql_pg_sync.airflow.reconcile_summary import summarize
from mysql_pg_sync.backfill.report import build_summary, outcome, render_html
from mysql_pg_sync.reconcile.report import advice, finalize, to_html

pytestmark = pytest.mark.unit

FINISHED = datetime(2026, 3, 4, 2, 5, tzinfo=UTC)


def _run(params: dict[str, Any], *tables: dict[str, Any]) -> dict[str, Any]:
    loaded = {
        "run_id": 9,
        "status": "running",
        "params": params,
        "started_at": "2026-03-04T02:00:00+00:00",
        "finished_at": None,
        "tables": list(tables),
    }
    return finalize(loaded, FINISHED)


def _table(name: str, status: str, repairs: dict[str, int], drift: int) -> dict[str, Any]:
    return {
        "table": name,
        "target": f"public.{name}",
        "status": status,
        "rows_mysql": 50,
        "rows_postgres": 50,
        "drift": {"missing": 0, "extra": 0, "different": drift},
        "repairs": repairs,
    }


def _asked(lines: list[str]) -> set[int]:
    return {int(n.replace(",", "")) for n in re.findall(r"at least (\d[\d,]*)", " ".join(lines))}


def test_a_dry_run_whose_limit_refused_a_table_asks_for_room_for_every_repair() -> None:
    """3 planned (dry run) + 4 refused under max_repairs 5: the next run needs 7; the refused
    banner said 4, which refuses the same table again."""
    run = _run(
        {"repair": True, "dry_run": True, "max_repairs": 5},
        _table("a", "drift", {"dry_run": 3}, 3),
        _table("b", "repair_refused", {"refused": 4}, 4),
    )
    assert _asked(advice(run)) == {7}


def test_a_repair_run_asks_again_for_what_it_did_not_write() -> None:
    """2 applied, 1 failed (its key still differs), 4 refused: the next run repairs 5."""
    run = _run(
        {"repair": True, "dry_run": False, "max_repairs": 3},
        _table("a", "drift", {"applied": 2, "failed": 1}, 3),
        _table("b", "repair_refused", {"refused": 4}, 4),
    )
    lines = advice(run)
    assert _asked(lines) == {5}
    assert "(2 of the 7 were applied by this run)" in " ".join(lines)


def test_the_task_summary_counts_repaired_tables_as_the_page_does() -> None:
    run = _run(
        {"repair": True, "dry_run": False},
        _table("a", "repaired", {"applied": 2}, 2),
        _table("b", "in_sync", {}, 0),
    )
    first = summarize(run).splitlines()[0]
    assert "(2 table(s), 1 in sync, 1 repaired)" in first
    page = html.unescape(to_html(run))
    assert "in sync: all 2 table(s), 1 after repairs" in page


DONE = {
    "chunks": 1,
    "chunks_done": 1,
    "rows": 10,
    "bytes": 100,
    "chunk_seconds": 1.0,
    "finalized": True,
    "state": "streaming",
}
NOT_COMPARED = {
    "table": "db.b",
    "status": "error",
    "error": "postgres table public.b has no column(s) v",
    "rows_compared": 0,
    "segments": 0,
    "drift": {"missing": 0, "extra": 0, "different": 0},
    "examples": {},
}
DRIFTED = {
    "table": "db.a",
    "status": "drift",
    "error": None,
    "rows_compared": 10,
    "segments": 1,
    "drift": {"missing": 1, "extra": 0, "different": 0},
    "examples": {"missing": [["3"]]},
}


def _verified(*tables: dict[str, Any]) -> dict[str, Any]:
    summary = build_summary("r", {"db.a": DONE, "db.b": DONE}, 1.0)
    summary["verify"] = {"mode": "checksums", "reconcile_run": 3, "tables": list(tables)}
    return summary


def test_a_table_verify_could_not_compare_is_not_said_to_differ() -> None:
    css, said = outcome(_verified({**DRIFTED, "status": "in_sync"}, NOT_COMPARED))
    assert css == "failed"
    assert said == (
        "FAILED verification: 1 of 2 table(s) could not be compared (see Verification below)"
    )
    both = outcome(_verified(DRIFTED, NOT_COMPARED))[1]
    assert both == (
        "FAILED verification: 1 of 2 table(s) differ from MySQL after the stream caught up; "
        "1 of 2 table(s) could not be compared (see Verification below)"
    )


def test_a_table_verify_could_not_compare_shows_dashes_not_zeros() -> None:
    page = render_html(_verified(DRIFTED, NOT_COMPARED))
    rows = page[page.index("<h2>Verification") :].split("<tr>")
    broken = re.findall(r"<td>(.*?)</td>", next(r for r in rows if "db.b" in r))
    assert broken[2:7] == ["–"] * 5
    drifted = re.findall(r"<td>(.*?)</td>", next(r for r in rows if "db.a" in r))
    assert drifted[2:7] == ["10", "1", "1", "0", "0"]


def test_a_failed_run_whose_tables_all_stored_a_result_does_not_say_0_failed() -> None:
    run = _run({}, _table("a", "in_sync", {}, 0))
    run["status"] = "failed"  # closed as abandoned by a later run (service.close_abandoned_runs)
    title = html.unescape(to_html(run).split("<title>")[1].split("</title>")[0])
    assert title == (
        "Reconcile run 9: failed: the run stopped before it finished, after each of its 1 "
        "table(s) had stored a result (below)"
    )
