"""The reconcile run report as the operator reads it: summary, finish time and duration,
repairs by outcome and side, failed tables with what to do (pure formatting, no servers)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from mysql_pg_sync.airflow.reconcile_summary import failed_tables, summarize, verdict
from mysql_pg_sync.reconcile.report import advice, duration_words, finalize, to_html, to_json

STARTED = "2026-03-04T02:00:00.250000+00:00"
FINISHED = datetime(2026, 3, 4, 2, 14, 32, 250000, tzinfo=UTC)


def _drifted(**over: Any) -> dict[str, Any]:
    table = {
        "table": "legacy.orders",
        "target": "public.orders",
        "status": "drift",
        "error": None,
        "rows_mysql": 1_204_331,
        "rows_postgres": 1_204_331,
        "segments_compared": 140,
        "segments_mismatched": 3,
        "in_flight": 2,
        "drift": {"missing": 1, "extra": 1, "different": 2},
        "examples": {"missing": [["17"]], "extra": [["5000"]], "different": [["500"], ["501"]]},
        "drift_examples": {
            "missing": [{"key": [17], "columns": []}],
            "extra": [{"key": [5000], "columns": []}],
            "different": [
                {"key": [500], "columns": ["amount"]},
                {"key": [501], "columns": ["amount", "updated_at"]},
            ],
        },
        "different_columns": {"amount": 2, "updated_at": 1},
        "repairs": {"dry_run": 4},
        "repair_details": [
            {
                "status": "dry_run",
                "write_to": "postgres",
                "action": "delete",
                "count": 1,
                "example_keys": [[5000]],
                "error": None,
            },
            {
                "status": "dry_run",
                "write_to": "postgres",
                "action": "upsert",
                "count": 3,
                "example_keys": [[17], [500], [501]],
                "error": None,
            },
        ],
        "repair_message": None,
        "duration_s": 842.5,
    }
    return {**table, **over}


IN_SYNC = {
    "table": "legacy.customers",
    "target": "public.customers",
    "status": "in_sync",
    "rows_mysql": 52_000,
    "rows_postgres": 52_000,
    "drift": {"missing": 0, "extra": 0, "different": 0},
    "repairs": {},
    "duration_s": 12.0,
}
BROKEN = {
    "table": "legacy.broken",
    "target": "public.broken",
    "status": "error",
    "error": "postgres table public.broken has no column(s) note",
    "repairs": {},
}
DRY_RUN = {"repair": True, "dry_run": True, "max_repairs": 1000, "tables": []}


def _run(params: dict[str, Any], *tables: dict[str, Any]) -> dict[str, Any]:
    loaded = {
        "run_id": 42,
        "trigger": "scheduled__2026-03-04T02:00:00+00:00",
        "status": "running",
        "params": params,
        "started_at": STARTED,
        "finished_at": None,  # as store.load_run reads it, before the run's row is finished
        "tables": list(tables),
    }
    return finalize(loaded, FINISHED)


def _text(page: str) -> str:
    """The page's body as a reader sees it: inline tags dropped, the others a space, entities
    decoded, spaces collapsed."""
    body = page[page.index("<body>") :]
    body = re.sub(r"</?(em|strong|code|small)>", "", body)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def test_a_finished_run_shows_its_finish_time_and_duration_in_json_and_html() -> None:
    run = _run(DRY_RUN, IN_SYNC)
    data = json.loads(to_json(run))
    assert data["finished_at"] == "2026-03-04T02:14:32.250000+00:00"
    assert data["duration_s"] == 872.0
    assert data["summary"]["duration_s"] == 872.0
    assert data["status"] == "succeeded"
    text = _text(to_html(run))
    assert "started 2026-03-04 02:00:00 UTC, finished 2026-03-04 02:14:32 UTC" in text
    assert "took 14 min 32 s" in text
    assert "not recorded" not in text


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(None, "–"), (4.25, "4.2 s"), (61, "1 min 01 s"), (3725, "1 h 02 min")],
)
def test_durations_read_as_words(seconds: float | None, words: str) -> None:
    assert duration_words(seconds) == words


def test_the_summary_counts_tables_rows_drift_and_repairs() -> None:
    run = _run(DRY_RUN, _drifted(), IN_SYNC, BROKEN)
    assert run["status"] == "failed"
    assert run["summary"] == {
        "mode": "dry_run",
        "tables": 3,
        "compared": 2,
        "in_sync": 1,
        "repaired": 0,
        "with_drift": 1,
        "failed": 1,
        "skipped": 0,
        "rows_mysql": 1_256_331,
        "rows_postgres": 1_256_331,
        "drift": {"missing": 1, "extra": 1, "different": 2},
        "repairs": {"dry_run": 4},
        "duration_s": 872.0,
    }
    text = _text(to_html(run))
    assert text.startswith("Reconcile run 42: failed: 1 of 3 table(s) could not be compared")
    assert "3: 2 compared (1 in sync, 0 repaired, 1 with drift), 1 failed" in text
    assert "1,256,331 in MySQL, 1,256,331 in PostgreSQL" in text
    assert "4 row(s): 1 missing in PostgreSQL, 1 extra in PostgreSQL, 2 different" in text
    # the summary comes before the per-table detail
    assert text.index("Summary") < text.index("Failed tables") < text.index("Tables table status")


def test_a_dry_run_says_so_at_the_top_and_what_to_trigger() -> None:
    run = _run(DRY_RUN, _drifted(), IN_SYNC)
    text = _text(to_html(run))
    top = text[: text.index("Summary")]
    assert "DRY RUN: nothing was written. 4 repair(s) were planned and recorded" in top
    assert "trigger reconcile with Params repair = on and dry_run = off" in top
    assert "(max_repairs at least 4; CLI: --repair --no-dry-run --max-repairs 4)" in top
    in_sync_only = _text(to_html(_run(DRY_RUN, IN_SYNC)))
    assert "DRY RUN: nothing was written, and no repair was needed." in in_sync_only
    report_only = advice(_run({"repair": False, "dry_run": True}, _drifted(repairs={})))
    assert report_only[0].startswith("Report only (repair off)")
    assert not advice(_run({"repair": True, "dry_run": False}, IN_SYNC))


def test_repairs_read_by_outcome_side_and_example_keys() -> None:
    text = _text(to_html(_run(DRY_RUN, _drifted())))
    assert (
        "4 planned only (dry run, nothing written) "
        "1 × delete from PostgreSQL: 5000 "
        "3 × copy MySQL's row to PostgreSQL: 17, 500, 501"
    ) in text
    applied = _drifted(
        status="drift",
        repairs={"applied": 2, "failed": 1, "refused": 0},
        repair_details=[
            {
                "status": "applied",
                "write_to": "mysql",
                "action": "upsert",
                "count": 12,
                "example_keys": [["t42", "de"], ["t43", "de"]],
                "error": None,
            },
            {
                "status": "failed",
                "write_to": "postgres",
                "action": "upsert",
                "count": 1,
                "example_keys": [[17]],
                "error": "duplicate key value violates unique constraint",
            },
        ],
    )
    text = _text(to_html(_run({"repair": True, "dry_run": False}, applied)))
    assert "12 applied 12 × copy PostgreSQL's row to MySQL: t42/de, t43/de (+10 more)" in text
    assert "1 failed 1 × copy MySQL's row to PostgreSQL: 17 error: duplicate key value" in text
    assert "DRY RUN" not in text


def test_refused_repairs_name_max_repairs_and_the_limit_to_set() -> None:
    refused = _drifted(
        status="repair_refused",
        repairs={"refused": 4},
        repair_message="legacy.orders: 4 repairs needed, more than max_repairs=2",
        repair_details=[
            {
                "status": "refused",
                "write_to": "postgres",
                "action": "upsert",
                "count": 4,
                "example_keys": [[17], [500], [501], [5000]],
                "error": None,
            }
        ],
    )
    run = _run({"repair": True, "dry_run": False, "max_repairs": 2}, refused)
    text = _text(to_html(run))
    assert "4 refused (over max_repairs, nothing written)" in text
    assert (
        "4 repair(s) were refused: they would take the run past max_repairs = 2 (tables are "
        "repaired whole, in the order their comparisons end). Trigger reconcile again with "
        "max_repairs at least 4, or for fewer tables."
    ) in text
    assert "repairs refused (max_repairs)" in text  # the table's status in words


def test_refused_repairs_after_some_applied_ask_only_for_the_rest() -> None:
    """9 rows drifted, 3 were repaired within max_repairs = 3: the next run needs 6, not 9."""
    applied = _drifted(repairs={"applied": 3}, status="repaired")
    refused = _drifted(status="repair_refused", repairs={"refused": 6})
    run = _run({"repair": True, "dry_run": False, "max_repairs": 3}, applied, refused)
    assert (
        "Trigger reconcile again with max_repairs at least 6 (3 of the 9 were applied by "
        "this run), or for fewer tables."
    ) in _text(to_html(run))


def test_a_report_without_repair_details_still_reads_its_counts() -> None:
    """A run dict from before the details were stored (or a hand-made one)."""
    old = _drifted(repair_details=None, drift_examples=None, repairs={"dry_run": 3})
    text = _text(to_html(_run(DRY_RUN, old)))
    assert "3 planned only (dry run, nothing written)" in text
    assert "different: 500; 501" in text  # keys from examples, no columns stored


def test_drift_examples_name_the_differing_columns_per_key() -> None:
    text = _text(to_html(_run(DRY_RUN, _drifted(drift={"missing": 1, "extra": 12}))))
    assert "different: 500 (amount); 501 (amount, updated_at)" in text
    assert "missing: 17" in text
    assert "extra: 5000 (+11 more)" in text


def test_failed_tables_give_the_error_and_what_to_do() -> None:
    never = {
        "table": "legacy.tags",
        "target": "public.tags",
        "status": "error",
        "error": "never started: no result was stored for this table",
    }
    text = _text(to_html(_run(DRY_RUN, IN_SYNC, BROKEN, never)))
    section = text[text.index("Failed tables") : text.index("Tables table status")]
    assert "so their drift is unknown" in section
    assert "legacy.broken (public.broken): postgres table public.broken has no column" in section
    assert 'trigger reconcile with Params tables = ["legacy.broken"]' in section
    assert "compare task's log, map index legacy.tags" in section
    assert "Failed tables" not in _text(to_html(_run(DRY_RUN, IN_SYNC)))
    # its drift is unknown, not zero
    zero = {**BROKEN, "drift": {"missing": 0, "extra": 0, "different": 0}}
    row = _text(to_html(_run(DRY_RUN, zero))).split("Tables table status")[1]
    assert "no column(s) note – / – – (–) – – –" in row


def test_every_value_is_escaped_and_nothing_is_loaded_from_outside() -> None:
    evil = "<script>alert(1)</script>"
    table = _drifted(
        table=evil,
        target=evil,
        error=evil,
        different_columns={evil: 1},
        drift_examples={"different": [{"key": [evil], "columns": [evil]}]},
        repair_details=[
            {
                "status": "failed",
                "write_to": "postgres",
                "action": "upsert",
                "count": 1,
                "example_keys": [[evil]],
                "error": evil,
            }
        ],
    )
    page = to_html(_run({"repair": True, "dry_run": False, "note": evil}, table))
    assert "<script" not in page
    assert page.count("&lt;script&gt;") >= 8
    assert "http" not in page  # no CDN, no external asset
    assert "<link" not in page
    assert "<style>" in page


def test_the_json_keeps_every_field_it_had_and_adds_the_new_ones() -> None:
    data = json.loads(to_json(_run(DRY_RUN, _drifted())))
    assert {"run_id", "trigger", "status", "params", "started_at", "finished_at", "tables"} <= set(
        data
    )
    assert {"duration_s", "summary"} <= set(data)
    (table,) = data["tables"]
    assert table["examples"]["different"] == [["500"], ["501"]]
    assert table["different_columns"] == {"amount": 2, "updated_at": 1}
    assert table["repairs"] == {"dry_run": 4}
    assert table["drift_examples"]["different"][1] == {
        "key": [501],
        "columns": ["amount", "updated_at"],
    }
    assert table["repair_details"][1]["write_to"] == "postgres"


def test_the_alert_names_each_table_that_failed_with_what_to_do() -> None:
    run = _run(DRY_RUN, _drifted(), IN_SYNC, BROKEN)
    summary = summarize(run, "/r.html")
    assert failed_tables(run) == ["legacy.broken"]
    message = verdict(run["status"], summary, failed_tables(run))
    assert message is not None
    first, *rest = message.splitlines()
    assert first == "1 table(s) could not be compared: legacy.broken (see below)"
    broken = next(line for line in rest if "legacy.broken" in line)
    assert "has no column(s) note" in broken
    assert 'trigger reconcile with Params tables = ["legacy.broken"]' in broken
    assert "took 14 min 32 s" in rest[0]


def test_the_headline_says_how_the_run_went() -> None:
    drift = _text(to_html(_run(DRY_RUN, _drifted(), IN_SYNC)))
    assert drift.startswith("Reconcile run 42: drift left unrepaired in 1 of 2 table(s)")
    repaired = _drifted(status="repaired", repairs={"applied": 4}, repair_details=[])
    good = _run({"repair": True, "dry_run": False}, repaired, IN_SYNC)
    assert good["status"] == "succeeded"
    assert _text(to_html(good)).startswith("Reconcile run 42: in sync: all 2 table(s), 1 after")


def test_example_keys_name_their_key_columns_when_the_run_stored_them() -> None:
    table = _drifted(key_columns=["id"])
    text = _text(to_html(_run(DRY_RUN, table)))
    assert "different: id=500 (amount); id=501 (amount, updated_at)" in text
    assert "missing: id=17" in text
    assert "copy MySQL's row to PostgreSQL: id=17, id=500, id=501" in text
    composite = _drifted(
        key_columns=["code", "lang"],
        drift={"missing": 0, "extra": 0, "different": 1},
        drift_examples={"different": [{"key": ["t42", "de"], "columns": ["label"]}]},
    )
    assert "different: code=t42, lang=de (label)" in _text(to_html(_run(DRY_RUN, composite)))
    two_repairs = _drifted(
        key_columns=["code", "lang"],
        repair_details=[
            {
                "status": "dry_run",
                "action": "upsert",
                "write_to": "postgres",
                "count": 2,
                "example_keys": [["t42", "de"], ["t43", "fr"]],
            }
        ],
    )
    text = _text(to_html(_run(DRY_RUN, two_repairs)))
    assert "copy MySQL's row to PostgreSQL: code=t42, lang=de; code=t43, lang=fr" in text
    # a key whose length does not match the names (a hand-made or older report) stays as it was
    odd = _drifted(key_columns=["a", "b"])
    assert "different: 500 (amount)" in _text(to_html(_run(DRY_RUN, odd)))


def test_the_differing_values_show_both_sides_quoted_and_null_as_null() -> None:
    table = _drifted(
        key_columns=["id"],
        drift_examples={
            "different": [
                {
                    "key": [500],
                    "columns": ["amount", "note"],
                    "values": {
                        "amount": {"mysql": "10.00", "postgres": "10.01"},
                        "note": {"mysql": "", "postgres": None},
                    },
                },
                {
                    "key": [501],
                    "columns": ["name"],
                    "values": {"name": {"mysql": "a ", "postgres": "a"}},
                },
            ]
        },
    )
    text = _text(to_html(_run(DRY_RUN, table)))
    section = text[text.index("Differing values") :]
    assert 'legacy.orders id=500 amount "10.00" "10.01"' in section
    assert 'legacy.orders id=500 note "" NULL' in section
    assert 'legacy.orders id=501 name "a " "a"' in section
    # no section when no example carries values (an in-sync run, or an older report)
    assert "Differing values" not in to_html(_run(DRY_RUN, _drifted()))
