"""Pure parts of the data-quality hunt (tests/integration/test_quality_hunt.py has the servers):
percentages that read 0 % for a real gap, severities the YAML set and the checks ignored, a
range on a non-numeric column found only when it ran, non-finite floats that no JSON store
takes, and the time zone Great Expectations' session runs in."""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import ExpectationsFileError, load_quality_config
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.gx_runner import jsonable, sqlalchemy_url
from mysql_pg_sync.quality.parity import parity_detail, percent
from mysql_pg_sync.settings import DatabaseEndpoint


@pytest.mark.parametrize(
    ("share", "text"),
    [
        (0.0, "0%"),
        (0.004, "0.4%"),
        (0.0004, "0.04%"),
        (1e-7, "0.00001%"),
        (0.01, "1%"),
        (0.025, "2.5%"),
        (0.1, "10%"),
        (0.6, "60%"),
        (1.0, "100%"),
        (3.0, "300%"),
    ],
)
def test_percent_keeps_a_small_share_visible(share: float, text: str) -> None:
    assert percent(share) == text


def test_parity_detail_names_a_small_gap_and_the_fail_ratio_as_set() -> None:
    detail = parity_detail("db.t", 99_600, 100_000, 99_900, 100_100, None)
    assert "400 row(s) missing in PostgreSQL (0.4% of MySQL's rows)" in detail
    escalated = parity_detail("db.t", 97_000, 100_000, 99_900, 100_100, 0.025)
    assert "the gap is over 2.5% of MySQL's rows (row_count_fail_ratio)" in escalated


def _orders() -> MappingSet:
    return MappingSet(
        (
            TableMapping.model_validate(
                {
                    "source": "legacy.orders",
                    "target": "public.orders",
                    "key": ["id"],
                    "columns": [
                        {"name": "id", "column_type": "int(11)", "nullable": False},
                        {"name": "note", "column_type": "varchar(20)"},
                        {"name": "qty", "column_type": "bigint(20) unsigned"},
                        {"name": "made", "column_type": "datetime"},
                    ],
                }
            ),
        )
    )


def _specs(tmp_path: Path, text: str) -> dict[str, object]:
    (tmp_path / "e.yaml").write_text(text)
    return {s.check_id: s for s in derive_checks(_orders(), load_quality_config(tmp_path))}


CUSTOM = (
    "    expectations:\n"
    "      - {name: short, type: expect_column_value_lengths_to_be_between,\n"
    "         kwargs: {column: note, max_value: 10}}\n"
)


def test_severity_for_custom_checks_and_ranges_is_applied(tmp_path: Path) -> None:
    specs = _specs(
        tmp_path,
        "defaults:\n  severity: {custom: fail, range: warn}\n"
        "tables:\n  orders:\n    ranges:\n      qty: {min: 1}\n" + CUSTOM,
    )
    assert specs["custom:short"].severity == "fail"  # type: ignore[attr-defined]
    assert specs["range:qty"].severity == "warn"  # type: ignore[attr-defined]


def test_a_severity_on_the_entry_itself_still_wins(tmp_path: Path) -> None:
    specs = _specs(
        tmp_path,
        "defaults:\n  severity: {custom: fail}\n"
        "tables:\n  orders:\n    severity: {range: warn}\n"
        "    ranges:\n      qty: {min: 1, severity: fail}\n"
        + CUSTOM.replace("max_value: 10}}", "max_value: 10}, severity: warn}"),
    )
    assert specs["custom:short"].severity == "warn"  # type: ignore[attr-defined]
    assert specs["range:qty"].severity == "fail"  # type: ignore[attr-defined]


def test_the_default_severities_are_unchanged(tmp_path: Path) -> None:
    specs = _specs(tmp_path, "tables:\n  orders:\n    ranges:\n      qty: {min: 1}\n" + CUSTOM)
    assert specs["custom:short"].severity == "warn"  # type: ignore[attr-defined]
    assert specs["range:qty"].severity == "fail"  # type: ignore[attr-defined]


@pytest.mark.parametrize("column", ["note", "made"])
def test_a_range_on_a_column_that_is_not_a_number_is_refused_naming_it(
    tmp_path: Path, column: str
) -> None:
    (tmp_path / "e.yaml").write_text(
        f"tables:\n  orders:\n    ranges:\n      {column}: {{min: 0, max: 10}}\n"
    )
    with pytest.raises(ExpectationsFileError) as caught:
        derive_checks(_orders(), load_quality_config(tmp_path))
    message = str(caught.value)
    assert str(tmp_path / "e.yaml") in message
    assert f"tables.legacy.orders.ranges.{column}" in message
    assert "not a number" in message
    assert "expect_column_" in message  # what to use instead


def test_an_unknown_range_column_lists_the_known_ones(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text("tables:\n  orders:\n    ranges:\n      qtty: {min: 0}\n")
    with pytest.raises(ExpectationsFileError, match=r"ranges: no PostgreSQL column 'qtty'.*qty"):
        derive_checks(_orders(), load_quality_config(tmp_path))


def test_non_finite_floats_become_text_any_json_store_takes() -> None:
    values = jsonable([math.inf, -math.inf, math.nan, 1.5, [math.inf]])
    assert values == ["Infinity", "-Infinity", "NaN", 1.5, ["Infinity"]]
    json.dumps(values, allow_nan=False)


def test_great_expectations_sessions_run_at_utc() -> None:
    url = sqlalchemy_url(DatabaseEndpoint("h", 5432, "u@x", "p/w", "db"))
    parts = urlsplit(url)
    assert parts.path == "/db"
    assert parts.username == "u%40x"
    assert "-c TimeZone=UTC" in parse_qs(parts.query)["options"][0]
