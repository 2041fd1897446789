"""Checks derived from mappings and users' YAML (pure: no database, no GE)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.quality.config import ExpectationsFileError, load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.plan import (
    PlannedCheck,
    ReconcileFacts,
    SkippedCheck,
    TableFacts,
    column_aliases,
    plan_check,
    row_count_bounds,
)
from mysql_pg_sync.quality.ranges import mysql_range


def _col(column_type: str, **kw: object) -> ColumnMapping:
    return ColumnMapping.model_validate({"name": "c", "column_type": column_type, **kw})


@pytest.mark.parametrize(
    ("column_type", "expected"),
    [
        ("int(10) unsigned", (0, 4294967295)),  # -> bigint: both ends narrower
        ("int(11)", None),  # -> integer: same range, nothing to check
        ("tinyint(4)", (-128, 127)),  # -> smallint
        ("tinyint(3) unsigned", (0, 255)),
        ("smallint(5) unsigned", (0, 65535)),  # -> integer
        ("mediumint(9)", (-8388608, 8388607)),
        ("bigint(20)", None),
        ("bigint(20) unsigned", (0, 2**64 - 1)),  # numeric(20,0) holds up to 10**20 - 1
        ("decimal(12,2) unsigned", (0, None)),
        ("decimal(12,2)", None),
        ("tinyint(1)", None),  # boolean
        ("varchar(10)", None),
        ("double unsigned", (0, None)),
        ("float(7,4)", None),
    ],
)
def test_mysql_range_only_where_postgres_allows_more(column_type: str, expected: object) -> None:
    assert mysql_range(_col(column_type)) == expected


def _mapping(**extra: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.orders",
            "target": "app.orders",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(10) unsigned", "nullable": False},
                {"name": "state", "column_type": "enum('new','paid')", "nullable": False},
                {"name": "flags", "column_type": "set('x','y')"},
                {"name": "note", "column_type": "text"},
                {"name": "secret", "column_type": "text", "exclude": True, "nullable": False},
                {"name": "modified", "column_type": "timestamp(3)", "pg_name": "modified_at"},
            ],
            **extra,
        }
    )


def _ids(mapping: TableMapping, config_dir: Path | None = None) -> dict[str, str]:
    config = load_quality_config(config_dir) if config_dir else load_quality_config("/nonexistent")
    return {s.check_id: s.severity for s in derive_checks(MappingSet((mapping,)), config)}


def test_checks_derived_from_a_mapping() -> None:
    ids = _ids(_mapping(conflict={"rule": "last_writer_wins", "column": "modified"}))
    assert ids == {
        "key_unique:id": "fail",
        "key_not_null:id": "fail",
        "range:id": "fail",
        "not_null:state": "fail",
        "enum_values:state": "fail",
        "set_values:flags": "fail",
        "row_count_parity": "warn",
        "freshness:modified_at": "warn",
        "reconcile_drift": "fail",
        "conflicts_24h": "warn",
        "dead_letters": "fail",
    }


def test_composite_key_uses_compound_uniqueness_and_no_freshness_without_a_time_column() -> None:
    mapping = _mapping(key=["id", "state"])
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    unique = next(s for s in specs if s.check == "key_unique")
    assert unique.expectation == "ExpectCompoundColumnsToBeUnique"
    assert unique.kwargs == {"column_list": ["id", "state"]}
    assert not any(s.check == "freshness" for s in specs)
    assert not any(s.check_id == "not_null:state" for s in specs)  # covered by key_not_null


def test_user_yaml_overrides_severity_disables_adds_ranges_and_custom(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        """
defaults:
  severity: {row_count_parity: fail}
  thresholds: {freshness_seconds: 60}
tables:
  orders:
    freshness_column: modified_at
    disable: [dead_letters]
    severity: {conflicts_24h: fail}
    thresholds: {conflicts_24h_max: 3}
    ranges:
      id: {min: 1, max: 1000, severity: warn}
    expectations:
      - {name: note_short, type: expect_column_value_lengths_to_be_between,
         kwargs: {column: note, max_value: 10}, severity: fail}
