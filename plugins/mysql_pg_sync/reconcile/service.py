"""Entry points the DAG and the CLI call: start a run, reconcile one table, finish the run.

Each step opens its own connections from :class:`~mysql_pg_sync.settings.Endpoints`, so mapped
Airflow tasks (one per table) can run anywhere; the run's state lives in ``mps_sync``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pydantic import ValidationError

from mysql_pg_sync.connections import connection_failure, pg_connect
from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.reconcile import store
from mysql_pg_sync.reconcile.backfilling import backfill_result
from mysql_pg_sync.reconcile.bisect import DEFAULT_FACTOR, DEFAULT_THRESHOLD, BisectConfig
from mysql_pg_sync.reconcile.compare import DEFAULT_SEGMENT_ROWS, DEFAULT_WORKERS, CompareConfig
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.repair import DEFAULT_MAX_REPAIRS, RepairApplier
from mysql_pg_sync.reconcile.report import finalize, write_reports
from mysql_pg_sync.reconcile.run import EXAMPLE_KEYS, RunOptions, TableResult, reconcile_table
from mysql_pg_sync.reconcile.stream_position import offsets_waiter
from mysql_pg_sync.settings import Endpoints, reports_dir
from mysql_pg_sync.settings import mappings_dir as default_mappings_dir
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.whole_numbers import as_whole

log = logging.getLogger(__name__)
DEFAULT_RECHECK_DELAY_S = 30.0
AUTHORITATIVE_DEFAULT = "mapping"
AUTHORITATIVE_CHOICES = (AUTHORITATIVE_DEFAULT, "mysql", "postgres")
# (field, least allowed value, what it is): a value below the least one loops for ever (0 rows
# per segment, 0 workers), fails deep in SQL, or makes no sense; refused before a run starts
INT_LIMITS: tuple[tuple[str, int, str], ...] = (
    ("max_repairs", 0, "most repairs the run may write"),
    ("segment_rows", 1, "rows per first-level checksum segment"),
    ("factor", 2, "children a mismatching segment is split into"),
    ("threshold", 1, "rows below which a segment's rows are compared"),
    ("workers", 1, "concurrent range queries per database"),
)


class RunAbandoned(ReconcileError):
    """The run lost the session that guarded it and a later run ended it as abandoned."""


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
    # the side repairs copy from for this run: each mapping's reconcile.authoritative, or one
    # side for all (after a capture gap, the side whose changes were all captured holds them)
    authoritative: str = AUTHORITATIVE_DEFAULT

    def __post_init__(self) -> None:
        for name, least, what in INT_LIMITS:
            value = getattr(self, name)
            whole = as_whole(value)
            if whole is None or whole < least:
                raise ConfigError(
                    f"reconcile parameter {name}={value!r} is out of range: {what}, it must "
                    f"be an integer >= {least} (CLI option --{name.replace('_', '-')})"
                )
            object.__setattr__(self, name, whole)  # frozen; 1000.0 from a form is 1000
        if self.authoritative not in AUTHORITATIVE_CHOICES:
            raise ConfigError(
                f"reconcile parameter authoritative={self.authoritative!r} is unknown: use "
                f"{', '.join(AUTHORITATIVE_CHOICES)} (CLI option --authoritative)"
            )
        delay = self.recheck_delay_s
        if (
            isinstance(delay, bool)
            or not isinstance(delay, int | float)
            or not math.isfinite(delay)
            or delay < 0
        ):
            raise ConfigError(
                f"reconcile parameter recheck_delay_s={delay!r} is out of range: the seconds "
                "to let the stream catch up must be a finite number >= 0 (CLI option "
                "--recheck-delay)"
            )

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
    """The mappings to reconcile: those the names or globs match (backfill's selector), or
    every enabled table."""
    picked = pick(load_mappings(mappings_dir(params)), params.tables)
    if params.authoritative == AUTHORITATIVE_DEFAULT:
        return picked
    return [with_authority(m, params.authoritative) for m in picked]


def with_authority(mapping: TableMapping, side: str) -> TableMapping:
    """The mapping with ``reconcile.authoritative`` set to ``side`` for one run, validated as
    if the file said so (a generated column may only be copied from MySQL, for one)."""
    data = mapping.model_dump()
    data["reconcile"] = {**data["reconcile"], "authoritative": side}
    try:
        return TableMapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors())
        raise ConfigError(
            f"{mapping.name}: cannot be reconciled with authoritative={side}: {problems}; "
            "reconcile it without that table, or with authoritative=mapping"
        ) from None


def pick(mappings: MappingSet, tables: Sequence[str]) -> list[TableMapping]:
    """The synced tables names or globs select, or every enabled one. A glob skips the tables
    the mappings leave out (``*`` must not fail a run on a table with no key); a name that
    selects only such tables is refused before the run starts, with the reason: comparing it
    could only fail, and the failure's advice was to run the same thing again."""
    if not tables:
        return list(mappings.enabled())
    return list(mappings.match_synced(tables))


def start_run(
    endpoints: Endpoints, params: ReconcileParams, trigger: str = "", folder: Path | None = None
) -> int:
    """Record a run whose steps run apart (the DAG's tasks guard it while each runs), after
    ending the earlier runs that were abandoned (:func:`close_abandoned_runs`)."""
    with pg_connect(endpoints.postgres) as conn:
        close_abandoned_runs(conn, folder)
        return store.start_run(conn, params.as_dict(), trigger)


def close_abandoned_runs(conn: store.Conn, folder: Path | None = None) -> list[int]:
    """End as ``failed``, with their reports, the runs left ``running`` that nothing works on
    any more (see :func:`store.close_abandoned_runs`): a later run is not mistaken for them,
    and the operator sees why they stopped instead of a run ``running`` for ever. Never
    raises for a report it cannot write."""
    ensure_schema(conn)
    closed = store.close_abandoned_runs(conn)
    for run_id, finished_at in closed:
        log.warning(
            "reconcile run %s was abandoned (nothing works on it any more): ended as failed",
            run_id,
        )
        try:
            # failed even if each table it started had stored a result: the run did not end
            run = {**finalize(store.load_run(conn, run_id, EXAMPLE_KEYS), finished_at)}
            run["status"] = "failed"
            json_path, html_path = write_reports(run, folder or reports_dir())
            store.finish_run(conn, run_id, "failed", str(json_path), str(html_path), finished_at)
        except Exception as exc:
            log.error("reconcile run %s: could not write its reports: %s", run_id, exc)
    return [run_id for run_id, _ in closed]


class RunGuard:
    """The session that guards a one-process run (:func:`reconcile_all`) from its start to
    its end. When that session is lost (PostgreSQL restarted, the backend terminated) the
    guard is taken again on a new one, unless a later run found the run abandoned meanwhile
    and ended it: then :meth:`hold` raises and the run stops."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoint = endpoints.postgres
        self.conn: store.Conn | None = None
        self.run_id = 0

    def start(self, params: ReconcileParams, trigger: str, folder: Path | None) -> int:
        self.conn = pg_connect(self.endpoint, autocommit=True)
        close_abandoned_runs(self.conn, folder)
        owned = {**params.as_dict(), store.OWNER_KEY: store.PROCESS_OWNED}
        self.run_id = store.start_run(self.conn, owned, trigger, guard=True)
        return self.run_id

    def hold(self) -> None:
        """Check that the run is still guarded; take the guard again if its session was
        lost. Raises a connection error if PostgreSQL cannot be reached, and
        :class:`RunAbandoned` if the run was ended meanwhile."""
        try:
            assert self.conn is not None
            self.conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            log.warning("reconcile run %s lost its PostgreSQL session (%s)", self.run_id, exc)
        self.close()
        self.conn = pg_connect(self.endpoint, autocommit=True)
        store.guard_run(self.conn, self.run_id)
        status = store.run_status(self.conn, self.run_id)
        if status != "running":
            raise RunAbandoned(
                f"reconcile run {self.run_id} lost its PostgreSQL session and was ended "
                f"({status}) as abandoned meanwhile; run reconcile again"
            )
        log.warning("reconcile run %s: guarded again on a new session", self.run_id)

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None


def stream_applier(endpoints: Endpoints, mapping: TableMapping) -> RepairApplier:
    """Repairs through the stream applier, tagged like the stream service (``MPS_PG_ORIGIN``,
    ``MPS_GTID_DOMAIN``)."""
    from mysql_pg_sync.cdc.service import config_from_env
    from mysql_pg_sync.reconcile.applier import StreamApplierRepairs

    return StreamApplierRepairs(endpoints, MappingSet((mapping,)), config_from_env().tags)


def still_running(state: store.Conn, run_id: int) -> None:
    """A task that starts after a later run closed this one as abandoned (its tasks waited
    hours for a pool slot) must not compare, repair or report into a closed run."""
    status = store.run_status(state, run_id)
    if status != "running":
        raise RunAbandoned(
            f"reconcile run {run_id} was ended ({status}) before this task ran: a later run "
            "found nothing working on it for hours and closed it as abandoned (its report "
            "says so). Nothing was done; trigger reconcile again"
        )


def record_result(
    state: store.Conn, run_id: int, mapping: TableMapping, result: TableResult
) -> TableResult:
    """Store a result the table got without being compared (a refusal, a skip)."""
    store.start_table(state, run_id, mapping.name, str(mapping.target))
    store.finish_table(state, run_id, mapping.name, result.as_dict())
    return result


def record_refusal(
    state: store.Conn, run_id: int, mapping: TableMapping, exc: ReconcileError
) -> TableResult:
    """A mapping reconcile refuses (e.g. a key column excluded): stored as that table's error."""
    result = TableResult(mapping.name, str(mapping.target), "error", str(exc))
    return record_result(state, run_id, mapping, result)


def reconcile_one(
    endpoints: Endpoints,
    run_id: int,
    mapping: TableMapping,
    params: ReconcileParams,
    applier: RepairApplier | None = None,
) -> dict[str, Any]:
    """Reconcile one mapped table; a mapping reconcile refuses is stored as that table's error,
    a table still backfilling as ``skipped`` or, its backfill stalled, an error
    (:func:`~mysql_pg_sync.reconcile.backfilling.backfill_result`).

    Repairs (``repair`` without ``dry_run``) go through the stream applier unless ``applier``
    is given."""
    if applier is None and params.repair and not params.dry_run:
        applier = stream_applier(endpoints, mapping)
    with pg_connect(endpoints.postgres) as state:
        with state.transaction():  # guarded while this session works on the run
            store.guard_run(state, run_id)
            still_running(state, run_id)
        held = backfill_result(state, mapping)
        if held is not None:
            return record_result(state, run_id, mapping, held).as_dict()
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
            offsets_waiter(endpoints, mapping, params.recheck_delay_s),
            applier,
        )
        return outcome.as_dict()


