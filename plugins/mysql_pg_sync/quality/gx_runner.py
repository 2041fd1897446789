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
import math
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mysql_pg_sync.connections import PG_SESSION_OPTIONS, pg_connect
from mysql_pg_sync.dialects import postgres
from mysql_pg_sync.quality.config import Retention
from mysql_pg_sync.quality.parity import parity_failure, parity_passed
from mysql_pg_sync.quality.plan import EMPTY_TARGET_LAG_SECONDS, PlannedCheck
from mysql_pg_sync.quality.results import CheckResult
from mysql_pg_sync.quality.specs import Severity
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import STATE_SCHEMA

log = logging.getLogger(__name__)

# Importing Great Expectations logs ~180 INFO lines ("Skipping registering function ...") from
# its API-docs registry, which buried the checks' own lines in every data_quality task log.
logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)

_URL_VARIABLE = "MPS_GX_PG_URL"
GX_LOGGER = "great_expectations"
_RUN_TIME_FORMAT = "%Y%m%dT%H%M%S.%fZ"
_RUN_FILES = (".json", ".html")
"""What GE writes per validation: stored results (JSON) and their Data Docs pages (HTML)."""
_DATASOURCE = "mps_target"
_CHECKPOINT = "mps_data_quality"
VIEW_PREFIX = "gx_"
"""Views a run creates in ``mps_sync``: ``gx_<UTC yyyymmddHHMMSS>_<run token>_<n>``."""
STALE_VIEW_AGE = timedelta(days=1)
"""A view older than this was left by a run that died; the next run drops it."""
_VIEW_NAME = re.compile(r"^gx_(\d{14})_[0-9a-f]{8}_\d{4}$")


@dataclass(frozen=True)
class GxOutcome:
    results: list[CheckResult]
    data_docs_index: str | None


