"""Mapping drift on the status model: a table whose changes carry columns the mapping does not
list is yellow, says which and what to run, and clears once the mapping lists them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.status.html import render_status
from mysql_pg_sync.status.model import (
    StateSnapshot,
    UnsyncedColumns,
    build_status,
    unsynced_columns,
)

SEEN = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def _mapping(
    *extra: str,
    direction: str = "both",
    pg_names: dict[str, str] | None = None,
    postgres_only: tuple[str, ...] = (),
) -> Any:
    columns = [{"name": "id", "column_type": "int(11)", "nullable": False}]
    for name in extra:
        column = {"name": name, "column_type": "varchar(20)", "nullable": True}
        if pg_names and name in pg_names:
            column["pg_name"] = pg_names[name]
        columns.append(column)
    return TableMapping.model_validate(
        {
            "source": "legacy.invoices",
            "target": "public.invoices",
            "key": ["id"],
            "columns": columns,
            "direction": direction,
            "postgres_only_columns": list(postgres_only),
        }
    )


def _drift(side: str, *columns: str, applied: datetime | None = SEEN) -> dict[str, Any]:
    return {
        "source_table": "legacy.invoices",
        "incoming_side": side,
        "unknown_columns": list(columns),
        "last_seen": SEEN,
        "last_applied_at": applied,
    }


@pytest.mark.parametrize(
    ("mapping", "rows", "expected"),
    [
        pytest.param(
            _mapping(),
            [_drift("mysql", "ref_code")],
            (UnsyncedColumns("mysql", ("ref_code",)),),
            id="a-new-mysql-column",
        ),
        pytest.param(
            _mapping("ref_code"), [_drift("mysql", "ref_code")], (), id="the-mapping-lists-it-now"
        ),
        pytest.param(
            _mapping("ref_code"),
            [_drift("mysql", "note", "ref_code")],
            (UnsyncedColumns("mysql", ("note",)),),
            id="only-what-the-mapping-still-lacks",
        ),
        pytest.param(
            _mapping(),
            [_drift("mysql", "ref_code", applied=SEEN + timedelta(seconds=5))],
            (),
            id="a-later-batch-applied-without-drift",
        ),
        pytest.param(
            _mapping(),
            [_drift("mysql", "ref_code", applied=None)],
            (UnsyncedColumns("mysql", ("ref_code",)),),
            id="nothing-applied-since",
        ),
        pytest.param(
            _mapping("memo", pg_names={"memo": "note"}),
            [_drift("postgres", "memo"), _drift("mysql", "memo")],
            (UnsyncedColumns("postgres", ("memo",)),),
            id="each-side-by-its-own-names",
        ),
        pytest.param(
            _mapping(direction="mysql_to_pg"),
            [_drift("postgres", "pg_only")],
            (),
            id="a-direction-the-mapping-no-longer-streams",
        ),
        pytest.param(
            _mapping(postgres_only=("audit_note",)),
            [_drift("postgres", "audit_note")],
            (),
            id="a-postgres-only-column-acknowledged",
        ),
        pytest.param(
            _mapping(postgres_only=("audit_note",)),
            [_drift("postgres", "audit_note", "surprise")],
            (UnsyncedColumns("postgres", ("surprise",)),),
            id="only-what-is-not-acknowledged",
        ),
        pytest.param(
            _mapping(postgres_only=("ref_code",)),
            [_drift("mysql", "ref_code")],
            (UnsyncedColumns("mysql", ("ref_code",)),),
            id="acknowledged-for-postgres-changes-only",
        ),
    ],
)
def test_unsynced_columns(mapping: Any, rows: list[dict[str, Any]], expected: tuple) -> None:
    assert unsynced_columns(mapping, rows) == expected


def test_a_drifted_table_is_yellow_with_the_columns_and_the_fix() -> None:
    snapshot = StateSnapshot(
        table_state={"legacy.invoices": {"state": "streaming"}},
        mapping_drift={"legacy.invoices": [_drift("mysql", "ref_code")]},
    )
    (row,) = build_status([_mapping()], snapshot)
    assert row.health == "warn"
    assert row.reason == (
        "mapping drift: columns not synced: ref_code (mysql); run `make mappings-generate`, "
        "review the entry, then `make ddl` (README, Add a column)"
    )
    html = render_status([row], snapshot, SEEN)
    assert '<small class="drift">mapping drift: not synced: ref_code (mysql)</small>' in html
    assert 'title="mapping drift: columns not synced: ref_code (mysql); run' in html

    (row,) = build_status([_mapping("ref_code")], snapshot)  # `mappings generate` listed it
    assert (row.mapping_drift, row.reason) == ((), "")
    assert row.health == "ok"
    assert 'class="drift"' not in render_status([row], snapshot, SEEN)


def test_postgres_side_drift_says_its_values_do_not_reach_mysql() -> None:
    snapshot = StateSnapshot(mapping_drift={"legacy.invoices": [_drift("postgres", "memo")]})
    (row,) = build_status([_mapping()], snapshot)
    assert row.health == "warn"
    assert row.reason.startswith(
        "mapping drift: columns not synced: memo (postgres); PostgreSQL's values of a column "
        "only it has do not reach MySQL: add the column in MySQL"
    )


def test_no_drift_section_changes_nothing() -> None:
    (row,) = build_status([_mapping()], StateSnapshot(table_state={}, mapping_drift=None))
    assert row.mapping_drift == ()
    assert "mapping drift" not in row.reason


def test_an_acknowledged_postgres_only_column_is_no_longer_yellow() -> None:
    snapshot = StateSnapshot(
        table_state={"legacy.invoices": {"state": "streaming"}},
        mapping_drift={"legacy.invoices": [_drift("postgres", "audit_note")]},
    )
    (row,) = build_status([_mapping()], snapshot)
    assert row.health == "warn"
    assert row.reason.endswith(
        "if the column is PostgreSQL's own on purpose, list it under `postgres_only_columns` "
        "in the table's mapping)"
    )

    (row,) = build_status([_mapping(postgres_only=("audit_note",))], snapshot)
    assert (row.mapping_drift, row.reason, row.health) == ((), "", "ok")
    assert 'class="drift"' not in render_status([row], snapshot, SEEN)