def finish_run(
    endpoints: Endpoints,
    run_id: int,
    folder: Path | None = None,
    expected: Sequence[tuple[str, str]] = (),
    error: str | None = None,
    stopped: bool = False,
) -> tuple[dict[str, Any], Path, Path]:
    """Store the run's status and write its JSON and HTML reports (with the finish time the
    run's row gets). ``stopped``: an exception ended the run, which is ``failed`` whatever its
    tables stored (its reports say so too).

    A table that never finished (still ``running``) or, of the ``expected`` (source, target)
    tables, never stored a result, is an ``error`` (``error`` says why, if the caller knows),
    and its planned repairs ``failed`` (interrupted): the run then ends ``failed``, never
    ``succeeded``."""
    with pg_connect(endpoints.postgres) as conn:
        with conn.transaction():
            store.guard_run(conn, run_id)
            still_running(conn, run_id)
        finished_at = store.close_run(conn, run_id, expected, error)
        run = finalize(store.load_run(conn, run_id, EXAMPLE_KEYS), finished_at)
        if stopped:
            run["status"] = "failed"
        json_path, html_path = write_reports(run, folder or reports_dir())
        store.finish_run(conn, run_id, run["status"], str(json_path), str(html_path), finished_at)
    return run, json_path, html_path


def record_table_error(
    endpoints: Endpoints, run_id: int, mapping: TableMapping, error: str
) -> None:
    """Store ``error`` as the table's result (replacing what its attempt stored)."""
    with pg_connect(endpoints.postgres) as state:
        record_refusal(state, run_id, mapping, ReconcileError(error))


