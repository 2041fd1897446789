"""Retention settings from the environment: days per kind, bad values named (pure)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.state.retention import Retention, retention_from_env

pytestmark = pytest.mark.unit


def test_defaults_and_overrides() -> None:
    assert retention_from_env({}) == Retention()
    assert retention_from_env({"MPS_RETENTION_CONFLICTS_DAYS": "7.5"}).conflicts_days == 7.5


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"MPS_RETENTION_STREAM_RUNS_DAYS": "a week"}, "is not a number of days"),
        ({"MPS_RETENTION_CONFLICTS_DAYS": "0"}, "keep at least some history"),
        ({"MPS_RETENTION_TOMBSTONES_DAYS": "3"}, "a late update could bring a deleted row back"),
    ],
)
def test_a_bad_setting_names_the_variable(env: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError, match=said) as err:
        retention_from_env(env)
    assert next(iter(env)) in str(err.value)
