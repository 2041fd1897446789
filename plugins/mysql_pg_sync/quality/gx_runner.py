"""Run planned checks with Great Expectations against PostgreSQL and collect the results.

Suites, assets, validation definitions and the checkpoint are rebuilt in memory from the mappings
on every run (they are derived, not edited); the checkpoint's validation results accumulate in
GE's filesystem store under ``<reports>/quality/gx/validations`` and Data Docs are built into
``<reports>/quality/data_docs``. The database password never reaches a GE object: the
datasource's connection string is a ``${MPS_GX_PG_URL}`` reference resolved from this
process's environment.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mysql_pg_sync.quality.plan import PlannedCheck
from mysql_pg_sync.quality.results import CheckResult
from mysql_pg_sync.settings import DatabaseEndpoint

# Importing Great Expectations logs ~180 INFO lines ("Skipping registering function ...") from
# its API-docs registry, which buried the checks' own lines in every data_quality task log.
logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)

_URL_VARIABLE = "MPS_GX_PG_URL"
KEEP_RESULTS_DAYS = 30
"""GE validation results older than this are pruned: the Data Docs index lists every stored one."""
_DATASOURCE = "mps_target"
_CHECKPOINT = "mps_data_quality"


@dataclass(frozen=True)
class GxOutcome:
    results: list[CheckResult]
    data_docs_index: str | None


def sqlalchemy_url(endpoint: DatabaseEndpoint) -> str:
    return (
        f"postgresql+psycopg2://{quote(endpoint.user, safe='')}:{quote(endpoint.password, safe='')}"
        f"@{endpoint.host}:{endpoint.port}/{quote(endpoint.database, safe='')}"
    )


@contextmanager
def _connection_env(endpoint: DatabaseEndpoint) -> Iterator[None]:
    previous = os.environ.get(_URL_VARIABLE)
    os.environ[_URL_VARIABLE] = sqlalchemy_url(endpoint)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(_URL_VARIABLE, None)
        else:
            os.environ[_URL_VARIABLE] = previous


def prune_results(folder: Path, keep_days: int = KEEP_RESULTS_DAYS) -> int:
    """Delete stored GE validation results older than ``keep_days``; returns how many."""
    if not folder.exists():
        return 0
    cutoff = time.time() - keep_days * 86400
    old = [p for p in folder.rglob("*.json") if p.stat().st_mtime < cutoff]
    for path in old:
        path.unlink()
    return len(old)


def _safe_name(index: int, asset_name: str) -> str:
    return f"mps_{index:04d}_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", asset_name)


def _context(root: Path, data_docs: Path) -> Any:
    """An ephemeral context whose validation results and Data Docs are files.

    Suites, assets and validation definitions are derived afresh each run, so they stay in
    memory: a file context rewrites its whole YAML on every asset added, which made a run
    quadratic in the number of tables (60 tables: 329 s file-backed).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    config.stores["validation_results_store"] = {
        "class_name": "ValidationResultsStore",
        "store_backend": {
            "class_name": "TupleFilesystemStoreBackend",
            "base_directory": str(root / "gx" / "validations"),
        },
    }
    config.data_docs_sites = {
        "mps_data_docs": {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(data_docs),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    }
    return gx.get_context(mode="ephemeral", project_config=config)


def _expectation(check: PlannedCheck) -> Any:
    import great_expectations as gx

    cls = getattr(gx.expectations, check.spec.expectation, None)
    if cls is None:
        raise LookupError(f"Great Expectations has no expectation {check.spec.expectation}")
    meta = {"mps_index": None, "table": check.spec.table, "check_id": check.spec.check_id}
    return cls, meta


def run_with_gx(
    planned: Sequence[PlannedCheck], endpoint: DatabaseEndpoint, root: Path, data_docs: Path
) -> GxOutcome:
    """Validate every planned check in one checkpoint; results keep the plan's order."""
    if not planned:
        return GxOutcome([], None)
    import great_expectations as gx

    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    root.mkdir(parents=True, exist_ok=True)
    results: dict[int, CheckResult] = {}
    with _connection_env(endpoint):
        context = _context(root, data_docs)
        source = context.data_sources.add_or_update_postgres(
            _DATASOURCE, connection_string="${" + _URL_VARIABLE + "}"
        )
        groups: dict[str, list[int]] = {}
        for index, check in enumerate(planned):
            groups.setdefault(check.asset_name, []).append(index)
        definitions = []
        for n, (asset_name, indexes) in enumerate(groups.items()):
            first = planned[indexes[0]]
            name = _safe_name(n, asset_name)
            try:
                asset = _asset(source, name, first)
            except Exception as exc:  # GE tests the asset on creation: report, don't crash
                for index in indexes:
                    results[index] = _error(planned[index], f"{type(exc).__name__}: {exc}")
                continue
            batch = asset.add_batch_definition_whole_table("all")
            suite = context.suites.add(gx.ExpectationSuite(name=name))
            for index in indexes:
                check = planned[index]
                try:
                    cls, meta = _expectation(check)
                    meta["mps_index"] = index
                    suite.add_expectation(cls(**check.kwargs, meta=meta))
                except Exception as exc:  # a user's kwargs GE rejects: report, don't drop
                    results[index] = _error(check, f"{type(exc).__name__}: {exc}")
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=name, data=batch, suite=suite)
                )
            )
        if not definitions:
            return GxOutcome([results[i] for i in range(len(planned))], None)
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=_CHECKPOINT,
                validation_definitions=definitions,
                actions=[],  # Data Docs are built once below, not once per validation
                result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
            )
        )
        outcome = checkpoint.run()
        prune_results(root / "gx" / "validations")
        # One incremental build for this run's results: GE's UpdateDataDocsAction rebuilt the
        # site (index included) after every validation, which made a run quadratic in tables.
        context.build_data_docs(resource_identifiers=list(outcome.run_results))
    for validation in outcome.run_results.values():
        for r in validation.results:
            index = r.expectation_config.meta["mps_index"]
            results[index] = _convert(planned[index], r)
    missing = [i for i in range(len(planned)) if i not in results]
    for index in missing:
        results[index] = _error(planned[index], "Great Expectations returned no result")
    index_html = data_docs / "index.html"
    return GxOutcome(
        [results[i] for i in range(len(planned))],
        str(index_html) if index_html.exists() else None,
    )