def table_error(table: str, exc: Exception, endpoints: Endpoints) -> str:
    """A table's error for the report, logged: an unreachable database as it says, anything
    else as unexpected, with its traceback in the log."""
    unreachable = connection_failure(exc, endpoints)
    if unreachable is not None:
        log.error("%s: %s", table, unreachable)
        return str(unreachable)
    log.exception("%s: unexpected error", table)
    return (
        f"unexpected error {type(exc).__name__}: {exc}; the run went on with the other tables. "
        "Run reconcile again for this table; if it fails the same way, report it with the "
        "traceback from the log"
    )


def fail_run(
    endpoints: Endpoints,
    run_id: int,
    folder: Path | None,
    expected: Sequence[tuple[str, str]],
    error: str,
) -> None:
    """End a run that an exception stopped as ``failed``, its tables that stored no result
    carrying ``error``, with its reports if PostgreSQL still answers. Never raises: the caller
    raises the exception that stopped the run."""
    try:
        # every table may have stored a result (the stop came after them): the run was still
        # stopped, so neither its row nor its reports may read as in sync
        finish_run(endpoints, run_id, folder, expected, error, stopped=True)
        return
    except Exception as exc:
        log.error("reconcile run %s: could not write its reports: %s", run_id, exc)
    try:
        with pg_connect(endpoints.postgres) as conn:
            store.finish_run(conn, run_id, "failed", None, None)
    except Exception as exc:
        log.error(
            "reconcile run %s stays 'running': could not mark it failed (%s); it stopped: %s",
            run_id,
            exc,
            error,
        )