def sqlalchemy_url(endpoint: DatabaseEndpoint) -> str:
    return (
        f"postgresql+psycopg2://{quote(endpoint.user, safe='')}:{quote(endpoint.password, safe='')}"
        f"@{endpoint.host}:{endpoint.port}/{quote(endpoint.database, safe='')}"
        # as every session of the library: a database or role whose TimeZone is not UTC moved
        # the freshness lag by hours (a false alarm, or real lag hidden)
        f"?options={quote(PG_SESSION_OPTIONS, safe='')}"
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


@contextmanager
def quiet_gx_logs() -> Iterator[None]:
    """GE's loggers at WARNING for the block: they log two INFO lines per check ("batch_slice:
    None was parsed to ...", "Substituting '${MPS_GX_PG_URL}'"), ~250 lines that buried the
    run's summary in the task log."""
    loggers = [logging.getLogger(GX_LOGGER)] + [
        logging.getLogger(name)
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(GX_LOGGER + ".")
    ]
    levels = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        if lg.level < logging.WARNING:  # NOTSET too: a child would inherit the root's level
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in levels:
            lg.setLevel(level)


def run_time(page: Path) -> float:
    """When the checkpoint run that wrote ``page`` ran (epoch seconds).

    GE stores a run's results as ``<suite path>/<run name>/<run time>/<batch>``; the run time
    is that folder's name, the file's mtime when it is not one."""
    try:
        stamp = datetime.strptime(page.parent.name, _RUN_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return page.stat().st_mtime
    return stamp.timestamp()


def expired_runs(times: Sequence[float], retention: Retention, now: float) -> set[float]:
    """The run times beyond the newest ``keep_runs`` or older than ``keep_days``."""
    newest = sorted(set(times), reverse=True)
    cutoff = now - retention.keep_days * 86400
    return {t for n, t in enumerate(newest) if n >= retention.keep_runs or t < cutoff}


def prune_runs(folders: Sequence[Path], retention: Retention, now: float | None = None) -> int:
    """Delete the stored results and Data Docs pages of expired runs (and the folders left
    empty); returns how many files. The Data Docs index, rebuilt afterwards, lists only the
    pages that remain."""
    files = [p for f in folders if f.exists() for p in f.rglob("*") if p.suffix in _RUN_FILES]
    times = {p: run_time(p) for p in files}
    expired = expired_runs(list(times.values()), retention, time.time() if now is None else now)
    gone = [p for p, t in times.items() if t in expired]
    for path in gone:
        path.unlink()
    for folder in folders:
        for sub in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
            if not any(sub.iterdir()):
                sub.rmdir()
    return len(gone)


def prune_results(folder: Path, keep_days: float = Retention.keep_days) -> int:
    """Age-only pruning of one folder: :func:`prune_runs` without a limit on runs."""
    return prune_runs([folder], Retention(keep_runs=sys.maxsize, keep_days=keep_days))


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
    planned: Sequence[PlannedCheck],
    endpoint: DatabaseEndpoint,
    root: Path,
    data_docs: Path,
    retention: Retention | None = None,
) -> GxOutcome:
    """Validate every planned check in one checkpoint; results keep the plan's order.

    Earlier runs' stored results and Data Docs pages are pruned to ``retention``."""
    if not planned:
        return GxOutcome([], None)
    with quiet_gx_logs():
        return _run_with_gx(planned, endpoint, root, data_docs, retention or Retention())


def _run_with_gx(
    planned: Sequence[PlannedCheck],
    endpoint: DatabaseEndpoint,
    root: Path,
    data_docs: Path,
    retention: Retention,
) -> GxOutcome:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    root.mkdir(parents=True, exist_ok=True)
    results: dict[int, CheckResult] = {}
    views = create_views(endpoint, view_queries(planned))
    try:
        return _validate(planned, endpoint, root, data_docs, retention, views, results)
    finally:
        drop_views(endpoint, list(views.values()))


def _validate(
    planned: Sequence[PlannedCheck],
    endpoint: DatabaseEndpoint,
    root: Path,
    data_docs: Path,
    retention: Retention,
    views: Mapping[str, str],
    results: dict[int, CheckResult],
) -> GxOutcome:
    import great_expectations as gx

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
                asset = _asset(source, name, first, views.get(asset_name))
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
                    # (load_quality_config rejects such kwargs first)
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
        prune_runs([root / "gx" / "validations", data_docs / "validations"], retention)
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


def _asset(source: Any, name: str, check: PlannedCheck, view: str | None) -> Any:
    """A table asset wherever GE can reflect the columns from the catalog: the table itself,
    else a view of ``check.query``; a query asset only for queries that return one row (GE
    runs a query asset's query whole just to learn its column names)."""
    if check.relation is not None:
        schema, table = check.relation
        return source.add_table_asset(name, table_name=table, schema_name=schema)
    if view is not None:
        return source.add_table_asset(name, table_name=view, schema_name=STATE_SCHEMA)
    return source.add_query_asset(name, query=check.query)


def view_queries(planned: Sequence[PlannedCheck]) -> dict[str, str]:
    """Asset name -> the query to create a view of: checks that read the whole table (or its
    SET members) and cannot read it as a table asset."""
    out: dict[str, str] = {}
    for check in planned:
        if check.scans and check.relation is None:
            out.setdefault(check.asset_name, check.query)
    return out


def view_name(created: datetime, token: str, n: int) -> str:
    return f"{VIEW_PREFIX}{created:%Y%m%d%H%M%S}_{token}_{n:04d}"


def stale_views(names: Sequence[str], now: datetime) -> list[str]:
    """The run views among ``names`` created more than :data:`STALE_VIEW_AGE` before ``now``."""
    out = []
    for name in names:
        match = _VIEW_NAME.match(name)
        if match is None:
            continue
        created = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        if now - created > STALE_VIEW_AGE:
            out.append(name)
    return out


def create_views(endpoint: DatabaseEndpoint, queries: Mapping[str, str]) -> dict[str, str]:
    """Asset name -> a view of its query in ``mps_sync``, created for this run only.

    Names are unique per run (time and a random token), so concurrent runs never share or
    replace one, and a view always has the columns this run's mapping names. The runner drops
    them when it ends; a run that died leaves its views, dropped by the next run after a day
    (until then they block ``make ddl`` from altering the columns they read). An asset whose
    view cannot be created (no privilege on ``mps_sync``) is read by its query, with a warning.
    """
    if not queries:
        return {}
    now = datetime.now(UTC)
    token = uuid.uuid4().hex[:8]
    views: dict[str, str] = {}
    try:
        with pg_connect(endpoint, autocommit=True) as conn:
            if conn.execute("SELECT to_regnamespace(%s)", (STATE_SCHEMA,)).fetchone() == (None,):
                conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
            existing = [
                r[0]
                for r in conn.execute(
                    "SELECT viewname FROM pg_views WHERE schemaname = %s AND viewname LIKE %s",
                    (STATE_SCHEMA, VIEW_PREFIX.replace("_", r"\_") + "%"),
                ).fetchall()
            ]
            for stale in stale_views(existing, now):
                conn.execute(f"DROP VIEW IF EXISTS {postgres.qualified(STATE_SCHEMA, stale)}")
            for n, (asset, query) in enumerate(queries.items()):
                name = view_name(now, token, n)
                conn.execute(f"CREATE VIEW {postgres.qualified(STATE_SCHEMA, name)} AS {query}")
                views[asset] = name
    except Exception as exc:  # the checks still run, through query assets
        log.warning(
            "could not create data-quality views in %s (%s: %s); %d asset(s) are read as "
            "queries, which GE runs in full to learn their columns",
            STATE_SCHEMA,
            type(exc).__name__,
            exc,
            len(queries) - len(views),
        )
    return views


def drop_views(endpoint: DatabaseEndpoint, names: Sequence[str]) -> None:
    if not names:
        return
    try:
        with pg_connect(endpoint, autocommit=True) as conn:
            for name in names:
                conn.execute(f"DROP VIEW IF EXISTS {postgres.qualified(STATE_SCHEMA, name)}")
    except Exception as exc:  # the next run drops them once they are a day old
        log.warning("could not drop data-quality views %s: %s", ", ".join(names), exc)


# SQLAlchemy's additions to a driver error: the statement, its parameters, a docs link.
_SQLALCHEMY_TAIL = re.compile(
    r"\s*(\[SQL: .*|\[parameters: .*|\(Background on this error.*)$", re.S
)
_DRIVER_ERROR = re.compile(r"\(psycopg2\.(?:errors\.)?(\w+)\)\s*([^\n]+)")
_MAX_ERROR_CHARS = 300


def server_error(message: str) -> str:
    """The database's own error out of a GE/SQLAlchemy exception message:
    ``permission denied for table t (InsufficientPrivilege)``, else the message on one line
    without SQLAlchemy's statement and docs link."""
    found = _DRIVER_ERROR.search(message)
    if found:
        return f"{found.group(2).strip()} ({found.group(1)})"
    text = " ".join(_SQLALCHEMY_TAIL.sub("", message).split()) or "no error message"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def evaluation_error(check: PlannedCheck, message: str) -> str:
    """Why ``check`` could not be evaluated: its table, its check id and the server's error."""
    spec = check.spec
    reads = "the mps_sync state tables" if spec.asset == "state" else check.asset_name.split(":")[0]
    detail = f"{spec.check_id} of {spec.table} on PostgreSQL {reads}: {server_error(message)}"
    if "InsufficientPrivilege" in message or "permission denied" in message:
        detail += "; grant the data-quality user SELECT on it"
    return detail + "; a fail whatever the check's severity"


def _error(check: PlannedCheck, message: str) -> CheckResult:
    """A check that could not be evaluated fails the run, whatever its severity: a ``warn``
    check whose table cannot be read would otherwise pass every night unseen."""
    spec = check.spec
    return CheckResult(
        table=spec.table,
        check_id=spec.check_id,
        check=spec.check,
        severity="fail",
        outcome="error",
        expectation=spec.expectation,
        column=spec.column,
        detail=evaluation_error(check, message),
    )


def jsonable(value: Any) -> Any:
    """``value`` as JSON takes it; a non-finite float as its PostgreSQL text (``Infinity``,
    ``-Infinity``, ``NaN``): jsonb refuses those tokens, and storing a breach that showed one
    failed the whole run."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
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
        # A custom check GE could not evaluate is the YAML's error (kwargs it cannot use); a
        # derived one's table could not be read: either fails the run whatever its severity.
        return _error(check, str(raised[0].get("exception_message") or "exception in GE"))
    result = r.result or {}
    observed = jsonable(result.get("observed_value"))
    if spec.check == "freshness" and _no_target_value(observed):
        # "observed 1000000000000.0" said nothing: the column has no value in PostgreSQL
        return CheckResult(
            table=spec.table,
            check_id=spec.check_id,
            check=spec.check,
            severity="fail",
            outcome="failed",
            expectation=spec.expectation,
            column=spec.column,
            detail=check.empty_target,
        )
    severity, detail = (spec.severity, "") if r.success else failure_of(check, observed)
    if r.success:  # a failure's detail says what it judged already (its breach hint)
        detail = passed_detail(check, observed)
    return CheckResult(
        table=spec.table,
        check_id=spec.check_id,
        check=spec.check,
        severity=severity,
        outcome="passed" if r.success else "failed",
        expectation=spec.expectation,
        column=spec.column,
        observed=observed,
        unexpected_count=result.get("unexpected_count"),
        sample=jsonable(result.get("partial_unexpected_list") or []),
        detail=detail,
    )


def _no_target_value(observed: Any) -> bool:
    try:
        return float(observed) >= EMPTY_TARGET_LAG_SECONDS
    except (TypeError, ValueError):
        return False


def _counted(observed: Any) -> bool:
    return isinstance(observed, int) and not isinstance(observed, bool)


def passed_detail(check: PlannedCheck, observed: Any) -> str:
    """What a passed check judged: a parity check's both counts, else the plan's note."""
    spec = check.spec
    if spec.check == "row_count_parity" and check.source_rows is not None and _counted(observed):
        low, high = int(check.kwargs["min_value"]), int(check.kwargs["max_value"])
        return parity_passed(observed, check.source_rows, low, high)
    return check.note


def failure_of(check: PlannedCheck, observed: Any) -> tuple[Severity, str]:
    """The severity and detail of a failed check: a parity gap names both counts and may be
    severe enough to fail whatever its configured severity."""
    spec = check.spec
    if spec.check == "row_count_parity" and check.source_rows is not None and _counted(observed):
        return parity_failure(
            spec.table,
            spec.severity,
            observed,
            check.source_rows,
            (int(check.kwargs["min_value"]), int(check.kwargs["max_value"])),
            float(spec.params.get("fail_ratio", 1.0)),
            check.repair,
            check.repair_side,
            check.held,
        )
    return spec.severity, failure_detail(check)


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
