"""One data-quality run end to end: derive, gather facts, validate with GE, report, persist.

``run_quality(...)`` is what the ``data_quality`` DAG and tests call; it returns the
:class:`QualityRun` and leaves failing the task to the caller (:func:`raise_on_breach`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.mapping.models import MappingSet
from mysql_pg_sync.quality.config import QualityConfig
from mysql_pg_sync.quality.derive import derive_checks
from mysql_pg_sync.quality.facts import gather_facts
from mysql_pg_sync.quality.gx_runner import run_with_gx
from mysql_pg_sync.quality.persist import save_run, write_json
from mysql_pg_sync.quality.plan import PlannedCheck, SkippedCheck, plan_check
from mysql_pg_sync.quality.report_html import write_report
from mysql_pg_sync.quality.results import CheckResult, QualityRun, ReconcileTrigger
from mysql_pg_sync.quality.samples import add_row_keys
from mysql_pg_sync.settings import REPO, Endpoints, mappings_dir, reports_dir


class DataQualityBreach(SyncError):
    """At least one fail-severity expectation does not hold; the message lists them."""


def run_folder_name(run_id: str) -> str:
    """A single safe path component: no separators, no leading dot (``..`` cannot climb)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id).strip("._") or "run"


def _skipped(s: SkippedCheck) -> CheckResult:
    spec = s.spec
    return CheckResult(
        table=spec.table,
        check_id=spec.check_id,
        check=spec.check,
        severity=s.severity or spec.severity,
        outcome="error" if s.breach else "passed" if s.enforced else "skipped",
        expectation=spec.expectation,
        column=spec.column,
        observed=s.observed,
        detail=s.reason,
    )


PARTIAL_MARK = "<!-- mps:partial-run -->"
"""In a ``latest.html`` written by a run limited to some tables."""


def partial_note(run: QualityRun) -> str:
    tables = ", ".join(escape(t) for t in run.tables()) or "none"
    return (
        f"{PARTIAL_MARK}Only the tables this run's <code>tables</code> Param selected: "
        f"{tables}. No run of every table has written this page yet, so other tables' "
        "results are not here; the next full run replaces it."
    )


def write_run_files(run: QualityRun, quality: Path, tables: Sequence[str] = ()) -> None:
    """The run's report and JSON in ``runs/<run>/``, and ``latest.html`` beside ``runs/``.

    ``latest.html`` is what the status page links as "the latest data-quality report": a run
    limited by ``tables`` would hide the other tables' failures behind its green page, so it
    leaves a full run's page alone. Only while no full run has written one does it write
    (or replace) the page, saying which tables it covers. It is rendered for its own folder,
    not copied: the Data Docs link is relative and a copy would keep the one computed for
    ``runs/<run>/``."""
    report = Path(run.report_path or quality / "runs" / run_folder_name(run.run_id) / "report.html")
    write_report(run, report)
    write_json(run, report.parent / "results.json")
    latest = quality / "latest.html"
    if not tables:
        write_report(run, latest)
    elif not latest.exists() or PARTIAL_MARK in latest.read_text(encoding="utf-8"):
        write_report(run, latest, partial_note(run))


def run_quality(
    endpoints: Endpoints,
    mappings: MappingSet,
    config: QualityConfig,
    run_id: str,
    *,
    tables: Sequence[str] = (),
    reports: Path | None = None,
    reconcile: ReconcileTrigger | None = None,
) -> QualityRun:
    """Validate ``tables`` (all enabled tables when empty), write the reports, persist the run.

    ``tables``: names or globs as reconcile and backfill take them (:meth:`MappingSet.match`);
    one that selects no synced table raises MappingError before anything is read. A run
    limited to them leaves a full run's ``latest.html`` (the status page's link) alone.
    ``reconcile``: the reconcile run that triggered this one; drift is judged as of that run."""
    started = datetime.now(UTC)
    reports = reports or reports_dir()
    selected = mappings.match_synced(tables) if tables else tuple(mappings.enabled())
    names = {m.name for m in selected}
    specs = [s for s in derive_checks(mappings, config) if s.table in names]
    facts = gather_facts(
        endpoints, selected, specs, reconcile.run_id if reconcile is not None else None
    )
    by_name = {m.name: m for m in selected}
    plans = [plan_check(s, by_name[s.table], facts[s.table]) for s in specs]
    planned = [p for p in plans if isinstance(p, PlannedCheck)]
    quality = reports / "quality"
    outcome = run_with_gx(
        planned, endpoints.postgres, quality, quality / "data_docs", config.data_docs
    )
    ran = iter(outcome.results)
    results = tuple(next(ran) if isinstance(p, PlannedCheck) else _skipped(p) for p in plans)
    results = add_row_keys(endpoints.postgres, results, by_name, specs)
    folder = quality / "runs" / run_folder_name(run_id)
    report = folder / "report.html"
    run = QualityRun(
        run_id=run_id,
        started_at=started,
        finished_at=datetime.now(UTC),
        results=results,
        data_docs_index=outcome.data_docs_index,
        report_path=str(report),
        reconcile=reconcile,
    )
    write_run_files(run, quality, tables)
    with pg_connect(endpoints.postgres) as conn:
        save_run(conn, run)
    return run


def raise_on_breach(run: QualityRun) -> None:
    """Fail loudly when a fail-severity check broke (warnings only log)."""
    if not run.success:
        raise DataQualityBreach(run.summary() + f"\nreport: {run.report_path}")


def expectations_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$MPS_EXPECTATIONS_DIR``, default ``<repo>/include/expectations``."""
    env = os.environ if env is None else env
    return Path(env.get("MPS_EXPECTATIONS_DIR") or REPO / "include" / "expectations")


def run_configured(
    run_id: str,
    tables: Sequence[str] = (),
    endpoints: Endpoints | None = None,
    reconcile: ReconcileTrigger | None = None,
) -> QualityRun:
    """A run with this deployment's mappings and expectations (include/, or MPS_*_DIR)."""
    from mysql_pg_sync.mapping.models import load_mappings
    from mysql_pg_sync.quality.config import load_quality_config
    from mysql_pg_sync.settings import endpoints_from_env

    return run_quality(
        endpoints or endpoints_from_env(),
        load_mappings(mappings_dir()),
        load_quality_config(expectations_dir()),
        run_id,
        tables=tables,
        reconcile=reconcile,
    )