def reconcile_all(
    endpoints: Endpoints,
    params: ReconcileParams,
    trigger: str = "cli",
    folder: Path | None = None,
    applier: RepairApplier | None = None,
) -> tuple[dict[str, Any], Path, Path]:
    """A whole run in one process (the CLI): every selected table in turn, then the reports.

    A table whose database cannot be reached, or that fails unexpectedly, is that table's error
    and the run goes on (the run ends ``failed``). Anything else that stops the run (^C, or
    PostgreSQL, which holds the run's state, gone) ends it ``failed`` before it propagates; a
    connection failure propagates as :class:`DatabaseUnreachable`. What nothing could mark
    (the process killed, PostgreSQL unreachable to the end) a later run ends: this process
    guards the run (:class:`RunGuard`) until it returns."""
    mappings: Sequence[TableMapping] = selected_mappings(params)
    # this process guards the run to its end: if it dies, a later run ends this one as failed
    guard = RunGuard(endpoints)
    try:
        run_id = guard.start(params, trigger, folder)
    except Exception as exc:
        guard.close()
        unreachable = connection_failure(exc, endpoints)
        if unreachable is None:
            raise
        raise unreachable from exc
    expected = [(m.name, str(m.target)) for m in mappings]
    current = ""
    try:
        for mapping in mappings:
            current = mapping.name
            guard.hold()
            try:
                reconcile_one(endpoints, run_id, mapping, params, applier)
            except Exception as exc:
                error = table_error(mapping.name, exc, endpoints)
                # PostgreSQL holds the state: if it is what failed, this raises and stops the run
                record_table_error(endpoints, run_id, mapping, error)
        current = ""
        guard.hold()
        return finish_run(endpoints, run_id, folder, expected)
    except BaseException as exc:
        unreachable = connection_failure(exc, endpoints)
        cause = str(unreachable) if unreachable else f"{type(exc).__name__}: {exc}"
        where = f"at {current}" if current else "while it wrote its reports"
        if not isinstance(exc, RunAbandoned):  # else a later run ended it, with its reports
            fail_run(
                endpoints,
                run_id,
                folder,
                expected,
                f"not compared: the run stopped {where} ({cause}); fix that, then run "
                "reconcile again",
            )
        if unreachable is not None and unreachable is not exc:
            raise unreachable from exc
        raise
    finally:
        guard.close()