"""
    )
    mapping = _mapping()
    specs = derive_checks(MappingSet((mapping,)), load_quality_config(tmp_path))
    by_id = {s.check_id: s for s in specs}
    assert "dead_letters" not in by_id
    assert by_id["row_count_parity"].severity == "fail"
    assert by_id["conflicts_24h"].severity == "fail"
    assert by_id["conflicts_24h"].kwargs["max_value"] == 3
    assert by_id["freshness:modified_at"].kwargs["max_value"] == 60
    assert by_id["range:id"].kwargs == {"column": "id", "min_value": 1, "max_value": 1000}
    assert by_id["range:id"].severity == "warn"
    custom = by_id["custom:note_short"]
    assert custom.expectation == "ExpectColumnValueLengthsToBeBetween"
    assert custom.severity == "fail"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tables: {nosuch: {}}", "nosuch"),
        ("tables: {orders: {disable: [typo]}}", "unknown check 'typo'"),
        ("tables: {orders: {ranges: {id: {}}}}", "give min, max or both"),
        ("tables: {orders: {ranges: {id: {min: 5, max: 1}}}}", "min 5.0 > max 1.0"),
        ("tables: {orders: {ranges: {nope: {min: 1}}}}", "no PostgreSQL column 'nope'"),
        ("tables: {orders: {freshness_column: note}}", "not a date/time column"),
        ("tables: {orders: {freshness_column: zzz}}", "no PostgreSQL column 'zzz'"),
        ("tables: {orders: {severity: {key_unique: loud}}}", "severity"),
        ("tables: {orders: {colour: red}}", "colour"),
        (
            "tables: {orders: {expectations: [{name: a, type: ExpectThing}]}}",
            "not a Great Expectations name",
        ),
        (
            "tables: {orders: {expectations: [{name: a, type: expect_column_values_to_be_unique,"
            " kwargs: {column: q}}]}}",
            "no PostgreSQL column 'q'",
        ),
        (  # a real-looking name the installed GE does not have: stops the run at load
            "tables: {orders: {expectations: [{name: a, type: expect_column_values_to_match_regexp,"
            " kwargs: {column: note, regex: x}}]}}",
            "tables.orders.expectations[a]: type 'expect_column_values_to_match_regexp' is not an "
            "expectation of the installed Great Expectations",
        ),
        ("- just a list", "expected a mapping"),
        ("tables: [", "not valid YAML"),
    ],
)
def test_bad_yaml_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExpectationsFileError) as err:
        derive_checks(MappingSet((_mapping(),)), load_quality_config(tmp_path))
    assert message in str(err.value)
    assert "bad.yaml" in str(err.value)


def test_an_unknown_expectation_suggests_the_closest_name(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "tables: {orders: {expectations: [{name: e, type: expect_column_values_to_match_regexp,"
        " kwargs: {column: note, regex: x}}]}}"
    )
    with pytest.raises(ExpectationsFileError) as err:
        load_quality_config(tmp_path)
    assert "did you mean 'expect_column_values_to_match_regex'?" in str(err.value)
    assert "bad.yaml" in str(err.value)


def test_expectation_names_map_to_the_installed_ge_class_names(tmp_path: Path) -> None:
    """``kl`` is an acronym in GE's class name: capitalising each word gave a class GE lacks."""
    (tmp_path / "a.yaml").write_text(
        """
tables:
  orders:
    expectations:
      - {name: kl, type: expect_column_kl_divergence_to_be_less_than,
         kwargs: {column: note, partition_object: null, threshold: 0.1}}
      - {name: re, type: expect_column_values_to_match_regex, kwargs: {column: note, regex: x}}
"""
    )
    specs = derive_checks(MappingSet((_mapping(),)), load_quality_config(tmp_path))
    by_id = {s.check_id: s.expectation for s in specs}
    assert by_id["custom:kl"] == "ExpectColumnKLDivergenceToBeLessThan"
    assert by_id["custom:re"] == "ExpectColumnValuesToMatchRegex"
    import great_expectations as gx

    assert hasattr(gx.expectations, by_id["custom:kl"])


