"""Finalize's DDL and failure reporting, without servers: index names as ``ddl`` plans them,
NOT VALID foreign keys, and a summary that names the tables that were not finalized."""

from __future__ import annotations

import pytest

from mysql_pg_sync.backfill.finalize import deferred_sql
from mysql_pg_sync.backfill.report import build_summary, render_html
from mysql_pg_sync.backfill.runner import BackfillError, FinalizeOutcome, raise_if_unfinished
from mysql_pg_sync.ddl import DdlOptions, foreign_key_sql, plan_ddl
from mysql_pg_sync.mapping.models import MappingSet, TableMapping


def table(name: str, **extra: object) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)"},
                {"name": "roles", "column_type": "varchar(20)"},
                {"name": "pid", "column_type": "int(11)"},
            ],
            **extra,
        }
    )


USER = table("user", indexes=[{"name": "roles", "columns": ["roles"]}])
USER_ROLES = table("user_roles")
CHILD = table(
    "child",
    foreign_keys=[
        {
            "name": "fk_user",
            "columns": ["pid"],
            "references": "legacy.user",
            "referenced_columns": ["id"],
        }
    ],
)
ALL = MappingSet((USER, USER_ROLES, CHILD))


def test_finalize_creates_the_index_ddl_plans_not_one_named_like_a_table() -> None:
    indexes, _ = deferred_sql(USER, ALL)
    planned = [
        s
        for s in plan_ddl(ALL, options=DdlOptions(with_indexes=True))
        if s.startswith("CREATE INDEX")
    ]
    assert indexes == planned
    (statement,) = indexes
    assert 'INDEX IF NOT EXISTS "user_roles"' not in statement  # the table user_roles has it
    assert 'INDEX IF NOT EXISTS "user_roles_' in statement


def test_finalize_adds_foreign_keys_not_valid_then_validates_them() -> None:
    _, (fk,) = deferred_sql(CHILD, ALL)
    assert fk.name == "child_fk_user"
    assert fk.add.count("NOT VALID") == 1
    assert "DEFERRABLE INITIALLY DEFERRED NOT VALID;" in fk.add
    assert "duplicate_object" in fk.add  # a second finalize leaves it and validates again
    assert fk.validate == 'ALTER TABLE "public"."child" VALIDATE CONSTRAINT "child_fk_user"'
    assert 'c."pid" IS NOT NULL AND NOT EXISTS' in fk.orphans
    assert 'p."id" = c."pid"' in fk.orphans
    # the ddl command, on empty tables, still adds them checked
    assert "NOT VALID" not in foreign_key_sql(CHILD, ALL)[0]


TOTALS = {"chunks": 2, "chunks_done": 2, "rows": 10, "bytes": 100, "chunk_seconds": 1.0}


def test_the_summary_names_unfinished_tables_and_foreign_keys_left_not_valid() -> None:
    fk = {"constraint": "c_fk", "validate": 'ALTER TABLE "public"."c" VALIDATE CONSTRAINT "c_fk"'}
    summary = build_summary(
        "r1",
        {
            "db.a": {
                **TOTALS,
                "chunks_done": 1,
                "finalized": False,
                "state": "backfilling",
                "finalize_error": "not finalized: BackfillError: db.a: 1 chunk(s) are not done",
            },
            "db.c": {
                **TOTALS,
                "finalized": True,
                "state": "streaming",
                "unvalidated_foreign_keys": [fk],
            },
        },
        1.0,
    )
    assert list(summary["unfinished"]) == ["db.a"]
    assert summary["unvalidated_foreign_keys"] == {"db.c": [fk]}
    page = render_html(summary)
    assert "Not finalized" in page
    assert "db.a: not finalized: BackfillError" in page
    assert "VALIDATE CONSTRAINT" in page
    assert "<td>streaming</td>" in page
    with pytest.raises(BackfillError, match=r"(?s)did not finish.*db\.a: not finalized"):
        raise_if_unfinished(summary, {"mode": "counts", "tables": []})


def test_a_finished_run_passes_and_a_missing_verify_fails_it() -> None:
    clean = build_summary("r2", {"db.b": {**TOTALS, "finalized": True, "state": "streaming"}}, 1.0)
    assert "unfinished" not in clean
    assert "Not finalized" not in render_html(clean)
    raise_if_unfinished(clean, {"mode": "counts", "tables": []})
    with pytest.raises(BackfillError, match="verify did not finish"):
        raise_if_unfinished(clean, None)


def test_finalize_failures_are_named_together() -> None:
    FinalizeOutcome(results=[{"table": "db.b"}]).raise_for_failures()  # nothing failed
    outcome = FinalizeOutcome(
        failures=[{"table": "db.a", "error": "x failed"}, {"table": "db.c", "error": "y"}]
    )
    with pytest.raises(BackfillError) as err:
        outcome.raise_for_failures()
    message = str(err.value)
    assert "2 table(s) could not be finalized" in message
    assert "db.a: x failed" in message
    assert "db.c: y" in message
    assert "mode=resume" in message


def test_a_verify_that_found_drift_fails_the_run_naming_table_drift_and_keys() -> None:
    clean = build_summary("r3", {"db.b": {**TOTALS, "finalized": True, "state": "streaming"}}, 1.0)
    verified = {
        "mode": "checksums",
        "report": "/reports/reconcile-7.json",
        "tables": [
            {"table": "db.a", "status": "in_sync", "drift": {}, "examples": {}},
            {
                "table": "db.b",
                "status": "drift",
                "error": None,
                "drift": {"missing": 1, "extra": 0, "different": 2},
                "examples": {"missing": [["10"]], "different": [["7", "2"], ["9", "1"]]},
            },
            {"table": "db.c", "status": "error", "error": "column v: type differs"},
        ],
    }
    with pytest.raises(BackfillError) as err:
        raise_if_unfinished(clean, verified)
    message = str(err.value)
    assert "db.b: drift: 1 missing, 2 different (e.g. missing: 10; different: 7/2, 9/1)" in message
    assert "db.c: not verified (error): column v: type differs" in message
    assert "db.a" not in message
    assert "/reports/reconcile-7.json" in message
    assert "mode=reload" in message


def test_a_verify_with_every_table_in_sync_passes() -> None:
    clean = build_summary("r4", {"db.b": {**TOTALS, "finalized": True, "state": "streaming"}}, 1.0)
    raise_if_unfinished(
        clean, {"mode": "checksums", "tables": [{"table": "db.b", "status": "in_sync"}]}
    )