def _asset(source: Any, name: str, check: PlannedCheck) -> Any:
    return source.add_query_asset(name, query=check.query)


def _error(check: PlannedCheck, detail: str) -> CheckResult:
    spec = check.spec
    return CheckResult(
        table=spec.table,
        check_id=spec.check_id,
        check=spec.check,
        severity=spec.severity,
        outcome="error",
        expectation=spec.expectation,
        column=spec.column,
        detail=detail,
    )


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def _convert(check: PlannedCheck, r: Any) -> CheckResult:
    spec = check.spec
    info = r.exception_info or {}
    raised = [v for v in info.values() if isinstance(v, dict) and v.get("raised_exception")]
    if info.get("raised_exception"):
        raised.append(info)
    if raised:
        return _error(check, str(raised[0].get("exception_message") or "exception in GE"))
    result = r.result or {}
    return CheckResult(
        table=spec.table,
        check_id=spec.check_id,
        check=spec.check,
        severity=spec.severity,
        outcome="passed" if r.success else "failed",
        expectation=spec.expectation,
        column=spec.column,
        observed=jsonable(result.get("observed_value")),
        unexpected_count=result.get("unexpected_count"),
        sample=jsonable(result.get("partial_unexpected_list") or []),
        detail="" if r.success else failure_detail(check),
    )


def failure_detail(check: PlannedCheck) -> str:
    """What a failed check expected, then what the operator can look at and do."""
    return "; ".join(p for p in (expected_bounds(check.kwargs), check.breach_hint) if p)


def expected_bounds(kwargs: dict[str, Any]) -> str:
    """What a bounded expectation wanted, in words; empty when it has no bounds.

    State and freshness checks only have a maximum ("between None and 0" said nothing)."""
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f"expected between {low} and {high}"
    if high is not None:
        return f"expected at most {high}"
    if low is not None:
        return f"expected at least {low}"
    return ""
