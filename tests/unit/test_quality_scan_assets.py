"""Which asset GE reads each planned check through: a table, a view or a one-row query.

GE learns a query asset's columns by running its query whole (psycopg2 holds every row), so
checks that read a table's rows must be table assets: the table itself when GE can name it
and all its columns, else a per-run view in ``mps_sync`` (pure: no database, no GE).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.gx_runner import stale_views, view_name, view_queries
from mysql_pg_sync.quality.plan import (
    PlannedCheck,
    ReconcileFacts,
    TableFacts,
    column_aliases,
    plain_relation,
    plan_check,
)


def _mapping(target: str, *columns: tuple[str, str]) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy." + target.split(".")[1],
            "target": target,
            "key": [columns[0][0]],
            "columns": [
                {"name": name, "column_type": ctype, "nullable": False} for name, ctype in columns
            ],
        }
    )


def _planned(mapping: TableMapping) -> dict[str, PlannedCheck]:
    facts = TableFacts(
        source_rows=1,
        state_tables=frozenset({"reconcile_tables", "conflicts", "dead_letters"}),
        reconcile=ReconcileFacts(1, "in_sync", age_seconds=60.0),
    )
    specs = derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
    out = {}
    for spec in specs:
        planned = plan_check(spec, mapping, facts)
        assert isinstance(planned, PlannedCheck), planned
        out[spec.check_id] = planned
    return out


def test_a_table_with_plain_names_is_read_as_a_table_asset() -> None:
    mapping = _mapping("app.orders", ("id", "int(11)"), ("state", "enum('a','b')"))
    assert plain_relation(mapping, column_aliases(mapping)) == ("app", "orders")
    planned = _planned(mapping)
    for check_id in ("key_unique:id", "enum_values:state", "row_count_parity"):
        assert planned[check_id].relation == ("app", "orders")
        assert planned[check_id].scans
    for check_id in ("reconcile_drift", "dead_letters"):  # one row each: query assets
        assert planned[check_id].relation is None
        assert not planned[check_id].scans
    assert view_queries(list(planned.values())) == {}


def test_names_ge_folds_or_cannot_quote_need_a_view_and_so_do_set_members() -> None:
    for mapping in (
        _mapping("public.Group", ("id", "int(11)")),  # table name GE lower-cases
        _mapping("public.items", ("ID", "int(11)")),  # column aliased to "id"
        _mapping("public.items", ("id", "int(11)"), ("first name", "varchar(9)")),
        _mapping("Sales.items", ("id", "int(11)")),
    ):
        assert plain_relation(mapping, column_aliases(mapping)) is None, mapping.target
    mapping = _mapping("public.Group", ("ID", "int(11)"), ("Tags", "set('a','b')"))
    planned = _planned(mapping)
    views = view_queries(list(planned.values()))
    # one view per asset: the aliased table, and the SET column's members
    assert views == {
        "public.Group": planned["key_unique:ID"].query,
        "public.Group:members:Tags": planned["set_values:Tags"].query,
    }
    assert 'AS "id"' in views["public.Group"]


def test_views_are_named_per_run_and_only_a_dead_runs_are_stale() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    name = view_name(now, "0123abcd", 7)
    assert name == "gx_20261127120000_0123abcd_0007"
    assert len(name) <= 63
    old = view_name(now - timedelta(days=1, minutes=1), "0123abcd", 0)
    recent = view_name(now - timedelta(hours=23), "89abcdef", 0)
    # a user's own view in mps_sync is never touched, whatever its name looks like
    assert stale_views([name, old, recent, "gx_mine", "reconcile_summary"], now) == [old]


def test_a_table_with_columns_no_mapping_syncs_is_read_through_a_view() -> None:
    """A table asset would show GE the unmapped columns too (a custom
    ``expect_table_columns_to_match_set`` would change its verdict)."""
    mapping = _mapping("app.orders", ("id", "int(11)"))
    (spec,) = [
        s
        for s in derive_checks(MappingSet((mapping,)), load_quality_config("/nonexistent"))
        if s.check == "key_unique"
    ]
    planned = plan_check(spec, mapping, TableFacts(target_unmapped=("legacy_note",)))
    assert isinstance(planned, PlannedCheck)
    assert planned.relation is None
    assert view_queries([planned]) == {"app.orders": 'SELECT "id" AS "id" FROM "app"."orders"'}
