"""Mappings -> comparisons, repair planning, reports and dialect fragments: no servers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mysql_pg_sync import dialects
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.diff import CanonicalRow, RowDiff
from mysql_pg_sync.reconcile.errors import ReconcileError, RepairLimitExceeded
from mysql_pg_sync.reconcile.model import (
    CompareColumn,
    ReconcileTable,
    canonical_kind,
    table_from_mapping,
)
from mysql_pg_sync.reconcile.repair import check_limit, plan_repairs
from mysql_pg_sync.reconcile.report import run_status, to_html, to_json, write_reports


def _mapping(**extra: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "legacy.orders",
            "target": "public.orders",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20) unsigned"},
                {"name": "total", "column_type": "decimal(12,2)"},
                {"name": "paid", "column_type": "tinyint(1)"},
                {"name": "weight", "column_type": "double"},
                {"name": "ratio", "column_type": "float"},
                {"name": "code", "column_type": "char(3)"},
                {"name": "tags", "column_type": "set('a','b')"},
                {"name": "doc", "column_type": "json"},
                {"name": "updated_at", "column_type": "datetime(6)"},
                {"name": "secret", "column_type": "varchar(10)", "exclude": True},
            ],
            **extra,
        }
    )


def test_a_mapping_becomes_a_comparison() -> None:
    table = table_from_mapping(_mapping(reconcile={"double_digits": 17, "float_digits": 5}))
    kinds = {c.mysql_name: (c.kind, c.scale, c.digits) for c in table.columns}
    assert kinds == {
        "id": ("int", 0, 0),
        "total": ("decimal", 2, 0),
        "paid": ("bool", 0, 0),
        "weight": ("float", 0, 17),
        "ratio": ("float", 0, 5),
        "code": ("char", 0, 0),
        "tags": ("set", 0, 0),
        "doc": ("json", 0, 0),
        "updated_at": ("datetime", 0, 0),
    }
    assert table.column("tags").members == ("a", "b")
    assert table.ordinal == "integer"
    assert [c.mysql_name for c in table.json_columns] == ["doc"]
    assert "doc" not in [c.mysql_name for c in table.hashed_columns]


def test_ignored_columns_and_last_writer_wins() -> None:
    table = table_from_mapping(
        _mapping(
            reconcile={"ignore_columns": ["doc"], "authoritative": "postgres"},
            conflict={"rule": "last_writer_wins", "column": "updated_at"},
        )
    )
    assert "doc" not in [c.mysql_name for c in table.columns]
    assert table.authority == "postgres"
    assert table.lww_column == "updated_at"


def test_a_key_column_left_out_of_the_comparison_is_refused() -> None:
    with pytest.raises(ReconcileError, match="key column 'id' is excluded or ignored"):
        table_from_mapping(_mapping(reconcile={"ignore_columns": ["id"]}))
    with pytest.raises(ReconcileError, match="key column 'x' is excluded from the comparison"):
        ReconcileTable("t", "d", "t", "s", "t", (CompareColumn("y", "y", "int"),), ("x",))


def test_types_without_a_canonical_form_are_refused_with_the_fix() -> None:
    with pytest.raises(ReconcileError, match=r"reconcile\.ignore_columns"):
        canonical_kind("geometry", "bytea")


def test_string_keys_use_the_hash_ordinal() -> None:
    cols = (CompareColumn("code", "code", "text"), CompareColumn("n", "n", "int"))
    assert ReconcileTable("t", "d", "t", "s", "t", cols, ("code",)).ordinal == "hash"
    assert ReconcileTable("t", "d", "t", "s", "t", cols, ("n", "code")).ordinal == "hash"


def _diff(key: int, drift: str, left: dict | None, right: dict | None) -> RowDiff:
    return RowDiff(
        (str(key),),
        drift,  # type: ignore[arg-type]
        ("x",) if drift == "different" else (),
        CanonicalRow((key,), left) if left is not None else None,
        CanonicalRow((key,), right) if right is not None else None,
    )


TS = "2026-01-01 00:00:00.000001"
TS_LATER = "2026-01-01 00:00:00.000002"


def test_repairs_follow_the_authoritative_side() -> None:
    cols = (CompareColumn("id", "id", "int"), CompareColumn("ts", "ts", "datetime"))
    table = ReconcileTable("d.t", "d", "t", "s", "t", cols, ("id",), authority="mysql")
    diffs = [
        _diff(1, "missing", {"ts": TS}, None),
        _diff(2, "extra", None, {"ts": TS}),
        _diff(3, "different", {"ts": TS}, {"ts": TS_LATER}),
    ]
    plan = [(r.key, r.action, r.write_to, r.decided_by) for r in plan_repairs(table, diffs)]
    assert plan == [
        (("1",), "upsert", "postgres", "mysql"),
        (("2",), "delete", "postgres", "mysql"),
        (("3",), "upsert", "postgres", "mysql"),
    ]


def test_last_writer_wins_decides_rows_on_both_sides() -> None:
    cols = (CompareColumn("id", "id", "int"), CompareColumn("ts", "ts", "datetime"))
    table = ReconcileTable(
        "d.t", "d", "t", "s", "t", cols, ("id",), authority="mysql", lww_column="ts"
    )
    diffs = [
        _diff(3, "different", {"ts": TS}, {"ts": TS_LATER}),  # PostgreSQL is later
        _diff(4, "different", {"ts": TS_LATER}, {"ts": TS}),
        _diff(5, "different", {"ts": TS}, {"ts": TS}),  # tie: the authoritative side
        _diff(6, "extra", None, {"ts": TS_LATER}),  # one side only: the authoritative side
    ]
    plan = [(r.write_to, r.action, r.decided_by) for r in plan_repairs(table, diffs)]
    assert plan == [
        ("mysql", "upsert", "last_writer_wins:ts"),
        ("postgres", "upsert", "last_writer_wins:ts"),
        ("postgres", "upsert", "mysql"),
        ("postgres", "delete", "mysql"),
    ]


def test_the_repair_limit_names_table_count_and_fix() -> None:
    cols = (CompareColumn("id", "id", "int"),)
    table = ReconcileTable("d.t", "d", "t", "s", "t", cols, ("id",))
    repairs = plan_repairs(table, [_diff(i, "missing", {}, None) for i in range(3)])
    check_limit("d.t", repairs, 3)
    with pytest.raises(RepairLimitExceeded, match=r"d\.t: 3 repairs needed.*max_repairs=2"):
        check_limit("d.t", repairs, 2)


RUN = {
    "run_id": 7,
    "status": "drift",
    "params": {"dry_run": True},
    "tables": [
        {
            "table": "legacy.orders",
            "target": "public.orders",
            "status": "drift",
            "drift": {"missing": 1, "extra": 0, "different": 1},
            "examples": {"missing": [["17"]], "extra": [], "different": [["<b>"]]},
            "different_columns": {"amount": 1},
            "repairs": {"dry_run": 2},
        },
        {"table": "legacy.broken", "status": "error", "error": "no column note"},
    ],
}


def test_reports_are_self_contained_and_escaped(tmp_path: Path) -> None:
    page = to_html(RUN)
    assert "&lt;b&gt;" in page
    assert "<b>" not in page.replace("<b>missing</b>", "").replace("<b>different</b>", "")
    assert "http" not in page  # no CDN, no external asset
    assert "no column note" in page
    assert json.loads(to_json(RUN))["tables"][0]["different_columns"] == {"amount": 1}
    json_path, html_path = write_reports(RUN, tmp_path)
    assert json_path.name == "reconcile-7.json"
    assert html_path.read_text() == page


def test_run_status() -> None:
    assert run_status([{"status": "in_sync"}, {"status": "repaired"}]) == "succeeded"
    assert run_status([{"status": "in_sync"}, {"status": "repair_refused"}]) == "drift"
    assert run_status([{"status": "drift"}, {"status": "error"}]) == "failed"


@pytest.mark.parametrize("side", ["mysql", "postgres"])
@pytest.mark.parametrize(
    "kind",
    [
        "int",
        "bool",
        "bit",
        "decimal",
        "float",
        "date",
        "datetime",
        "timestamp",
        "time",
        "char",
        "text",
        "enum",
        "set",
        "json",
        "binary",
    ],
)
def test_both_dialects_have_a_canonical_text_for_every_kind(side: str, kind: str) -> None:
    dialect = dialects.for_side(side)
    sql = dialect.canonical_text_sql("c", kind, scale=2, pg_type="text[]", members=("a", "b"))
    assert "c" in sql
    with pytest.raises(ValueError, match="no canonical text"):
        dialect.canonical_text_sql("c", "geometry")


def test_row_hash_marks_null_and_prefixes_string_lengths() -> None:
    for side in ("mysql", "postgres"):
        sql = dialects.for_side(side).row_hash_sql(["a", "b"], [True, False]).lower()
        assert "length(a)" in sql
        assert "length(b)" not in sql
        assert "'n'" in sql
        assert "'|'" in sql


def test_a_repair_becomes_the_winning_sides_change_event() -> None:
    from mysql_pg_sync.reconcile.applier import repair_event
    from mysql_pg_sync.reconcile.repair import Repair

    cols = (CompareColumn("id", "pg_id", "int"), CompareColumn("name", "pg_name", "text"))
    table = ReconcileTable("d.t", "d", "t", "s", "pt", cols, ("id",))
    diff = _diff(1, "different", {"id": "1"}, {"id": "1"})
    from_pg = Repair(("1",), (1,), "upsert", "mysql", "postgres", diff, {"id": 1, "name": "x"})
    event = repair_event(table, from_pg)
    assert (event.side, event.namespace, event.table, event.op) == ("postgres", "s", "pt", "u")
    assert event.key == {"pg_id": 1}
    assert event.after == {"pg_id": 1, "pg_name": "x"}
    delete = repair_event(table, Repair(("1",), (1,), "delete", "postgres", "mysql", diff))
    assert (delete.side, delete.namespace, delete.table, delete.op) == ("mysql", "d", "t", "d")
    assert delete.after is None
    assert delete.key == {"id": 1}