def test_one_table_under_two_names_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tables: {legacy.orders: {severity: {key_unique: warn}}}")
    (tmp_path / "b.yaml").write_text("tables: {app.orders: {severity: {key_unique: fail}}}")
    config = load_quality_config(tmp_path)  # different keys: only the mappings tell they match
    with pytest.raises(ExpectationsFileError) as err:
        derive_checks(MappingSet((_mapping(),)), config)
    message = str(err.value)
    assert "a.yaml: tables.legacy.orders" in message
    assert "b.yaml: tables.app.orders" in message
    assert "same table" in message


def test_a_table_configured_in_two_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tables: {orders: {}}")
    (tmp_path / "b.yaml").write_text("tables: {orders: {}}")
    with pytest.raises(ExpectationsFileError, match=r"also configured in .*a\.yaml"):
        load_quality_config(tmp_path)


def test_row_count_bounds_take_the_larger_tolerance_capped_on_small_tables() -> None:
    # was (0, 150): the 100-row allowance let a 50-row table lose every row and pass
    assert row_count_bounds(50, 100, 0.001) == (45, 55)
    assert row_count_bounds(1_000_000, 100, 0.001) == (999_000, 1_001_000)


def _spec(check_id: str, **mapping_extra: object):
    mapping = _mapping(**mapping_extra)
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    return mapping, next(s for s in specs if s.check_id == check_id)


def test_plan_resolves_live_facts_and_skips_without_them() -> None:
    mapping, parity = _spec("row_count_parity")
    planned = plan_check(parity, mapping, TableFacts(source_rows=1000))
    assert isinstance(planned, PlannedCheck)
    assert planned.kwargs == {"min_value": 900, "max_value": 1100}
    assert planned.query.startswith('SELECT "id" AS "id", "state" AS "state"')
    assert planned.query.endswith('FROM "app"."orders"')
    skipped = plan_check(parity, mapping, TableFacts())
    assert isinstance(skipped, SkippedCheck)

    _, drift = _spec("reconcile_drift")
    no_state = plan_check(drift, mapping, TableFacts())
    assert isinstance(no_state, SkippedCheck)
    assert "no data" in no_state.reason
    with_state = plan_check(
        drift,
        mapping,
        TableFacts(
            state_tables=frozenset({"reconcile_tables"}), reconcile=ReconcileFacts(3, "in_sync")
        ),
    )
    assert isinstance(with_state, PlannedCheck)
    assert "'legacy.orders'" in (with_state.query or "")

    _, members = _spec("set_values:flags")
    planned = plan_check(members, mapping, TableFacts())
    assert isinstance(planned, PlannedCheck)
    assert planned.query == (
        'SELECT m AS "flags" FROM "app"."orders" CROSS JOIN LATERAL unnest("flags") AS m'
    )


def test_reconcile_drift_is_judged_on_the_chosen_run_and_a_failed_run_is_a_breach() -> None:
    mapping, drift = _spec("reconcile_drift")
    state = frozenset({"reconcile_tables"})

    never = plan_check(drift, mapping, TableFacts(state_tables=state))
    assert isinstance(never, SkippedCheck)
    assert not never.breach
    assert "no finished reconcile run has compared legacy.orders" in never.reason

    good = plan_check(
        drift, mapping, TableFacts(state_tables=state, reconcile=ReconcileFacts(7, "drift"))
    )
    assert isinstance(good, PlannedCheck)
    assert "t.run_id = 7" in good.query  # the run the facts chose, not max(run_id) again

    # run 8 errored on the table (drift_found stored as 0); run 7 left 2 rows unrepaired
    failed = ReconcileFacts(
        8, "error", "OperationalError: server closed", 0, last_good_run_id=7, last_good_unrepaired=2
    )
    breach = plan_check(drift, mapping, TableFacts(state_tables=state, reconcile=failed))
    assert isinstance(breach, SkippedCheck)
    assert breach.breach
    assert breach.observed == 2
    assert "latest reconcile run 8 failed on this table (OperationalError: server closed)" in (
        breach.reason
    )
    assert "run that compared it, 7, left 2 unrepaired drift row(s)" in breach.reason

    first = plan_check(
        drift, mapping, TableFacts(state_tables=state, reconcile=ReconcileFacts(1, "error"))
    )
    assert isinstance(first, SkippedCheck)
    assert first.breach
    assert "no earlier run compared it, so its drift is unknown" in first.reason


