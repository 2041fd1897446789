"""Entry points the DAG and the CLI call: start a run, reconcile one table, finish the run.

Each step opens its own connections from :class:`~mysql_pg_sync.settings.Endpoints`, so mapped
Airflow tasks (one per table) can run anywhere; the run's state lives in ``mps_sync``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.bisect import DEFAULT_FACTOR, DEFAULT_THRESHOLD, BisectConfig
from mysql_pg_sync.reconcile.compare import DEFAULT_SEGMENT_ROWS, DEFAULT_WORKERS, CompareConfig
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.recheck import StreamLagWaiter
from mysql_pg_sync.reconcile.repair import DEFAULT_MAX_REPAIRS, RepairApplier
from mysql_pg_sync.reconcile.report import finalize, write_reports
from mysql_pg_sync.reconcile.run import EXAMPLE_KEYS, RunOptions, TableResult, reconcile_table
from mysql_pg_sync.settings import Endpoints, reports_dir
from mysql_pg_sync.settings import mappings_dir as default_mappings_dir

DEFAULT_RECHECK_DELAY_S = 30.0


@dataclass(frozen=True)
class ReconcileParams:
    """What one run does; the DAG's Params and the CLI's flags map onto these fields."""

    tables: tuple[str, ...] = ()
    repair: bool = False
    dry_run: bool = True
    max_repairs: int = DEFAULT_MAX_REPAIRS  # for the whole run, all tables together
    segment_rows: int = DEFAULT_SEGMENT_ROWS
    factor: int = DEFAULT_FACTOR
    threshold: int = DEFAULT_THRESHOLD
    workers: int = DEFAULT_WORKERS
    recheck_delay_s: float = DEFAULT_RECHECK_DELAY_S
    mappings: str = field(default="")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ReconcileParams:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"unknown reconcile parameter(s) {unknown}; known: {sorted(known)}")
        values = dict(raw)
        tables = values.get("tables") or ()
        values["tables"] = tuple([tables] if isinstance(tables, str) else tables)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    def options(self) -> RunOptions:
        return RunOptions(
            compare=CompareConfig(
                segment_rows=self.segment_rows,
                bisect=BisectConfig(self.factor, self.threshold),
                workers=self.workers,
            ),
            repair=self.repair,
            dry_run=self.dry_run,
            max_repairs=self.max_repairs,
        )


def mappings_dir(params: ReconcileParams, env: Mapping[str, str] | None = None) -> Path:
    """``params.mappings``, else ``$MPS_MAPPINGS_DIR``, else ``<repo>/include/mappings``."""
    env = os.environ if env is None else env
    return Path(params.mappings) if params.mappings else default_mappings_dir(env)


def selected_mappings(params: ReconcileParams) -> list[TableMapping]:
    """The mappings to reconcile: the named ones, or every enabled table."""
    mappings = load_mappings(mappings_dir(params))
    if params.tables:
        return list(mappings.select(params.tables))
    return list(mappings.enabled())


def start_run(endpoints: Endpoints, params: ReconcileParams, trigger: str = "") -> int:
    with pg_connect(endpoints.postgres) as conn:
        return store.start_run(conn, params.as_dict(), trigger)


def stream_applier(endpoints: Endpoints, mapping: TableMapping) -> RepairApplier:
    """Repairs through the stream applier, tagged like the stream service (``MPS_PG_ORIGIN``,
    ``MPS_GTID_DOMAIN``)."""
    from mysql_pg_sync.cdc.service import config_from_env
    from mysql_pg_sync.reconcile.applier import StreamApplierRepairs

    return StreamApplierRepairs(endpoints, MappingSet((mapping,)), config_from_env().tags)


def record_refusal(
    state: store.Conn, run_id: int, mapping: TableMapping, exc: ReconcileError
) -> TableResult:
    """A mapping reconcile refuses (e.g. a key column excluded): stored as that table's error."""
    result = TableResult(mapping.name, str(mapping.target), "error", str(exc))
    store.start_table(state, run_id, mapping.name, str(mapping.target))
    store.finish_table(state, run_id, mapping.name, result.as_dict())
    return result


def reconcile_one(
    endpoints: Endpoints,
    run_id: int,
    mapping: TableMapping,
    params: ReconcileParams,
    applier: RepairApplier | None = None,
) -> dict[str, Any]:
    """Reconcile one mapped table; a mapping reconcile refuses is stored as that table's error.

    Repairs (``repair`` without ``dry_run``) go through the stream applier unless ``applier``
    is given."""
    if applier is None and params.repair and not params.dry_run:
        applier = stream_applier(endpoints, mapping)
    started = datetime.now(UTC)
    with pg_connect(endpoints.postgres) as state:
        try:
            table = table_from_mapping(mapping)
        except ReconcileError as exc:
            return record_refusal(state, run_id, mapping, exc).as_dict()
        outcome = reconcile_table(
            table,
            endpoints.mysql,
            endpoints.postgres,
            state,
            run_id,
            params.options(),
            StreamLagWaiter(
                lambda: pg_connect(endpoints.postgres), started, params.recheck_delay_s
            ),
            applier,
        )
        return outcome.as_dict()


def finish_run(
    endpoints: Endpoints,
    run_id: int,
    folder: Path | None = None,
    expected: Sequence[tuple[str, str]] = (),
) -> tuple[dict[str, Any], Path, Path]:
    """Store the run's status and write its JSON and HTML reports (with the finish time the
    run's row gets).

    A table that never finished (still ``running``) or, of the ``expected`` (source, target)
    tables, never stored a result, is an ``error``, and its planned repairs ``failed``
    (interrupted): the run then ends ``failed``, never ``succeeded``."""
    with pg_connect(endpoints.postgres) as conn:
        finished_at = store.close_run(conn, run_id, expected)
        run = finalize(store.load_run(conn, run_id, EXAMPLE_KEYS), finished_at)
        json_path, html_path = write_reports(run, folder or reports_dir())
        store.finish_run(conn, run_id, run["status"], str(json_path), str(html_path), finished_at)
    return run, json_path, html_path


def reconcile_all(
    endpoints: Endpoints,
    params: ReconcileParams,
    trigger: str = "cli",
    folder: Path | None = None,
    applier: RepairApplier | None = None,
) -> tuple[dict[str, Any], Path, Path]:
    """A whole run in one process (the CLI): every selected table in turn, then the reports."""
    mappings: Sequence[TableMapping] = selected_mappings(params)
    run_id = start_run(endpoints, params, trigger)
    for mapping in mappings:
        reconcile_one(endpoints, run_id, mapping, params, applier)
    expected = [(m.name, str(m.target)) for m in mappings]
    return finish_run(endpoints, run_id, folder, expected)
