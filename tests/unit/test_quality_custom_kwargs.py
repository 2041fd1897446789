"""A custom expectation whose kwargs Great Expectations rejects fails the load of the YAML,
naming the file, table and check: before, it became an ``error`` result every night whose
default ``warn`` severity left the run green while the check never ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from mysql_pg_sync.quality.config import ExpectationsFileError, load_quality_config


def _load(tmp_path: Path, kwargs: str) -> None:
    (tmp_path / "orders.yaml").write_text(
        "tables:\n"
        "  legacy.orders:\n"
        "    expectations:\n"
        "      - name: email_format\n"
        "        type: expect_column_values_to_match_regex\n"
        f"        kwargs: {kwargs}\n"
    )
    load_quality_config(tmp_path)


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        (
            '{column: email, regexx: "^a"}',
            "regexx: extra fields not permitted (did you mean 'regex'?)",
        ),
        (
            '{column: email, regex: "^a", mostly: 2}',
            "mostly: ensure this value is less than or equal to 1",
        ),
        ('{column: email, regex: "^a", meta: {a: 1}}', "kwargs.meta is set by the runner"),
    ],
)
def test_kwargs_ge_rejects_fail_the_load_naming_file_table_and_check(
    tmp_path: Path, kwargs: str, problem: str
) -> None:
    with pytest.raises(ExpectationsFileError) as err:
        _load(tmp_path, kwargs)
    message = str(err.value)
    assert message.startswith(
        f"{tmp_path / 'orders.yaml'}: tables.legacy.orders.expectations[email_format]: "
        "expect_column_values_to_match_regex"
    ), message
    assert problem in message, message


def test_kwargs_ge_accepts_load(tmp_path: Path) -> None:
    _load(tmp_path, '{column: email, regex: "^[^@]+@", mostly: 0.99}')