def test_an_unreadable_source_table_is_a_breach_of_the_checks_that_need_it() -> None:
    mapping = _mapping(conflict={"rule": "last_writer_wins", "column": "modified"})
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    facts = TableFacts(source_error="MySQL error 1146: Table 'legacy.orders' doesn't exist")
    plans = {s.check_id: plan_check(s, mapping, facts) for s in specs}
    for check_id in ("row_count_parity", "freshness:modified_at"):
        skipped = plans[check_id]
        assert isinstance(skipped, SkippedCheck)
        assert (skipped.breach, skipped.severity) == (True, "fail")
        assert "MySQL table legacy.orders could not be read (MySQL error 1146" in skipped.reason
    assert isinstance(plans["not_null:state"], PlannedCheck)  # PostgreSQL checks still run


def test_columns_are_aliased_to_names_ge_can_address() -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "legacy.Group",
            "target": "public.Group",
            "key": ["ID"],
            "columns": [
                {"name": "ID", "column_type": "int(11)", "nullable": False},
                {"name": "id", "column_type": "int(11)", "pg_name": "id_lower"},
                {"name": "Name", "column_type": "varchar(9)", "nullable": False},
                {"name": "name x", "column_type": "varchar(9)", "pg_name": "NAME"},
                {"name": "2nd", "column_type": "int(11)"},
            ],
        }
    )
    aliases = column_aliases(mapping)
    assert aliases == {
        "ID": "id",
        "id_lower": "id_lower",
        "Name": "name",
        "NAME": "name_2",
        "2nd": "c_2nd",
    }
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    by_id = {s.check_id: plan_check(s, mapping, TableFacts()) for s in specs}
    not_null = by_id["not_null:Name"]
    assert isinstance(not_null, PlannedCheck)
    assert not_null.kwargs == {"column": "name"}
    assert '"Name" AS "name"' in not_null.query
    assert 'FROM "public"."Group"' in not_null.query


@pytest.mark.parametrize(
    ("newest", "fragment"),
    [
        (datetime(2026, 1, 2, 3, 4, 5), "('2026-01-02 03:04:05' || '+00')::timestamptz"),
        (date(2026, 1, 2), None),
    ],
)
def test_freshness_query_compares_with_the_source_in_utc(
    newest: object, fragment: str | None
) -> None:
    mapping, fresh = _spec(
        "freshness:modified_at", conflict={"rule": "last_writer_wins", "column": "modified"}
    )
    planned = plan_check(fresh, mapping, TableFacts(source_newest=newest))  # type: ignore[arg-type]
    assert isinstance(planned, PlannedCheck)
    assert planned.kwargs == {"column": "lag_seconds", "max_value": 900}
    assert 'max("modified_at")' in (planned.query or "")
    if fragment:
        assert fragment in (planned.query or "")
    assert isinstance(plan_check(fresh, mapping, TableFacts()), SkippedCheck)


def test_the_shipped_expectations_folder_loads() -> None:
    folder = Path(__file__).resolve().parents[2] / "include" / "expectations"
    config = load_quality_config(folder)
    assert config.thresholds.freshness_seconds == 900
    assert config.thresholds.dead_letters_max == 0
