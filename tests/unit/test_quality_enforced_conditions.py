"""The condition a CHECK must be, as PostgreSQL prints it, for a check to count as enforced
(``quality/enforced.py``); and the reconcile run ``reconcile_drift`` judged, with its age.
Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime

from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.enforced import condition
from mysql_pg_sync.quality.plan import (
    PlannedCheck,
    ReconcileFacts,
    SkippedCheck,
    TableFacts,
    plan_check,
)
from mysql_pg_sync.quality.specs import CheckSpec

MAPPING = TableMapping.model_validate(
    {
        "source": "legacy.orders",
        "target": "app.orders",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "int(10) unsigned", "nullable": False},
            {"name": "state", "column_type": "enum('new','it''s')", "nullable": False},
            {"name": "flags", "column_type": "set('a','b')"},
        ],
    }
)
SPECS = {s.check_id: s for s in derive_checks(MappingSet((MAPPING,)), load_quality_config("/no"))}


def test_the_condition_is_the_one_ddl_writes_for_the_same_rule() -> None:
    assert condition(SPECS["range:id"]) == ("id", '"id" >= 0 AND "id" <= 4294967295')
    assert condition(SPECS["enum_values:state"]) == ("state", "\"state\" IN ('new', 'it''s')")
    assert condition(SPECS["set_values:flags"]) == (
        "flags",
        "\"flags\" <@ ARRAY['a', 'b']::text[]",
    )


def test_checks_no_check_constraint_stands_for_have_no_condition() -> None:
    assert condition(SPECS["key_unique:id"]) is None
    assert condition(SPECS["row_count_parity"]) is None
    mostly = CheckSpec(
        "legacy.orders",
        "range",
        "fail",
        "ExpectColumnValuesToBeBetween",
        {"column": "id", "min_value": 0, "max_value": 9, "mostly": 0.9},
    )
    assert condition(mostly) is None  # "90 % of rows" is not what a CHECK says


def test_drift_names_the_run_and_fails_when_it_is_older_than_the_threshold() -> None:
    spec = SPECS["reconcile_drift"]
    assert spec.params == {"max_age_hours": 72.0}
    finished = datetime(2026, 10, 18, 2, 14, tzinfo=UTC)
    state = frozenset({"reconcile_tables"})

    def plan(age_hours: float, unrepaired: int = 0) -> PlannedCheck | SkippedCheck:
        rec = ReconcileFacts(
            7, "in_sync", unrepaired=unrepaired, finished_at=finished, age_seconds=age_hours * 3600
        )
        return plan_check(spec, MAPPING, TableFacts(state_tables=state, reconcile=rec))

    fresh = plan(71)
    assert isinstance(fresh, PlannedCheck)
    assert fresh.note == "judged reconcile run 7 (finished 2026-10-18 02:14 UTC)"
    stale = plan(24 * 40, unrepaired=3)
    assert isinstance(stale, SkippedCheck)
    assert stale.breach
    assert stale.severity is None  # the check's own: fail by default
    assert stale.observed == 3
    assert stale.reason.startswith(
        "the latest reconcile run 7 (finished 2026-10-18 02:14 UTC) that compared legacy.orders "
        "is 40.0 days old, older than reconcile_max_age_hours (72 h): it left 3 unrepaired "
        "drift row(s), more than the 0 allowed, but the drift since is unknown."
    ), stale.reason
