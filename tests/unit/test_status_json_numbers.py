"""`status --json` gives counts as JSON numbers and times as ISO 8601 text, exactly: PostgreSQL's
``sum(bigint)`` and numeric arithmetic come back as Decimal, which ``default=str`` wrote as
strings."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.cli import status as status_cli
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.status.model import (
    StateSnapshot,
    TableFigures,
    build_status,
    exact_number,
    iso_time,
    json_default,
    not_synced,
)

WHEN = datetime(2026, 11, 27, 10, 15, 30, 250000, tzinfo=UTC)
BIG = Decimal("123456789012345678901234567890")  # more digits than a float holds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (7, 7),
        (Decimal("1234567"), 1234567),  # coalesce(sum(bigint), 0): numeric, whole
        (Decimal("12.000"), 12),
        (Decimal("1E+3"), 1000),
        (BIG, int(BIG)),  # an int, not a rounded float
        (Decimal("1.2340000000000000"), 1.234),  # last_lag_ms / 1000.0
        (Decimal("0.1"), 0.1),
        (2.5, 2.5),
        # no float is exactly these: their exact text, never a silently rounded number
        (Decimal("0.12345678901234567890123"), "0.12345678901234567890123"),
        (Decimal("NaN"), "NaN"),
        (float("inf"), "inf"),
        ("42", 42),
        ("not a number", "not a number"),
    ],
)
def test_exact_number(value: object, expected: object) -> None:
    got = exact_number(value)
    assert got == expected
    assert type(got) is type(expected)


def test_a_fractional_decimal_made_a_float_reads_back_as_the_same_decimal() -> None:
    for text in ("1.234", "0.001", "98765.4321", "3.3333333333"):
        number = exact_number(Decimal(text))
        assert isinstance(number, float)
        assert Decimal(json.dumps(number)) == Decimal(text)


def test_times_are_iso_8601() -> None:
    assert iso_time(WHEN) == "2026-11-27T10:15:30.250000+00:00"
    assert datetime.fromisoformat(str(iso_time(WHEN))) == WHEN
    assert iso_time(None) is None
    assert json.dumps({"n": Decimal("5"), "t": WHEN}, default=json_default) == (
        '{"n": 5, "t": "2026-11-27T10:15:30.250000+00:00"}'
    )


def _mapping(name: str) -> dict[str, Any]:
    return {
        "source": f"legacy.{name}",
        "target": f"public.{name}",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
    }


def _snapshot() -> StateSnapshot:
    """Rows as psycopg returns them from status.read's queries."""
    return StateSnapshot(
        table_state={"legacy.orders": {"state": "streaming", "age_seconds": 12.0}},
        backfill={
            "legacy.orders": {
                "finalized_at": None,
                "target_rows": None,
                "chunks_total": 40,  # count(): bigint, an int
                "chunks_done": 12,
                "chunks_failed": 1,
                "failed_error": "boom",
                "rows_copied": Decimal("1234567"),  # coalesce(sum(bigint), 0): numeric
                "rows_left_est": BIG,
                "left_unknown": False,
                "rows_recent": Decimal("300000"),
                "idle_seconds": 5.0,
            }
        },
        stream={
            "legacy.orders": {
                "lag_seconds": Decimal("1.2340000000000000"),
                "events_per_second": 41.5,
                "updated_at": WHEN,
                "age_seconds": 30.25,
            }
        },
        reconcile={
            "legacy.orders": {
                "status": "repaired",
                "started_at": WHEN,
                "finished_at": WHEN,
                "drift_found": 3,
                "drift_repaired": 3,
                "report_path": None,
            }
        },
        lost_changes={
            "legacy.orders": {
                "lost": Decimal("17"),
                "restarted": False,
                "uncaptured": False,
                "since": WHEN,
                "sides": ["mysql"],
                "repaired_by_mapping": False,
            }
        },
        conflicts_24h={"legacy.orders": 2},
        dead_letters={"legacy.orders": 5},
        connectors=(),
    )


ORDERS_FIGURES = {
    "conflicts_24h": 2,
    "open_dead_letters": 5,
    "backfill_chunks_total": 40,
    "backfill_chunks_done": 12,
    "backfill_chunks_failed": 1,
    "backfill_rows_copied": 1234567,
    "backfill_rows_left_estimate": int(BIG),
    "backfill_finalized_at": None,
    "stream_lag_seconds": 1.234,
    "stream_events_per_second": 41.5,
    "stream_last_applied_at": "2026-11-27T10:15:30.250000+00:00",
    "stream_last_applied_age_seconds": 30.25,
    "reconcile_drift_found": 3,
    "reconcile_drift_repaired": 3,
    "reconcile_finished_at": "2026-11-27T10:15:30.250000+00:00",
    "lost_changes": 17,
    "lost_changes_open": True,
}


def test_the_model_carries_the_figures_as_numbers() -> None:
    mappings = [TableMapping.model_validate(_mapping(n)) for n in ("orders", "notes")]
    orders, notes = build_status(mappings, _snapshot())
    assert asdict(orders.figures) == ORDERS_FIGURES
    # the text cells stay as they were
    assert (orders.conflicts_24h, orders.dead_letters) == ("2", "5")
    assert "1,234,567 rows" in orders.backfill
    # a section that exists with no row for the table counts 0; one that does not: no data
    assert (notes.figures.conflicts_24h, notes.figures.open_dead_letters) == (0, 0)
    assert (notes.figures.lost_changes, notes.figures.lost_changes_open) == (0, False)
    assert notes.figures.backfill_rows_copied is None
    (none,) = build_status(mappings[:1], StateSnapshot())
    assert none.figures == TableFigures()
    (off,) = not_synced([TableMapping.model_validate({**_mapping("gone"), "enabled": False})])
    assert off.figures == TableFigures()


def test_status_json_prints_counts_as_numbers_and_times_as_iso(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("orders", "notes"):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(_mapping(name)))
    monkeypatch.setattr(status_cli, "endpoints_from_env", lambda: None)
    monkeypatch.setattr(status_cli, "read_snapshot", lambda _endpoints: _snapshot())

    assert main(["status", "--json", "--mappings", str(tmp_path)]) == 3  # failed chunk, lost
    out = json.loads(capsys.readouterr().out)
    tables = {t["source"]: t for t in out["tables"]}
    figures = tables["legacy.orders"]["figures"]
    assert figures == ORDERS_FIGURES
    for key, value in figures.items():
        if key.endswith("_at"):
            assert value is None or datetime.fromisoformat(value) == WHEN, key
        elif key.endswith("_open"):
            assert type(value) is bool, key
        else:
            assert value is None or type(value) in (int, float), key
    assert tables["legacy.notes"]["figures"]["open_dead_letters"] == 0
    # the display text is unchanged for the scripts that read it
    assert tables["legacy.orders"]["dead_letters"] == "5"


def test_a_gap_of_unknown_size_is_open_though_it_counts_nothing() -> None:
    """A re-created topic (or a connector reset) lost an unknown number of changes: the count
    says 0 known, and ``lost_changes_open`` is what a script alerts on."""
    snapshot = _snapshot()
    unknown = {**snapshot.lost_changes["legacy.orders"], "lost": None, "restarted": True}
    (orders,) = build_status(
        [TableMapping.model_validate(_mapping("orders"))],
        replace(snapshot, lost_changes={"legacy.orders": unknown}),
    )
    assert (orders.figures.lost_changes, orders.figures.lost_changes_open) == (0, True)
    assert orders.health == "failed"
