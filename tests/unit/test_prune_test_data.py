"""`make prune-test-data` removes only what test and benchmark runs create."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit


def _prune() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "stack" / "prune_test_data.py"
    spec = importlib.util.spec_from_file_location("prune_test_data", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "test_owned"),
    [
        ("mpst3efe1e85-mysql-source", True),  # stream and backfill tests
        ("mpsb1a2b3c4d-postgres-source", True),  # benchmarks
        ("t0123456789-mysql-source", True),  # test_connectors.py
        ("mps-mysql-source", False),  # the demo's and the operator's
        ("mps-postgres-source", False),
        ("shop-mysql-source", False),
        ("t0123456789-mysql-source-extra", False),
    ],
)
def test_only_test_connectors_are_deleted(name: str, test_owned: bool) -> None:
    assert bool(_prune().TEST_CONNECTOR.match(name)) is test_owned
