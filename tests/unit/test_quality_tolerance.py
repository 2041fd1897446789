"""Review findings on misleading data-quality verdicts, in pure logic: row-count tolerance on
small and empty tables, unreadable tables, backfilling and held tables, passed counts, and the
side a repair copies from. The same cases against the servers: test_quality_misleading.py."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.gx_runner import evaluation_error, passed_detail, server_error
from mysql_pg_sync.quality.parity import gap_severity, parity_failure, parity_passed
from mysql_pg_sync.quality.plan import (
    PlannedCheck,
    ReconcileFacts,
    SkippedCheck,
    TableFacts,
    plan_check,
    repair_source,
    row_count_bounds,
)
from mysql_pg_sync.quality.specs import CheckSpec
from mysql_pg_sync.quality.sync_state import backfill_reason, hold_text

pytestmark = pytest.mark.unit

DEFAULTS = (100, 0.001)  # row_count_tolerance_rows, row_count_tolerance_ratio


@pytest.mark.parametrize(
    ("mysql_rows", "bounds"),
    [
        (0, (0, 5)),  # an empty MySQL table (a queue) tolerates a few rows in flight
        (3, (0, 8)),  # the floor of 5 rows
        (7, (2, 12)),  # past the floor: never 0 while MySQL has rows
        (50, (45, 55)),
        (100, (90, 110)),  # was (0, 200): all 100 rows could go
        (150, (135, 165)),  # was (50, 250): 60 % could go
        (1_000, (900, 1_100)),  # where the 100-row allowance and the 10 % cap meet
        (100_000, (99_900, 100_100)),  # busy tables keep the configured allowance
        (1_000_000, (999_000, 1_001_000)),
    ],
)
def test_the_allowance_is_capped_by_a_share_of_mysqls_rows(
    mysql_rows: int, bounds: tuple[int, int]
) -> None:
    assert row_count_bounds(mysql_rows, *DEFAULTS) == bounds


@pytest.mark.parametrize(
    ("mysql_rows", "pg_rows"),
    [(100, 0), (150, 60), (0, 80), (0, 6), (7, 0)],  # the review's three, and the edges
)
def test_the_reviews_lost_tables_breach_and_fail(mysql_rows: int, pg_rows: int) -> None:
    low, high = row_count_bounds(mysql_rows, *DEFAULTS)
    assert not low <= pg_rows <= high
    # the configured warn, and a fail_ratio raised past every gap: still a fail
    assert gap_severity("warn", pg_rows, mysql_rows, 0.1) == "fail"
    if 0 in (mysql_rows, pg_rows):
        assert gap_severity("warn", pg_rows, mysql_rows, 5.0) == "fail"


def test_tolerances_set_in_the_expectations_file_are_taken_as_they_are() -> None:
    """The cap is for the defaults: a file's `tolerance_rows: 1000` on a 5,000-row table
    means +-1,000 (the cap made it 500); a table of MySQL rows still needs one in PostgreSQL."""
    assert row_count_bounds(5_000, 1_000, 0.001) == (4_000, 6_000)
    assert row_count_bounds(500, 1_000, 0.001) == (1, 1_500)
    assert row_count_bounds(0, 1_000, 0.001) == (0, 1_000)


def test_a_few_rows_in_flight_on_a_small_table_are_no_lost_table() -> None:
    low, high = row_count_bounds(0, *DEFAULTS)
    assert low <= 3 <= high  # a queue table emptied in MySQL, three rows still in flight
    assert gap_severity("warn", 0, 4, 5.0) == "warn"


def test_rows_in_flight_on_a_busy_table_still_pass() -> None:
    low, high = row_count_bounds(2_000_000, *DEFAULTS)
    assert low <= 2_000_000 - 1_500
    assert high >= 2_000_000 + 1_500


def test_an_empty_side_says_so_instead_of_a_ratio() -> None:
    severity, detail = parity_failure("db.t", "warn", 0, 100, (90, 110), 0.1)
    assert severity == "fail"
    assert "PostgreSQL has 0 rows, MySQL 100" in detail
    assert "a fail whatever its severity: PostgreSQL has no rows while MySQL has some" in detail
    _, orphan = parity_failure("db.t", "warn", 80, 0, (0, 0), 0.1)
    assert "MySQL has no rows while PostgreSQL has some" in orphan
    assert "tolerated: 0 to 0 rows" in orphan


def _mapping(**extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "db.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "ts", "column_type": "datetime", "nullable": False},
            ],
            "conflict": {"rule": "last_writer_wins", "column": "ts"},
            **extra,
        }
    )


def _specs(mapping: TableMapping) -> dict[str, CheckSpec]:
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    return {s.check_id: s for s in specs}


STATE = frozenset({"reconcile_tables", "conflicts", "dead_letters"})
REC = ReconcileFacts(run_id=7, status="drift", unrepaired=2, age_seconds=60.0)


def test_a_passed_count_shows_both_counts() -> None:
    mapping = _mapping()
    planned = plan_check(_specs(mapping)["row_count_parity"], mapping, TableFacts(source_rows=500))
    assert isinstance(planned, PlannedCheck)
    assert (
        passed_detail(planned, 497)
        == "PostgreSQL has 497 rows, MySQL 500; tolerated: 450 to 550 rows"
    )
    assert parity_passed(1_234, 1_240, 1_140, 1_340) == (
        "PostgreSQL has 1,234 rows, MySQL 1,240; tolerated: 1,140 to 1,340 rows"
    )


PROGRESSING = {"chunks_total": 40, "chunks_done": 12, "idle_seconds": 10.0}
STALLED = {"chunks_total": 40, "chunks_done": 12, "idle_seconds": 3 * 3600.0}


def test_backfill_reasons_name_the_chunks_and_a_stall() -> None:
    moving = backfill_reason("db.t", "backfilling", PROGRESSING)
    assert moving.startswith("backfilling (12/40 chunks done): not checked")
    assert "resume" not in moving
    stalled = backfill_reason("db.t", "backfilling", STALLED)
    assert stalled.startswith("backfilling (12/40 chunks done): not checked")
    assert "no backfill progress for 3 h" in stalled
    assert "backfill run --mode resume --tables db.t" in stalled
    unplanned = backfill_reason("db.t", "backfilling", None)
    assert "no chunk of it is planned" in unplanned
    new = backfill_reason("db.t", "new", None)
    assert new.startswith("not backfilled yet (state new, no chunk planned yet): not checked")
    assert "resume" not in new


def test_a_backfilling_table_skips_count_freshness_and_drift_but_not_its_keys() -> None:
    mapping = _mapping()
    reason = backfill_reason("db.t", "backfilling", PROGRESSING)
    facts = TableFacts(
        source_rows=2_000,
        source_newest=datetime(2026, 11, 27, tzinfo=UTC),
        state_tables=STATE,
        reconcile=REC,
        backfill=reason,
    )
    plans = {cid: plan_check(spec, mapping, facts) for cid, spec in _specs(mapping).items()}
    for cid in ("row_count_parity", "freshness:ts", "reconcile_drift"):
        skipped = plans[cid]
        assert isinstance(skipped, SkippedCheck), cid
        assert (skipped.reason, skipped.breach, skipped.severity) == (reason, False, None)
    for cid in ("key_unique:id", "key_not_null:id", "dead_letters"):
        assert isinstance(plans[cid], PlannedCheck), cid


HOLD = {"incoming_side": "mysql", "since": datetime(2026, 11, 27, 2, 0, tzinfo=UTC)}


def test_a_held_table_keeps_its_checks_and_its_hints_name_the_hold() -> None:
    held = hold_text([HOLD])
    assert held.startswith("the stream holds this table (held since 2026-11-27 02:00 UTC: ")
    assert "run `make ddl`" in held
    assert hold_text([]) == ""
    mapping = _mapping()
    facts = TableFacts(
        source_rows=100,
        source_newest=datetime(2026, 11, 27, tzinfo=UTC),
        state_tables=STATE,
        reconcile=REC,
        held=held,
    )
    specs = _specs(mapping)
    parity = plan_check(specs["row_count_parity"], mapping, facts)
    fresh = plan_check(specs["freshness:ts"], mapping, facts)
    drift = plan_check(specs["reconcile_drift"], mapping, facts)
    assert isinstance(parity, PlannedCheck)
    assert parity.held == held
    assert isinstance(fresh, PlannedCheck)
    assert held in fresh.breach_hint
    assert isinstance(drift, PlannedCheck)
    assert held in drift.breach_hint
    _, detail = parity_failure("db.t", "warn", 50, 100, (90, 110), 0.1, held=held)
    assert held in detail


def test_the_repair_hint_names_the_side_it_copies_from() -> None:
    assert repair_source(_mapping(conflict={"rule": "mysql_wins"})) == (
        "a repair copies MySQL's rows (reconcile.authoritative: mysql)"
    )
    lww = repair_source(_mapping())
    assert lww.startswith("a repair copies MySQL's rows (reconcile.authoritative: mysql)")
    assert "a row on both sides the side last_writer_wins favours" in lww
    pg = _mapping(conflict={"rule": "mysql_wins"}, reconcile={"authoritative": "postgres"})
    assert repair_source(pg).startswith("a repair copies PostgreSQL's rows")
    backwards = _mapping(direction="pg_to_mysql", conflict={"rule": "mysql_wins"})
    text = repair_source(backwards)
    assert "this table syncs pg_to_mysql" in text
    assert 'Params authoritative = "postgres"' in text
    assert "pg_to_mysql" not in repair_source(_mapping(direction="mysql_to_pg"))
    _, detail = parity_failure("db.t", "warn", 50, 100, (90, 110), 0.1, repair_side=text)
    assert detail.endswith(f"--repair --no-dry-run`; {text}")
    drift = plan_check(
        _specs(backwards)["reconcile_drift"],
        backwards,
        TableFacts(state_tables=STATE, reconcile=REC),
    )
    assert isinstance(drift, PlannedCheck)
    assert drift.breach_hint.endswith(f"--repair --no-dry-run`; {text}")


GE_PRIVILEGE_ERROR = (
    "Attempt to connect to table: public.t failed because the test query failed. Ensure the "
    "table exists and the user has access to select data from the table: "
    "(psycopg2.errors.InsufficientPrivilege) permission denied for table t\n"
    "[SQL: SELECT 1 \nFROM public.t \n LIMIT %(param_1)s]\n[parameters: {'param_1': 1}]\n"
    "(Background on this error at: https://sqlalche.me/e/21/f405)"
)


def test_an_unreadable_table_is_a_fail_naming_table_check_and_server_error() -> None:
    assert server_error(GE_PRIVILEGE_ERROR) == (
        "permission denied for table t (InsufficientPrivilege)"
    )
    assert server_error("boom\n[SQL: SELECT 1]") == "boom"
    mapping = _mapping()
    planned = plan_check(_specs(mapping)["row_count_parity"], mapping, TableFacts(source_rows=9))
    assert isinstance(planned, PlannedCheck)
    detail = evaluation_error(planned, f"TestConnectionError: {GE_PRIVILEGE_ERROR}")
    assert detail.startswith(
        "row_count_parity of db.t on PostgreSQL public.t: permission denied for table t "
        "(InsufficientPrivilege); grant the data-quality user SELECT on it"
    )
    assert "sqlalche.me" not in detail
    assert "[SQL:" not in detail


def test_a_missing_target_table_fails_whatever_the_checks_severity() -> None:
    mapping = _mapping()
    specs = _specs(mapping)
    assert specs["row_count_parity"].severity == "warn"
    gone = plan_check(specs["row_count_parity"], mapping, TableFacts(target_exists=False))
    assert isinstance(gone, SkippedCheck)
    assert (gone.breach, gone.severity) == (True, "fail")
