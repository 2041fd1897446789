"""How the report, the run summary and the verdict show a table not repaired because its
re-check timed out (not conclusive), and repairs skipped because a row changed since it was
compared; and the compare-and-set's row comparison (pure, no servers)."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from tests.unit.reconcile_runs import finished_run, table_result

from mysql_pg_sync.airflow.reconcile_summary import not_conclusive_tables, summarize, verdict
from mysql_pg_sync.reconcile.applier import _same
from mysql_pg_sync.reconcile.diff import CanonicalRow
from mysql_pg_sync.reconcile.model import CompareColumn
from mysql_pg_sync.reconcile.recheck import TIMED_OUT
from mysql_pg_sync.reconcile.report import advice, headline, to_html
from mysql_pg_sync.reconcile.run import TableResult, changed_message, not_conclusive_message
from mysql_pg_sync.reconcile.store import _image_json

pytestmark = pytest.mark.unit


def _table(name: str, **over: Any) -> dict[str, Any]:
    return table_result(name, **{"drift": {"missing": 1, "extra": 1, "different": 1}, **over})


def _run(*tables: dict[str, Any]) -> dict[str, Any]:
    return finished_run(*tables, run_id=9, params={"repair": True, "dry_run": False})


def _held(name: str) -> dict[str, Any]:
    return _table(
        name,
        recheck=TIMED_OUT,
        recheck_wait_s=30.0,
        not_conclusive=3,
        repair_message=not_conclusive_message(3, 30.0),
    )


def test_a_table_not_repaired_for_a_timed_out_recheck_fails_the_run_and_says_why() -> None:
    run = _run(_held("legacy.orders"), _table("legacy.items", status="in_sync", drift={}))
    assert run["status"] == "drift"  # never success
    assert run["summary"]["not_conclusive"] == 1
    assert "not conclusive: the stream had not caught up, nothing repaired" in headline(run)
    [banner] = [line for line in advice(run) if "NOT CONCLUSIVE" in line]
    assert "NOTHING REPAIRED in 1 table(s) (legacy.orders)" in banner
    assert "run reconcile again once it has caught up" in banner
    page = html.unescape(to_html(run))
    assert "nothing was repaired in this table" in page
    assert "check the stream DAG and the consumer lag" in page
    summary = summarize(run)
    assert "legacy.orders: drift" in summary
    assert "nothing was repaired" in summary
    alert = verdict(run["status"], summary, (), not_conclusive_tables(run))
    assert alert is not None
    assert alert.startswith("not conclusive, nothing repaired in 1 table(s): legacy.orders")


def test_confirmed_drift_keeps_its_verdict() -> None:
    run = _run(_table("legacy.orders"))
    assert not_conclusive_tables(run) == []
    alert = verdict(run["status"], summarize(run), (), not_conclusive_tables(run))
    assert alert is not None
    assert alert.startswith("confirmed drift is left unrepaired")


def test_repairs_skipped_as_changed_since_compared_stay_drift_and_are_shown() -> None:
    table = _table(
        "legacy.orders",
        status="drift",
        drift={"missing": 0, "extra": 0, "different": 3},
        repairs={"applied": 1, "changed": 2},
        changed_since_compared=2,
        repair_message=changed_message(2, 0),
    )
    run = _run(table)
    assert run["status"] == "drift"  # the next run compares those keys afresh
    assert run["summary"]["changed_since_compared"] == 2
    [line] = [line for line in advice(run) if "changed on a side" in line]
    assert line.startswith("2 repair(s) were not written")
    assert "Their drift stays on record" in line
    page = html.unescape(to_html(run))
    assert "2 not written: the row changed after it was compared" in page
    assert verdict(run["status"], summarize(run)) is not None
    assert "2 repair(s) not written: changed since compared" in summarize(run)


def test_a_repair_record_holds_what_jsonb_cannot() -> None:
    """A NUL character (MySQL text with `values.nul_bytes: strip`) or a NaN inside an array
    made the record's insert fail, and with it the table (dry runs too)."""
    image = {
        "id": 1,
        "note": "a\x00b",
        "vals": [1.5, float("nan")],
        "f": float("inf"),
        "raw": b"\x00\x01",
        "price": Decimal("1.50"),
        "tags": {"x", "y"},
    }
    stored = _image_json(image)
    assert stored is not None
    assert "\\u0000" not in json.dumps(stored.obj, allow_nan=False).replace("\\\\", "")
    assert stored.obj["note"] == "a\\u0000b"
    assert stored.obj["vals"] == [1.5, "nan"]
    assert stored.obj["f"] == "inf"
    assert stored.obj["raw"] == ["bytes", "0001"]
    assert stored.obj["price"] == ["decimal", "1.50"]


def test_a_result_carries_both_counts() -> None:
    result = TableResult("legacy.orders", "public.orders", not_conclusive=4)
    result.changed_since_compared = 1
    shown = result.as_dict()
    assert (shown["not_conclusive"], shown["changed_since_compared"]) == (4, 1)


INT = CompareColumn("qty", "qty", "int")
FLOAT = CompareColumn("f", "f", "float", digits=6)


def _row(**texts: Any) -> CanonicalRow:
    return CanonicalRow((1,), texts)


@pytest.mark.parametrize(
    ("was", "now", "same"),
    [
        (None, None, True),  # absent stays absent
        (None, _row(qty="1"), False),  # a row arrived
        (_row(qty="1"), None, False),  # the row left
        (_row(qty="1"), _row(qty="1"), True),
        (_row(qty="1"), _row(qty="2"), False),
        (_row(qty=None), _row(qty=None), True),
        (_row(qty=None), _row(qty="0"), False),
    ],
)
def test_a_row_still_holds_what_was_compared(
    was: CanonicalRow | None, now: CanonicalRow | None, same: bool
) -> None:
    assert _same((INT,), was, now) is same


def test_a_float_is_compared_as_the_comparison_does() -> None:
    nan = float("nan")
    assert _same((FLOAT,), _row(f=nan), _row(f=nan))
    assert not _same((FLOAT,), _row(f=1.0), _row(f=2.0))


def test_repairs_rolled_back_for_a_deadlock_run_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadlock with the stream applier ended the table as an error with its repairs left
    planned; the group runs again (its compare-and-set reads both sides afresh)."""
    import psycopg

    from mysql_pg_sync.reconcile import run as run_module
    from mysql_pg_sync.reconcile.repair import RepairOutcome

    monkeypatch.setattr(run_module.time, "sleep", lambda _: None)
    calls: list[int] = []

    class Applier:
        def apply_repairs(self, *args: Any, **kw: Any) -> list[RepairOutcome]:
            calls.append(1)
            if len(calls) == 1:
                raise psycopg.errors.DeadlockDetected("deadlock detected")
            return [RepairOutcome(("1",), True)]

    table = SimpleNamespace(name="legacy.orders")
    outcomes = run_module._apply_retrying(Applier(), table, "postgres", [], None)  # type: ignore[arg-type]
    assert outcomes == [RepairOutcome(("1",), True)]
    assert len(calls) == 2

    class Broken:
        def apply_repairs(self, *args: Any, **kw: Any) -> list[RepairOutcome]:
            raise ValueError("not a lock")

    with pytest.raises(ValueError, match="not a lock"):
        run_module._apply_retrying(Broken(), table, "postgres", [], None)  # type: ignore[arg-type]


def test_a_settle_round_that_waited_in_vain_says_the_stream_lagged() -> None:
    assert "stream had not applied" not in changed_message(1, 1)
    message = changed_message(1, 0, lagging=True)
    assert "the stream had not applied this table's changes in Kafka" in message
