"""The backfill trigger form's Params against what the plan does with them, no services: a name
or glob that selects only tables the backfill refuses (it ran green, copying nothing), and chunk
targets so large the plan failed with a MySQL syntax error or an OverflowError naming no Param."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync.airflow.dag_params import (
    CHUNK_MB_MAX,
    CHUNK_ROWS_MAX,
    backfill_options,
    backfill_selection_problem,
    chunk_target_problem,
)
from mysql_pg_sync.backfill.runner import BackfillError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

FORM = {"max_parallel": 2, "mode": "create_missing", "dry_run": False}


def _entry(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "key": ["id"],
        "direction": "mysql_to_pg",
        "columns": [{"name": "id", "column_type": "int", "nullable": False}],
        **extra,
    }


MAPPINGS = MappingSet(
    tuple(
        TableMapping.model_validate(e)
        for e in (
            _entry("legacy.customers", "public.customers"),
            _entry("legacy.old_orders", "public.old_orders", enabled=False),
            _entry("legacy.old_log", "public.old_log", key=[], unsupported="no primary key"),
            _entry("legacy.pg_notes", "public.pg_notes", direction="pg_to_mysql"),
        )
    )
)


@pytest.mark.parametrize(
    ("tables", "expected"),
    [
        (["old_orders"], "legacy.old_orders is refused (enabled: false in its mapping)"),
        (["old_*"], "legacy.old_log is refused (unsupported: no primary key)"),
        (["pg_notes"], "legacy.pg_notes is refused (direction is pg_to_mysql"),
        (["customers", "old_orders"], "'old_orders' selects no table the backfill can copy"),
    ],
)
def test_a_name_or_glob_of_refused_tables_only_is_a_problem(
    tables: list[str], expected: str
) -> None:
    problem = backfill_selection_problem(MAPPINGS, tables)
    assert problem is not None
    assert expected in problem
    assert "nothing was planned or copied" in problem
    assert "Param `tables`" in problem


@pytest.mark.parametrize(
    "tables",
    [
        [],  # every enabled table
        ["customers"],
        ["*"],  # a glob skips the refused tables, as reconcile's does
        ["custmers"],  # unknown: the plan names it with the known tables
    ],
)
def test_names_that_select_a_copyable_table_or_none_known_pass(tables: list[str]) -> None:
    assert backfill_selection_problem(MAPPINGS, tables) is None


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"chunk_rows": CHUNK_ROWS_MAX + 1}, "chunk_rows"),
        ({"chunk_rows": 10**20}, "chunk_rows"),  # MySQL: OFFSET past 2^64 is a syntax error
        ({"chunk_mb": 1e308}, "chunk_mb"),  # rows per chunk: int(inf), an OverflowError
        ({"chunk_mb": CHUNK_MB_MAX + 0.5}, "chunk_mb"),
    ],
)
def test_a_huge_chunk_target_is_refused_naming_its_param(params: dict[str, Any], name: str) -> None:
    problem = chunk_target_problem(params)
    assert problem is not None
    assert problem.startswith(f"Param `{name}` = ")
    assert "above its maximum" in problem
    with pytest.raises(BackfillError, match=f"Param `{name}`"):
        backfill_options({**FORM, **params})


def test_the_largest_chunk_targets_and_empty_ones_are_taken() -> None:
    options = backfill_options({**FORM, "chunk_rows": CHUNK_ROWS_MAX, "chunk_mb": CHUNK_MB_MAX})
    assert (options.chunk_rows, options.chunk_mb) == (CHUNK_ROWS_MAX, CHUNK_MB_MAX)
    options = backfill_options({**FORM, "chunk_rows": None, "chunk_mb": None})
    assert (options.chunk_rows, options.chunk_mb) == (None, None)
