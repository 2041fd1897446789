"""``postgres_only_columns``: a table's PostgreSQL columns that only PostgreSQL has, on purpose.
The mapping validates the list, `mappings generate` keeps it, the stream's drift check and the
backfill/ddl target check take it into account."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from mysql_pg_sync.backfill.target import UniqueIndex, incompatibilities
from mysql_pg_sync.cdc.apply import Applier, BatchResult, plan_for
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.generate import generate
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveIndex, LiveTable
from mysql_pg_sync.mapping.models import (
    MappingSet,
    TableMapping,
    dump_yaml_entry,
    load_mappings,
)


def _entry(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "source": "legacy.invoices",
        "target": "public.invoices",
        "key": ["id"],
        "direction": "both",
        "columns": [
            {"name": "id", "column_type": "int(11)", "nullable": False},
            {"name": "note", "column_type": "varchar(20)", "pg_name": "memo"},
            {"name": "shape", "column_type": "geometry", "exclude": True},
        ],
        "postgres_only_columns": ["audit_note"],
    }
    entry.update(changes)
    return entry


def _mapping(**changes: Any) -> TableMapping:
    return TableMapping.model_validate(_entry(**changes))


# --- the model -----------------------------------------------------------------------------


def test_the_list_loads_and_round_trips(tmp_path: Path) -> None:
    # `note` is MySQL's name of the mapped column `memo`: PostgreSQL's own `note` is another
    (tmp_path / "invoices.yaml").write_text(
        yaml.safe_dump(_entry(postgres_only_columns=["audit_note", "note"]))
    )
    m = load_mappings(tmp_path).by_source("legacy.invoices")
    assert m.postgres_only_columns == ("audit_note", "note")
    assert [c.pg_name for c in m.synced_columns()] == ["id", "memo"]  # not synced
    dumped = dump_yaml_entry(m)
    assert dumped["postgres_only_columns"] == ["audit_note", "note"]
    assert TableMapping.model_validate(dumped) == m
    assert "postgres_only_columns" not in dump_yaml_entry(_mapping(postgres_only_columns=[]))


@pytest.mark.parametrize(
    ("listed", "expected"),
    [
        pytest.param(
            ["audit_note", "memo"],
            "postgres_only_columns: 'memo' is the PostgreSQL column of the mapped MySQL column "
            "'note', so it is synced, not PostgreSQL-only; remove it from postgres_only_columns "
            "(or, if PostgreSQL's column of that name is its own, give 'note' another pg_name)",
            id="a-mapped-column",
        ),
        pytest.param(
            ["id"],
            "postgres_only_columns: 'id' is the PostgreSQL column of the mapped MySQL column 'id'",
            id="the-key",
        ),
        pytest.param(
            ["shape"],
            "postgres_only_columns: 'shape' is the pg_name of the excluded column 'shape', so the "
            "mapping knows it already; remove it from postgres_only_columns",
            id="an-excluded-column",
        ),
        pytest.param(
            ["audit_note", "audit_note"],
            "postgres_only_columns: 'audit_note' appears twice",
            id="twice",
        ),
        pytest.param([" "], "postgres_only_columns: an empty name", id="empty"),
        pytest.param(
            "audit_note", "field postgres_only_columns: Input should be a valid tuple", id="no-list"
        ),
    ],
)
def test_a_bad_list_fails_naming_file_table_and_column(
    tmp_path: Path, listed: Any, expected: str
) -> None:
    path = tmp_path / "invoices.yaml"
    path.write_text(yaml.safe_dump(_entry(postgres_only_columns=listed)))
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    assert f"{path}: table legacy.invoices: {expected}" in str(err.value)


# --- mappings generate ---------------------------------------------------------------------


def _live(*extra: str) -> LiveTable:
    columns = [
        LiveColumn("id", "int(11)", False, None, ""),
        LiveColumn("note", "varchar(20)", True, None, ""),
    ]
    columns += [LiveColumn(name, "text", True, None, "") for name in extra]
    return LiveTable("legacy", "invoices", columns, [LiveIndex("PRIMARY", ("id",), True, False)])


def _existing() -> dict[str, Any]:
    entry = dump_yaml_entry(_mapping(postgres_only_columns=["audit_note", "legacy_ref"]))
    entry["columns"] = [c for c in entry["columns"] if c["name"] != "shape"]
    return {"legacy.invoices": entry}


def test_generate_keeps_the_list() -> None:
    entries, drift = generate([_live()], _existing(), ["legacy"])
    entry = entries["legacy.invoices"]
    assert entry["postgres_only_columns"] == ["audit_note", "legacy_ref"]
    assert TableMapping.model_validate(entry).postgres_only_columns == ("audit_note", "legacy_ref")
    assert not drift.has_drift
    assert drift.lines() == []


def test_generate_maps_a_listed_column_mysql_gained_and_takes_it_off_the_list() -> None:
    entries, drift = generate([_live("audit_note")], _existing(), ["legacy"])
    entry = entries["legacy.invoices"]
    assert entry["postgres_only_columns"] == ["legacy_ref"]
    m = TableMapping.model_validate(entry)  # the list and the new column no longer clash
    assert m.column("audit_note").pg_name == "audit_note"
    assert drift.has_drift
    lines = "\n".join(drift.lines())
    assert "new column: legacy.invoices.audit_note text" in lines
    assert (
        "warning: a PostgreSQL-only column is in MySQL now too, so it is a column of the entry "
        "and no longer in postgres_only_columns; unless excluded it syncs both ways"
    ) in lines
    assert lines.endswith(": legacy.invoices.audit_note")

    entries, _ = generate([_live("audit_note", "legacy_ref")], _existing(), ["legacy"])
    assert "postgres_only_columns" not in entries["legacy.invoices"]  # an empty list: gone


# --- the stream's drift check --------------------------------------------------------------


def _event(*fields: str) -> ChangeEvent:
    return ChangeEvent(
        side="postgres",
        namespace="public",
        table="invoices",
        op="u",
        key={"id": 1},
        before=None,
        after=dict.fromkeys(fields),
        source_ts_ms=0,
        fields=fields,
    )


def _drift_of(mapping: TableMapping, event: ChangeEvent) -> tuple[BatchResult, Applier]:
    session: Any = SimpleNamespace(side="mysql", dialect=my)  # changes from PostgreSQL
    applier = Applier(session, MappingSet((mapping,)))
    plan = applier.plan("public.invoices")
    assert plan is not None
    result = BatchResult()
    applier._check_drift(plan, event, result)
    return result, applier


def test_the_stream_counts_no_drift_for_an_acknowledged_column(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="mysql_pg_sync.cdc.apply")
    acknowledged = _mapping()
    result, _ = _drift_of(acknowledged, _event("id", "memo", "audit_note"))
    assert result.drift == {}
    assert "mapping drift" not in caplog.text

    # another PostgreSQL-only column is still drift, named alone, with both ways out
    result, _ = _drift_of(acknowledged, _event("id", "memo", "audit_note", "surprise"))
    assert result.drift == {("legacy.invoices", "postgres"): ("surprise",)}
    assert "legacy.invoices has columns surprise on the postgres side" in caplog.text
    assert "to keep it PostgreSQL's own, list it under postgres_only_columns" in caplog.text

    # without the acknowledgment: drift, as before
    result, _ = _drift_of(_mapping(postgres_only_columns=[]), _event("id", "memo", "audit_note"))
    assert result.drift == {("legacy.invoices", "postgres"): ("audit_note",)}


def test_mysql_changes_do_not_treat_a_postgres_only_name_as_known() -> None:
    """A MySQL column of that name is new in MySQL: drift there, until generate maps it."""
    mapping = _mapping()
    assert "audit_note" in plan_for(mapping, "postgres", my).known_src
    assert "audit_note" not in plan_for(mapping, "mysql", my).known_src


# --- the backfill's and ddl's target check -------------------------------------------------

WANTED = {"id": "integer", "memo": "character varying(20)"}


def _problems(mapping: TableMapping, **extra: tuple[str, bool, bool]) -> list[str]:
    existing = {"id": ("integer", True, False), "memo": ("character varying(20)", False, False)}
    existing.update(extra)
    key = UniqueIndex("invoices_pkey", ("id",), primary=True)
    return incompatibilities(mapping, WANTED, existing, [key])


def test_the_target_check_takes_a_present_nullable_or_defaulted_column() -> None:
    assert _problems(_mapping(), audit_note=("text", False, False)) == []
    assert _problems(_mapping(), audit_note=("text", True, True)) == []


def test_a_not_null_postgres_only_column_without_default_is_refused_with_the_fix() -> None:
    (problem,) = _problems(_mapping(), audit_note=("text", True, False))
    assert problem == (
        "column 'audit_note' (text) is PostgreSQL-only (postgres_only_columns) but NOT NULL "
        "without a default, so neither the backfill's rows nor the stream's inserts from MySQL "
        'can fill it (give it a default: ALTER TABLE "public"."invoices" ALTER COLUMN '
        '"audit_note" SET DEFAULT <value>; or DROP NOT NULL)'
    )


def test_a_listed_column_postgresql_lacks_is_refused() -> None:
    (problem,) = _problems(_mapping())
    assert problem == (
        'column \'audit_note\' is listed in postgres_only_columns, but "public"."invoices" '
        "has no such column: fix its spelling, or remove it from postgres_only_columns (if the "
        "PostgreSQL app's migration that adds it has not run yet, run it first)"
    )


def test_a_reload_that_would_reset_postgres_only_columns_is_refused() -> None:
    """A reload empties the target and copies MySQL's rows: the PostgreSQL app's own column
    values went back to their defaults without a word."""
    from mysql_pg_sync.backfill.runner import BackfillError, refuse_reload_of_postgres_only_columns

    def table(name: str, **extra: Any) -> TableMapping:
        return TableMapping.model_validate(
            {
                "source": f"legacy.{name}",
                "target": f"public.{name}",
                "key": ["id"],
                "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
                **extra,
            }
        )

    plain, own = table("a"), table("b", postgres_only_columns=["audit_note"])
    refuse_reload_of_postgres_only_columns([plain])  # nothing to lose
    with pytest.raises(BackfillError) as refused:
        refuse_reload_of_postgres_only_columns([plain, own])
    assert "legacy.b (audit_note) would lose every value the PostgreSQL app wrote" in str(
        refused.value
    )
    assert "Nothing was done" in str(refused.value)
