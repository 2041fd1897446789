"""A re-check whose wait ran out before the stream had applied the table's changes: the drift may
be changes still in Kafka, and the report says so (pure formatting, no servers)."""

from __future__ import annotations

import html

import pytest
from tests.unit.reconcile_runs import finished_run, table_result

from mysql_pg_sync.reconcile.recheck import (
    CAUGHT_UP,
    FIXED_DELAY,
    TIMED_OUT,
    DelayWaiter,
    OffsetsWaiter,
    applied_up_to,
)
from mysql_pg_sync.reconcile.report import advice, to_html, unsettled

pytestmark = pytest.mark.unit


_table = table_result
_run = finished_run


def test_a_timed_out_recheck_is_named_on_its_table_and_in_a_banner() -> None:
    run = _run(
        _table("legacy.orders", recheck=TIMED_OUT, recheck_wait_s=30.2),
        _table("legacy.items", recheck=CAUGHT_UP, recheck_wait_s=0.4),
    )
    [banner] = [line for line in advice(run) if "in Kafka" in line]
    assert "1 table(s) (legacy.orders)" in banner
    assert "stream consumer runs" in banner
    page = html.unescape(to_html(run))
    assert (
        "re-checked after 30 s while the stream consumer had not yet applied every change Kafka "
        "held for this table" in page
    )
    assert page.count("re-checked after") == 1  # not on the table the stream caught up on


@pytest.mark.parametrize("outcome", [CAUGHT_UP, FIXED_DELAY, None])
def test_other_outcomes_add_no_notice(outcome: str | None) -> None:
    table = _table("legacy.orders", recheck=outcome)
    assert unsettled(table) == ""
    assert not [line for line in advice(_run(table)) if "in Kafka" in line]


def test_a_fixed_delay_says_it_asked_no_stream() -> None:
    assert DelayWaiter(0).wait("legacy.orders") == FIXED_DELAY


def test_a_recheck_that_cleared_every_suspect_adds_no_notice() -> None:
    cleared = _table(
        "legacy.orders",
        status="in_sync",
        drift={"missing": 0, "extra": 0, "different": 0},
        recheck=TIMED_OUT,
        recheck_wait_s=30.0,
    )
    run = _run(cleared)
    assert unsettled(cleared) == ""
    assert not [line for line in advice(run) if "in Kafka" in line]
    assert "re-checked after" not in html.unescape(to_html(run))


def test_caught_up_once_every_partition_is_applied_to_its_end() -> None:
    ends = {("t.a", 0): 5, ("t.a", 1): 0, ("t.b", 0): 2}
    assert applied_up_to(ends, {("t.a", 0): 5, ("t.b", 0): 7})
    assert not applied_up_to(ends, {("t.a", 0): 4, ("t.b", 0): 7})
    assert not applied_up_to(ends, {("t.a", 0): 5})  # t.b never applied
    assert applied_up_to({}, {})  # no topic: nobody wrote to the table


def test_the_offsets_waiter_polls_until_applied_or_out_of_time() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    applied = iter([{}, {("t", 0): 1}, {("t", 0): 3}])
    waiter = OffsetsWaiter(
        lambda _: {("t", 0): 3}, lambda _: next(applied), max_wait_s=30,
        clock=lambda: now[0], sleep=sleep,
    )  # fmt: skip
    assert waiter.wait("legacy.t") == CAUGHT_UP
    assert waiter.polls == 3
    assert slept[0] == 2.0  # Debezium's moment between a commit and its message in Kafka

    stuck = OffsetsWaiter(
        lambda _: {("t", 0): 3}, lambda _: {}, max_wait_s=0, clock=lambda: now[0], sleep=sleep
    )
    before = len(slept)
    assert stuck.wait("legacy.t") == TIMED_OUT
    assert stuck.polls == 1
    assert len(slept) == before  # 0: no waiting at all


def test_a_stream_position_that_cannot_be_read_is_a_timed_out_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kafka away: the table's comparison stands (it failed the table as unexpected)."""

    def unreachable(_: str) -> dict[tuple[str, int], int]:
        raise RuntimeError("Failed to get metadata: Local: Broker transport failure")

    waiter = OffsetsWaiter(unreachable, lambda _: {}, max_wait_s=0)
    assert waiter.wait("legacy.t") == TIMED_OUT
    assert "legacy.t: cannot tell whether the stream has caught up (Failed to get" in caplog.text
