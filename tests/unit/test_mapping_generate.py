"""Generator logic without a server: defaults, key choice, merge keeping hand edits, drift."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mysql_pg_sync.mapping.generate import (
    GENERATED_REASON,
    GEOMETRY_REASON,
    NO_KEY_REASON,
    choose_key,
    generate,
)
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveIndex, LiveTable
from mysql_pg_sync.mapping.models import TableMapping


def column(name: str, column_type: str, nullable: bool = True, extra: str = "") -> LiveColumn:
    return LiveColumn(name, column_type, nullable, None, extra)


def orders(status_type: str = "enum('new','paid')") -> LiveTable:
    return LiveTable(
        "legacy",
        "orders",
        columns=[
            column("id", "int(10) unsigned", False, "auto_increment"),
            column("status", status_type, False),
            column("total", "decimal(12,2)"),
            column("shape", "geometry"),
            column("total_x2", "decimal(13,2)", extra="VIRTUAL GENERATED"),
        ],
        indexes=[
            LiveIndex("PRIMARY", ("id",), True, False),
            LiveIndex("ix_status", ("status",), False, False),
        ],
    )


def test_fresh_entry_defaults_validate() -> None:
    entries, drift = generate([orders()], {}, ["legacy"])
    entry = entries["legacy.orders"]
    m = TableMapping.model_validate(entry)
    assert m.target.schema == "public"
    assert m.key == ("id",)
    assert m.column("id").auto_increment
    assert m.column("status").pg_type == "orders_status"
    assert m.column("shape").exclude
    assert m.column("total_x2").exclude
    assert m.backfill.key_hint == "integer"
    assert [i.name for i in m.indexes] == ["ix_status"]
    assert drift.new_tables == ["legacy.orders"]
    assert drift.excluded == [
        "legacy.orders.shape: " + GEOMETRY_REASON,
        "legacy.orders.total_x2: " + GENERATED_REASON,
    ]
    assert "warning: column excluded: legacy.orders.shape: geometry" in "\n".join(drift.lines())


def test_key_choice_primary_then_unique_not_null_then_none() -> None:
    table = LiveTable(
        "d",
        "t",
        columns=[column("a", "int", False), column("b", "int", True), column("c", "int", False)],
        indexes=[
            LiveIndex("uq_b", ("b",), True, False),
            LiveIndex("uq_ac", ("a", "c"), True, False),
        ],
    )
    assert choose_key(table) == ("a", "c")
    table.indexes.append(LiveIndex("PRIMARY", ("c",), True, False))
    assert choose_key(table) == ("c",)
    keyless = LiveTable(
        "d", "k", columns=[column("a", "int")], indexes=[LiveIndex("uq", ("a",), True, False)]
    )
    assert choose_key(keyless) is None
    entries, _ = generate([keyless], {}, ["d"])
    assert entries["d.k"]["unsupported"] == (
        "no primary key, and unique key uq has NULLable column(s) a (several rows may hold NULL "
        "there), so rows cannot be matched; make them NOT NULL or add a primary key in MySQL and "
        "run `mappings generate` again"
    )
    assert entries["d.k"]["enabled"] is False
    bare = LiveTable("d", "b", columns=[column("a", "int")])
    assert generate([bare], {}, ["d"])[0]["d.b"]["unsupported"] == NO_KEY_REASON
    # the table gained a key: the generator's own reason goes, the table stays disabled
    keyless.columns[0] = column("a", "int", False)
    merged, _ = generate([keyless], entries, ["d"])
    assert "unsupported" not in merged["d.k"]
    assert merged["d.k"]["key"] == ["a"]


def test_generated_key_hint_is_what_the_planner_picks_and_validates() -> None:
    """A tinyint(1) key is a boolean to the converters (keyset chunks), a year key an integer:
    the generated hint must agree, or the mapping validation refuses the generated file."""
    tables = [
        LiveTable(
            "d", name, [column("k", ctype, False)], [LiveIndex("PRIMARY", ("k",), True, False)]
        )
        for name, ctype in (("flags", "tinyint(1)"), ("years", "year(4)"), ("ids", "bigint(20)"))
    ]
    entries, _ = generate(tables, {}, ["d"])
    hints = {n: TableMapping.model_validate(e).backfill.key_hint for n, e in entries.items()}
    assert hints == {"d.flags": "keyset", "d.years": "integer", "d.ids": "integer"}


def test_rerun_keeps_hand_edits_and_reports_drift() -> None:
    first, _ = generate([orders()], {}, ["legacy"])
    edited = first["legacy.orders"]
    edited["direction"] = "mysql_to_pg"
    edited["conflict"] = {"rule": "version", "column": "total"}
    edited["columns"][2]["pg_name"] = "amount"
    edited["columns"][2]["pg_type"] = "numeric(14,2)"  # a hand override
    edited["columns"][3]["exclude"] = False
    live = orders("enum('new','paid','void')")
    live.columns.remove(next(c for c in live.columns if c.name == "total_x2"))
    live.columns.append(column("note", "text"))
    live.columns[2] = column("total", "decimal(14,2)")
    merged, drift = generate(
        [live], {"legacy.orders": edited, "legacy.gone": {"source": "legacy.gone"}}, ["legacy"]
    )
    m = TableMapping.model_validate(merged["legacy.orders"])
    assert m.direction == "mysql_to_pg"
    assert m.conflict.rule == "version"
    assert m.column("total").pg_name == "amount"
    assert m.column("total").pg_type == "numeric(14,2)"
    assert m.column("total").column_type == "decimal(14,2)"
    assert not m.column("shape").exclude
    assert m.column("status").values == ("new", "paid", "void")
    assert m.column("status").pg_type == "orders_status"
    assert drift.new_columns == ["legacy.orders.note text"]
    assert drift.removed_columns == ["legacy.orders.total_x2"]
    assert any(
        "status enum('new','paid') -> enum('new','paid','void')" in r for r in drift.retyped_columns
    )
    assert any("total decimal(12,2) -> decimal(14,2)" in r for r in drift.kept_overrides)
    assert drift.removed_tables == ["legacy.gone"]
    assert drift.has_drift


def test_default_pg_type_follows_a_retype_when_not_overridden() -> None:
    first, _ = generate([orders()], {}, ["legacy"])
    live = orders()
    live.columns[2] = column("total", "bigint(20) unsigned")
    merged, drift = generate([live], first, ["legacy"])
    m = TableMapping.model_validate(merged["legacy.orders"])
    assert m.column("total").pg_type == "numeric(20,0)"
    assert drift.kept_overrides == []


def test_several_databases_map_to_schemas_named_after_them() -> None:
    other = LiveTable(
        "shop",
        "orders",
        columns=[column("id", "int", False)],
        indexes=[LiveIndex("PRIMARY", ("id",), True, False)],
    )
    entries, _ = generate([orders(), other], {}, ["legacy", "shop"])
    assert entries["legacy.orders"]["target"] == "legacy.orders"
    assert entries["shop.orders"]["target"] == "shop.orders"


def test_generated_means_virtual_or_stored_not_mysql8_default_generated() -> None:
    assert column("a", "int", extra="VIRTUAL GENERATED").generated
    assert column("a", "int", extra="STORED GENERATED").generated
    assert column("a", "int", extra="PERSISTENT GENERATED").generated
    assert not column(
        "a", "timestamp", extra="DEFAULT_GENERATED on update CURRENT_TIMESTAMP"
    ).generated


def test_the_products_own_signal_table_is_never_mapped() -> None:
    signal = LiveTable(
        "legacy",
        "mps_debezium_signal",
        columns=[column("id", "varchar(64)", False), column("type", "varchar(32)", False)],
        indexes=[LiveIndex("PRIMARY", ("id",), True, False)],
    )
    entries, drift = generate([orders(), signal], {}, ["legacy"])
    assert set(entries) == {"legacy.orders"}
    assert drift.new_tables == ["legacy.orders"]


def test_generated_columns_are_marked_excluded_and_copied_one_way_only_by_hand() -> None:
    entries, _ = generate([orders()], {}, ["legacy"])
    entry = entries["legacy.orders"]
    total = next(c for c in entry["columns"] if c["name"] == "total_x2")
    assert (total["generated"], total["exclude"]) == (True, True)
    assert "direction: mysql_to_pg" in total["exclude_reason"]
    total["exclude"] = False  # copied to PostgreSQL; written back, MySQL would refuse it
    with pytest.raises(ValidationError, match="column 'total_x2' is generated in MySQL"):
        TableMapping.model_validate(entry)
    one_way = {**entry, "direction": "mysql_to_pg"}
    assert not TableMapping.model_validate(one_way).column("total_x2").exclude
    repaired_in_mysql = {**one_way, "reconcile": {"authoritative": "postgres"}}
    with pytest.raises(ValidationError, match="no repair writes MySQL"):
        TableMapping.model_validate(repaired_in_mysql)
    merged, _ = generate([orders()], {"legacy.orders": one_way}, ["legacy"])
    assert not TableMapping.model_validate(merged["legacy.orders"]).column("total_x2").exclude


def test_a_column_that_becomes_generated_is_excluded_and_one_that_stops_syncs() -> None:
    first, _ = generate([orders()], {}, ["legacy"])
    live = orders()
    live.columns[2] = column("total", "decimal(12,2)", extra="STORED GENERATED")
    live.columns[4] = column("total_x2", "decimal(13,2)")
    merged, drift = generate([live], first, ["legacy"])
    m = TableMapping.model_validate(merged["legacy.orders"])
    assert (m.column("total").generated, m.column("total").exclude) == (True, True)
    assert (m.column("total_x2").generated, m.column("total_x2").exclude) == (False, False)
    assert drift.retyped_columns == ["legacy.orders.total is generated now (excluded)"]
    # copied one way, a generated column may stay synced: the hand edit is kept
    one_way = {**first["legacy.orders"], "direction": "mysql_to_pg"}
    merged, _ = generate([live], {"legacy.orders": one_way}, ["legacy"])
    assert not TableMapping.model_validate(merged["legacy.orders"]).column("total").exclude


def test_a_character_set_other_than_utf8mb4_is_recorded() -> None:
    table = LiveTable(
        "legacy",
        "t",
        columns=[
            LiveColumn("id", "int(11)", False, None, ""),
            LiveColumn("l1", "varchar(10)", True, None, "", "latin1"),
            LiveColumn("u4", "text", True, None, "", "utf8mb4"),
            LiveColumn("raw", "blob", True, None, "", "binary"),
        ],
        indexes=[LiveIndex("PRIMARY", ("id",), True, False)],
    )
    entries, _ = generate([table], {}, ["legacy"])
    charsets = {c["name"]: c.get("charset") for c in entries["legacy.t"]["columns"]}
    assert charsets == {"id": None, "l1": "latin1", "u4": None, "raw": None}
    table.columns[1] = LiveColumn("l1", "varchar(10)", True, None, "", "utf8mb4")  # converted
    merged, _ = generate([table], entries, ["legacy"])
    assert "charset" not in merged["legacy.t"]["columns"][1]
