"""The benchmarks are run by hand (`make bench-*`), so nothing else would notice one that no
longer imports after a refactor of the library."""

from __future__ import annotations

import importlib
import pkgutil

import bench
import pytest

MODULES = sorted(m.name for m in pkgutil.iter_modules(bench.__path__, "bench."))


def test_there_are_benchmarks() -> None:
    assert {"bench.backfill", "bench.reconcile", "bench.stream"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__name__ == name
