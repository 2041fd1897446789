"""Mappings -> comparisons, repair planning, reports and dialect fragments: no servers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

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
from mysql_pg_sync.reconcile.repair import Images, check_limit, plan_repairs
from mysql_pg_sync.reconcile.report import run_status, to_html, to_json, write_reports


def _mapping(*more_columns: dict[str, str], **extra: object) -> TableMapping:
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
                *more_columns,
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
    # not compared, still copied by a repair: ignoring a column is not excluding it
    assert table.image_columns["doc"] == "doc"
    assert "secret" not in table.image_columns
    assert table.authority == "postgres"
    assert table.conflict.rule == "last_writer_wins"
    assert table.conflict.column is not None
    assert table.conflict.column.name == "updated_at"


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


T1 = dt.datetime(2026, 1, 1, 0, 0, 0, 1)
T2 = dt.datetime(2026, 1, 1, 0, 0, 0, 2)


def _ruled(rule: str, column: str, authority: str) -> ReconcileTable:
    return table_from_mapping(
        _mapping(
            {"name": "version", "column_type": "int(10) unsigned"},
            reconcile={"authoritative": authority},
            conflict={"rule": rule, "column": column},
        )
    )


Pairs = dict[int, tuple[dict[str, Any] | None, dict[str, Any] | None]]


def _images(rows: Pairs) -> Images:
    return Images(
        {(str(k),): m for k, (m, _) in rows.items() if m is not None},
        {(str(k),): p for k, (_, p) in rows.items() if p is not None},
    )


def _diffs(rows: Pairs) -> list[RowDiff]:
    drift = {(True, True): "different", (True, False): "missing", (False, True): "extra"}
    return [
        _diff(
            k,
            drift[(m is not None, p is not None)],
            {} if m is not None else None,
            {} if p is not None else None,
        )
        for k, (m, p) in rows.items()
    ]


def test_last_writer_wins_decides_rows_on_both_sides_like_the_applier() -> None:
    """The applier gives ties and NULL against NULL to MySQL, and a NULL loses to a value; a
    repair planned for PostgreSQL's row there is skipped by the applier and recorded failed
    every night."""
    table = _ruled("last_writer_wins", "updated_at", "postgres")
    rows: Pairs = {
        3: ({"updated_at": T1}, {"updated_at": T2}),  # PostgreSQL is later
        4: ({"updated_at": T2}, {"updated_at": T1}),
        5: ({"updated_at": T1}, {"updated_at": T1}),  # tie: MySQL, as in the applier
        6: ({"updated_at": None}, {"updated_at": None}),  # NULL vs NULL: a tie too
        7: ({"updated_at": None}, {"updated_at": T1}),  # a NULL loses
        8: (None, {"updated_at": T2}),  # one side only: the authoritative side
    }
    repairs = plan_repairs(table, _diffs(rows), _images(rows))
    assert [(r.write_to, r.action, r.decided_by) for r in repairs] == [
        ("mysql", "upsert", "last_writer_wins:updated_at"),
        ("postgres", "upsert", "last_writer_wins:updated_at"),
        ("postgres", "upsert", "last_writer_wins:updated_at"),
        ("postgres", "upsert", "last_writer_wins:updated_at"),
        ("mysql", "upsert", "last_writer_wins:updated_at"),
        ("mysql", "upsert", "postgres"),
    ]
    assert repairs[2].image == {"updated_at": T1}  # the winner's (MySQL's) row


def test_the_version_rule_decides_by_the_version_column() -> None:
    # 10 > 9 as numbers, though '9' > '10' as text; the authoritative side does not decide
    table = _ruled("version", "version", "postgres")
    rows: Pairs = {
        1: ({"version": 10}, {"version": 9}),
        2: ({"version": 9}, {"version": 10}),
        3: ({"version": 9}, {"version": 9}),  # a tie: MySQL
    }
    repairs = plan_repairs(table, _diffs(rows), _images(rows))
    assert [(r.write_to, r.decided_by) for r in repairs] == [
        ("postgres", "version:version"),
        ("mysql", "version:version"),
        ("postgres", "version:version"),
    ]


@pytest.mark.parametrize("rule", ["last_writer_wins", "version"])
@pytest.mark.parametrize("authority", ["mysql", "postgres"])
def test_every_planned_repair_is_one_the_applier_applies(rule: str, authority: str) -> None:
    """Cross-check with the applier's decision for the event a repair becomes: an update
    without a before-image that meets the target's row."""
    from mysql_pg_sync.cdc.compare import canonical
    from mysql_pg_sync.cdc.conflicts import Observation, decide

    column = "updated_at" if rule == "last_writer_wins" else "version"
    values: list[Any] = [None, T1, T2] if rule == "last_writer_wins" else [None, 1, 2, 10]
    table = _ruled(rule, column, authority)
    assert table.conflict.column is not None
    kind = table.conflict.column.kind
    pairs = [(a, b) for a in values for b in values]
    rows: Pairs = {i: ({column: a}, {column: b}) for i, (a, b) in enumerate(pairs)}
    for repair, (a, b) in zip(plan_repairs(table, _diffs(rows), _images(rows)), pairs, strict=True):
        to_pg = repair.write_to == "postgres"
        seen = Observation(
            incoming_side="mysql" if to_pg else "postgres",
            op="u",
            exists=True,
            same_as_after=False,
            has_before=False,
            same_as_before=False,
            incoming_rule_value=canonical(kind, a if to_pg else b),
            target_rule_value=canonical(kind, b if to_pg else a),
        )
        assert decide(rule, seen).action == "apply", (a, b, repair.write_to)


def test_the_repair_limit_is_per_run_and_names_table_count_and_fix() -> None:
    check_limit("d.t", 3, 3)
    with pytest.raises(RepairLimitExceeded, match=r"d\.t: 3 repairs needed, more than max_rep"):
        check_limit("d.t", 3, 2)
    check_limit("d.t", 1, 3, already=2, run_id=7)
    with pytest.raises(
        RepairLimitExceeded,
        match=r"d\.t: 2 repairs needed on top of the 2 repairs run 7 already made or planned, "
        r"more than max_repairs=3 \(a limit per run, all tables together\); nothing was "
        r"repaired in this table.*re-run with a higher max_repairs",
    ):
        check_limit("d.t", 2, 3, already=2, run_id=7)


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
    # a table whose task died never stored a result: the run did not succeed
    assert run_status([{"status": "in_sync"}, {"status": "running"}]) == "failed"


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


def test_a_repair_image_carries_the_ignored_columns_under_the_winners_names() -> None:
    from mysql_pg_sync.reconcile.applier import repair_event
    from mysql_pg_sync.reconcile.model import CopiedColumn
    from mysql_pg_sync.reconcile.repair import Repair

    cols = (CompareColumn("id", "pg_id", "int"),)
    table = ReconcileTable(
        "d.t", "d", "t", "s", "pt", cols, ("id",), copied=(CopiedColumn("note", "pg_note"),)
    )
    diff = _diff(1, "extra", None, {"id": "1"})
    from_pg = Repair(("1",), (1,), "upsert", "mysql", "postgres", diff, {"id": 1, "note": "n"})
    assert repair_event(table, from_pg).after == {"pg_id": 1, "pg_note": "n"}
