"""The backfill's steps, called by the DAG's tasks, the CLI and the benchmark.

plan -> prepare -> copy (chunk groups, in parallel) -> finalize (per table) -> summarize.
Each step reads and writes the state in ``mps_sync`` so any step can be re-run: a re-triggered
run skips chunks that are done, and a chunk is either fully committed and ``done`` or absent.
"""

from __future__ import annotations

import logging
import math
import pickle
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from mysql_pg_sync.backfill import handoff, readers, report, state
from mysql_pg_sync.backfill.boundaries import (
    average_row_bytes,
    nullable_key_columns,
    tail_rows,
    walk_boundaries,
)
from mysql_pg_sync.backfill.conversion import Rejects, convert_batch
from mysql_pg_sync.backfill.finalize import finalize_table, unvalidated_foreign_keys
from mysql_pg_sync.backfill.keys import KeyEncodingError, encode_key
from mysql_pg_sync.backfill.plan import (
    DEFAULT_MAX_GROUPS,
    MAX_MAP_LENGTH,
    ChunkRef,
    PlanError,
    chunk_rows_for,
    chunks_from_boundaries,
    group_chunks,
    key_strategy,
)
from mysql_pg_sync.backfill.source_rows import SourceRows
from mysql_pg_sync.backfill.target import (
    TargetSchemaError,
    ensure_target,
    referencing_foreign_keys,
    target_has_rows,
    truncate_targets,
)
from mysql_pg_sync.backfill.unique_refresh import DuplicateUniqueValue
from mysql_pg_sync.backfill.writer import (
    ChunkCopyError,
    RowsRefused,
    TargetSpec,
    close_writer_session,
    write_chunk,
)
from mysql_pg_sync.cdc.events import Side
from mysql_pg_sync.cdc.loop_guard import DEFAULT_ORIGIN, backfill_origin, origin_pool
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConversionError, MappingError, SyncError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.recheck import CAUGHT_UP
from mysql_pg_sync.reconcile.stream_position import offsets_waiter
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.whole_numbers import as_whole

log = logging.getLogger(__name__)
PLAN_THREADS = 4  # tables planned (key walks) at once: each holds a MySQL and a PostgreSQL session
# the COPY sessions' origin pool (ADR 0012) when the caller gives none; the DAG and the CLI
# pass the one of MPS_PG_ORIGIN (loop_guard.tags_from_env)
BACKFILL_ORIGIN = backfill_origin(DEFAULT_ORIGIN)

Mode = Literal["create_missing", "resume", "reload"]
MODES: tuple[Mode, ...] = ("create_missing", "resume", "reload")


class BackfillError(SyncError):
    """A table cannot be backfilled as asked; the message says which and why."""


class ChunksNotDone(BackfillError):
    """A table cannot be finalized: some of its chunks are not done."""


class ChunkGroupError(BackfillError):
    """Chunks of a group failed; the group's other chunks were copied (``failures``: table,
    chunk seq and the error of each). ``settled``: every failure is :func:`is_settled`."""

    def __init__(self, failures: Sequence[tuple[str, int, str]], settled: bool = False) -> None:
        self.failures = [tuple(f) for f in failures]
        self.settled = settled
        lines = "; ".join(f"{t} #{seq}: {error}" for t, seq, error in self.failures)
        super().__init__(f"{len(self.failures)} chunk(s) of this group failed: {lines}")

    def __reduce__(self) -> Any:  # crosses the CLI's process pool
        return (type(self), (self.failures, self.settled))

    @property
    def tables(self) -> set[str]:
        return {str(f[0]) for f in self.failures}


# Failures that a retry of the same task meets again, unchanged: the data, the mapping or the
# target schema must change first. Retrying them only delays the run's end and its report.
# states in which the stream applies (or, paused, holds back) the table's changes; so does it
# for a table without a state (never backfilled: captured since `connectors apply`)
STREAMED = ("streaming", "paused")
RELOAD_CATCH_UP_S = 60.0

_SETTLED: tuple[type[BaseException], ...] = (
    ConversionError,
    RowsRefused,
    DuplicateUniqueValue,
    TargetSchemaError,
    MappingError,
    ChunksNotDone,
    handoff.PositionLost,
)


def refused_selection(mappings: MappingSet, patterns: Sequence[str]) -> str | None:
    """What is wrong when a name or glob of ``patterns`` selects only tables the backfill
    refuses (``enabled: false``, no usable key, PostgreSQL not a target), else None: such a
    run would end green having copied nothing. A name no mapping has is left to the caller's
    match, which lists the known tables."""
    problems = []
    for pattern in patterns:
        try:
            found = mappings.match([pattern])
        except MappingError:
            return None
        reasons = [(m.name, refusal(m)) for m in found]
        if all(reason is not None for _, reason in reasons):
            problems.append(
                f"{pattern!r} selects no table the backfill can copy: "
                + "; ".join(f"{name} is refused ({reason})" for name, reason in reasons)
            )
    if not problems:
        return None
    return (
        "; ".join(problems)
        + "; nothing was planned or copied. Leave it out of the tables to copy (Param `tables`, "
        "CLI --tables), or fix its mapping first"
    )


def is_settled(exc: BaseException) -> bool:
    """True for a failure no retry can get past (see ``_SETTLED``)."""
    if isinstance(exc, ChunkGroupError):
        return exc.settled
    return isinstance(exc, _SETTLED)


# chunks copied at once, at most: each is a MySQL reader and a PostgreSQL COPY session (and, from
# the CLI, a forked worker process); the DAG's max_parallel Param has the same maximum
MAX_PARALLEL = 16
# The largest chunk targets. Far above any useful chunk (a chunk is one task's transaction),
# and far below what breaks the plan: a larger value failed it with a MySQL syntax error
# (OFFSET past 2^64) or a Python OverflowError, naming no option, after two retries.
CHUNK_ROWS_MAX = 1_000_000_000
CHUNK_MB_MAX = 1_048_576  # 1 TiB
CHUNK_ROWS_RANGE = (
    f">= 1, or 0 (or empty) for each mapping's backfill.chunk_rows; at most {CHUNK_ROWS_MAX:_}"
)
CHUNK_MB_RANGE = f"> 0 (empty for each mapping's backfill.chunk_mb); at most {CHUNK_MB_MAX:_}"


def _check_whole(
    name: str, value: object, minimum: int, allowed: str, maximum: int | None = None
) -> int:
    whole = as_whole(value)
    if whole is None or whole < minimum or (maximum is not None and whole > maximum):
        raise BackfillError(f"{name}={value!r} is out of range: use a whole number {allowed}")
    return whole


def _check_chunk_mb(value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
        or value > CHUNK_MB_MAX
    ):
        raise BackfillError(f"chunk_mb={value!r} is out of range: use a number {CHUNK_MB_RANGE}")


@dataclass(frozen=True)
class RunOptions:
    """What the DAG's trigger form (or the CLI) asks for."""

    tables: tuple[str, ...] = ()  # MySQL db.table, PostgreSQL schema.table, bare names or globs
    chunk_rows: int | None = None  # None or 0: the mapping's backfill.chunk_rows
    chunk_mb: float | None = None  # None: the mapping's backfill.chunk_mb
    max_parallel: int = 2
    mode: Mode = "create_missing"
    dry_run: bool = False
    batch_rows: int = readers.DEFAULT_BATCH_ROWS
    max_groups: int = DEFAULT_MAX_GROUPS
    strict_counts: bool = False  # fail finalize when counts differ (quiet sources, tests)

    def __post_init__(self) -> None:
        # Checked here, not only by the CLI's argparse and the DAG's Params: a negative
        # chunk_rows was clamped to 1-row chunks by chunk_rows_for, planning one chunk per row.
        if self.mode not in MODES:
            raise BackfillError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        # frozen: a form's 250000.0 is stored as 250000
        if self.chunk_rows is not None:
            whole = _check_whole(
                "chunk_rows", self.chunk_rows, 0, CHUNK_ROWS_RANGE, maximum=CHUNK_ROWS_MAX
            )
            object.__setattr__(self, "chunk_rows", whole)
        if self.chunk_mb is not None:
            _check_chunk_mb(self.chunk_mb)
        parallel = _check_whole(
            "max_parallel", self.max_parallel, 1, f"1 to {MAX_PARALLEL}", maximum=MAX_PARALLEL
        )
        object.__setattr__(self, "max_parallel", parallel)
        object.__setattr__(
            self, "batch_rows", _check_whole("batch_rows", self.batch_rows, 1, ">= 1")
        )
        groups = _check_whole(
            "max_groups", self.max_groups, 1, f"1 to {MAX_MAP_LENGTH}", maximum=MAX_MAP_LENGTH
        )
        object.__setattr__(self, "max_groups", groups)


@dataclass
class PlanOutcome:
    tables: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    groups: list[list[ChunkRef]] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)  # backfilled before; use mode=reload

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "refused": self.refused,
            "finished": self.finished,
            "groups": [[list(ref) for ref in group] for group in self.groups],
        }


@dataclass
class FinalizeOutcome:
    """:meth:`Backfill.finalize_all`: each finalized table's result, each failed one's error."""

    results: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)  # {table, error}
    settled: bool = True  # every failure is one no retry gets past (see is_settled)

    def raise_for_failures(self) -> None:
        if self.failures:
            raise BackfillError(
                f"{len(self.failures)} table(s) could not be finalized; they stay "
                "'backfilling' (their stream stays paused), every other table is streaming:\n  - "
                + "\n  - ".join(f"{f['table']}: {f['error']}" for f in self.failures)
                + "\nfix the cause, then re-trigger the backfill with mode=resume "
                "(finalized tables are skipped)"
            )


@dataclass
class _Prepared:
    """What :meth:`Backfill.prepare_all` found for one table before it changes any state."""

    mapping: TableMapping
    created: bool
    position: dict[str, Any] | None
    new_position: bool  # False: resuming, the position recorded first is kept
    truncate: bool


def raise_if_unfinished(summary: dict[str, Any], verified: dict[str, Any] | None) -> None:
    """Fail a run whose summary has tables that are not finalized, whose verify did not end,
    or whose verify found drift or could not compare a table (the DAG's summary task runs
    after failed steps too, so the report is always written)."""
    problems = [f"{table}: {why}" for table, why in summary.get("unfinished", {}).items()]
    if verified is None:
        problems.append("verify did not finish (see the verify task's log)")
    if problems:
        raise BackfillError(
            "the backfill did not finish; the run report lists each table's state:\n  - "
            + "\n  - ".join(problems)
            + "\nfix the cause, then re-trigger with mode=resume (finalized tables are skipped)"
        )
    for line in report.verify_unsettled(verified or {}):  # not a failure: in flight, maybe
        log.warning("verify: %s", line)
    failed_checks = report.verify_problems(verified or {})
    if failed_checks:
        reconcile_report = (verified or {}).get("report")
        raise BackfillError(
            "the backfill copied every table, but its verification did not pass (after the "
            "stream caught up, so these are not in-flight writes):\n  - "
            + "\n  - ".join(failed_checks)
            + (f"\nthe rows are in reconcile report {reconcile_report}" if reconcile_report else "")
            + "\nrepair with the reconcile DAG (tables: these, repair on, dry_run off), or "
            "re-copy a table with mode=reload"
        )


def refusal(mapping: TableMapping) -> str | None:
    """Why a table cannot be backfilled, or None."""
    if mapping.unsupported:
        return f"unsupported: {mapping.unsupported}"
    if not mapping.key:
        return "no usable key (primary key or unique NOT NULL key); chunks could not be replaced"
    if not mapping.enabled:
        return "enabled: false in its mapping"
    if not mapping.replicates_to_pg():
        return f"direction is {mapping.direction}: PostgreSQL is not a target"
    return None


class Backfill:
    """The backfill of a set of mappings between two endpoints."""

    def __init__(
        self,
        endpoints: Endpoints,
        mappings: MappingSet,
        *,
        capture_check: handoff.CaptureCheck,
        position_reader: handoff.PositionReader,
        reports_dir: Path,
        write_origin: str | None = BACKFILL_ORIGIN,
        watermark_reader: handoff.WatermarkReader | None = None,
        pg_changes_applied: Callable[[TableMapping], str] | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.mappings = mappings
        self.capture_check = capture_check
        self.position_reader = position_reader
        # Checks that Kafka still holds a kept position (resume, finalize); by default the
        # position reader's own (handoff.KafkaEndOffsets.watermarks). None: not checked.
        self.watermark_reader = watermark_reader
        # A reload of a table PostgreSQL writes to waits until the stream has applied
        # PostgreSQL's changes to MySQL (a recheck outcome: CAUGHT_UP or not); by default the
        # stream's applied offsets against the end of the table's PostgreSQL topic
        self.pg_changes_applied = pg_changes_applied or self._pg_changes_applied
        self.reports_dir = reports_dir
        # Each COPY session leases an origin of the backfill's pool: the PostgreSQL source drops
        # the copied rows' events, and the stream drops any that pass (docs/backfill.md).
        self.origins = origin_pool(write_origin) if write_origin else []
        # prepare_all runs tables side by side; their DDL shares schemas and may race on
        # CREATE SCHEMA IF NOT EXISTS (not safe between concurrent transactions)
        self._ddl = threading.Lock()

    # -- selection ----------------------------------------------------------------------------

    def select(self, patterns: Sequence[str]) -> tuple[list[TableMapping], list[dict[str, str]]]:
        """(tables to copy, refused tables with reasons); a name or glob that selects only
        refused tables raises (:func:`refused_selection`)."""
        if not patterns:
            candidates = [m for m in self.mappings.tables if m.enabled]
        else:
            try:
                candidates = list(self.mappings.match(patterns))
            except MappingError as exc:
                raise BackfillError(str(exc)) from None
        problem = refused_selection(self.mappings, patterns)
        if problem is not None:
            raise BackfillError(problem)
        chosen, refused = [], []
        for mapping in sorted(candidates, key=lambda m: (m.backfill.order, m.name)):
            reason = refusal(mapping)
            if reason is None:
                chosen.append(mapping)
                continue
            log.warning("%s: refused: %s", mapping.name, reason)
            refused.append({"table": mapping.name, "reason": reason})
        return chosen, refused

    # -- plan ---------------------------------------------------------------------------------

    def plan(self, options: RunOptions) -> PlanOutcome:
        """Plan the selected tables, or keep their existing plans (``mode=reload`` re-plans).

        A dry run reads the existing plans too, so it reports what the run would do (which
        tables resume, which chunks are still to copy), and writes nothing."""
        tables, refused = self.select(options.tables)
        outcome = PlanOutcome(refused=refused)
        with self._pg() as pg_conn:
            if options.mode == "reload":  # before anything is re-planned
                refuse_reload_of_postgres_only_columns(tables)
                self._refuse_referenced(pg_conn, tables)
            if not options.dry_run:
                ensure_schema(pg_conn)
            has_state = not options.dry_run or state.has_state(pg_conn)
            if options.mode == "resume":  # before any key walk, naming every such table
                self._refuse_unplanned(pg_conn, tables, has_state=has_state)
            # each table's key walk scans its key index: tables are walked side by side
            with ThreadPoolExecutor(max(1, min(PLAN_THREADS, len(tables)))) as walkers:
                walked = walkers.map(lambda m: self._plan_one(m, options, has_state), tables)
                for planned in walked:
                    if planned["action"] == "finished":
                        outcome.finished.append(planned["table"])
                    else:
                        outcome.tables.append(planned)
            fill: dict[ChunkRef, float] = {}
            for planned in outcome.tables:
                if options.dry_run and planned["action"] == "planned":  # not stored: as it would be
                    last = planned["chunks"] - 1
                    tail = planned["tail_rows"] / max(planned["chunk_rows"], 1)
                    fill.update(
                        ((planned["table"], seq), tail if seq == last else 1.0)
                        for seq in range(planned["chunks"])
                    )
                else:
                    fill.update(state.pending_fill(pg_conn, [planned["table"]]))
            outcome.groups = group_chunks(
                list(fill), options.max_groups, fill, parallel=options.max_parallel
            )
        log.info(
            "plan%s: %d table(s), %d refused, %d chunk group(s)",
            " (dry run, nothing written)" if options.dry_run else "",
            len(outcome.tables),
            len(outcome.refused),
            len(outcome.groups),
        )
        return outcome

    def _refuse_unplanned(
        self, pg_conn: Any, tables: Sequence[TableMapping], *, has_state: bool
    ) -> None:
        """``mode=resume`` only continues existing plans: refuse tables that have none."""
        unplanned = [
            m.name for m in tables if not has_state or state.load_plan(pg_conn, m.name) is None
        ]
        if unplanned:
            raise BackfillError(
                f"mode=resume continues an existing plan, but {len(unplanned)} table(s) have "
                "none"
                + ("" if has_state else " (no backfill ran in this database yet)")
                + ": "
                + ", ".join(unplanned)
                + "; nothing was planned or copied. Use mode=create_missing: it plans these "
                "tables and continues the planned ones"
            )

    def _plan_one(
        self, mapping: TableMapping, options: RunOptions, has_state: bool
    ) -> dict[str, Any]:
        with self._pg() as pg_conn, self._mysql() as mysql_conn:
            return self._plan_table(pg_conn, mysql_conn, mapping, options, has_state)

    def _plan_table(
        self,
        pg_conn: Any,
        mysql_conn: Any,
        mapping: TableMapping,
        options: RunOptions,
        has_state: bool = True,
    ) -> dict[str, Any]:
        existing = state.load_plan(pg_conn, mapping.name) if has_state else None
        if existing is not None and options.mode != "reload":
            if state.is_finalized(pg_conn, mapping.name):
                log.info("%s: already backfilled and streaming; skipped", mapping.name)
                return {"table": mapping.name, "action": "finished"}
            states = state.chunk_states(pg_conn, mapping.name)
            to_copy = [seq for _, seq in state.pending_chunks(pg_conn, [mapping.name])]
            log.info(
                "%s: %s the existing plan (%s); %d chunk(s) to copy%s%s",
                mapping.name,
                "a run would keep" if options.dry_run else "keeping",
                states,
                len(to_copy),
                f" (#{_seq_ranges(to_copy)})" if to_copy else "",
                # its chunks are cut already: another size would need mode=reload
                f"; chunk_rows={options.chunk_rows} does not apply to a kept plan"
                if options.chunk_rows
                else "",
            )
            return {
                "table": mapping.name,
                "action": "resume",
                "chunks": sum(states.values()),
                **states,
                "to_copy": len(to_copy),
                "to_copy_seqs": _seq_ranges(to_copy),
                "chunk_rows": existing.chunk_rows,
                "strategy": existing.strategy,
                "reader": existing.reader,
                "first_error": state.first_chunk_error(pg_conn, mapping.name),
            }
        if options.mode == "resume":  # plan() refuses these first; kept for direct callers
            raise BackfillError(
                f"{mapping.name}: mode=resume but the table has no plan; use mode=create_missing"
            )
        reader, why = readers.choose_reader(mapping)
        log.info("%s: reader %s (%s)", mapping.name, reader, why)
        strategy = key_strategy(
            [mapping.column(k).kind for k in mapping.key],
            mapping.backfill.key_hint,
            table=mapping.name,
        )
        rows_per_chunk = chunk_rows_for(
            options.chunk_rows or (None if options.chunk_mb else mapping.backfill.chunk_rows),
            options.chunk_mb or mapping.backfill.chunk_mb,
            average_row_bytes(mysql_conn, mapping.source.db, mapping.source.table),
        )
        nullable = nullable_key_columns(
            mysql_conn, mapping.source.db, mapping.source.table, mapping.key
        )
        if nullable:
            raise PlanError(
                f"{mapping.name}: key column(s) {', '.join(nullable)} allow NULL in MySQL; a "
                "row whose key holds a NULL is in no chunk's key range and would be left out "
                "of the copy without a word. Make them NOT NULL in MySQL, or give the mapping "
                "a primary key or a unique key over NOT NULL columns"
            )
        started = time.monotonic()
        try:
            boundaries = walk_boundaries(
                mysql_conn, mapping.source.db, mapping.source.table, mapping.key, rows_per_chunk
            )
            for boundary in boundaries:  # as save_plan stores them: a dry run fails alike
                encode_key(boundary)
        except KeyEncodingError as exc:
            kinds = ", ".join(f"{k} ({mapping.column(k).column_type})" for k in mapping.key)
            raise PlanError(
                f"{mapping.name}: its key ({kinds}) cannot be split into chunks: {exc}; give "
                "the mapping another unique NOT NULL key, or a chunk_rows above its row count "
                "(one chunk needs no boundary)"
            ) from None
        tail = tail_rows(
            mysql_conn,
            mapping.source.db,
            mapping.source.table,
            mapping.key,
            boundaries[-1] if boundaries else None,
            rows_per_chunk,
        )
        chunks = chunks_from_boundaries(
            mapping.name,
            boundaries,
            strategy=strategy,
            chunk_rows=rows_per_chunk,
            tail_rows=tail,
        )
        log.info(
            "%s: %d chunk(s) of ~%d rows, %s keys, boundaries walked in %.1f s",
            mapping.name,
            len(chunks),
            rows_per_chunk,
            strategy,
            time.monotonic() - started,
        )
        if not options.dry_run:
            table_plan = state.TablePlan(
                mapping.name, str(mapping.target), mapping.key, strategy, reader, rows_per_chunk
            )
            state.save_plan(pg_conn, table_plan, chunks)
        return {
            "table": mapping.name,
            "action": "planned",
            "chunks": len(chunks),
            "chunk_rows": rows_per_chunk,
            "tail_rows": tail,
            "strategy": strategy,
            "reader": reader,
            "reader_reason": why,
        }

    # -- prepare ------------------------------------------------------------------------------

    def prepare_all(self, options: RunOptions, tables: Sequence[str]) -> list[dict[str, Any]]:
        """Check or create each target, then hand each table over to the backfill; the results
        in the order of ``tables``.

        The checks (and each table's Kafka position) run for several tables at once and change
        no state. Then one transaction marks every table ``backfilling`` with its position and
        empties the tables ``mode=reload`` copies again, all in one TRUNCATE: a parent and the
        children referencing it can only be emptied together. A failure leaves every table as
        it was (a table left ``backfilling`` keeps its stream paused)."""
        try:
            with ThreadPoolExecutor(max(1, min(PLAN_THREADS, len(tables)))) as preparers:
                checked = list(preparers.map(lambda t: self._check_prepare(options, t), tables))
        except Exception as exc:
            with self._pg() as pg_conn:  # for finalize and the report: the cause, not a guess
                state.mark_prepare_failed(pg_conn, tables, str(exc))
            raise
        finally:
            self._close_position_reader()
        truncated = [p.mapping for p in checked if p.truncate]
        with self._pg() as pg_conn:
            self._refuse_referenced(pg_conn, truncated)
            with pg_conn.transaction():
                state.lock_handoff(pg_conn, [p.mapping.name for p in checked])
                for p in checked:
                    if p.new_position:
                        state.set_table_state(
                            pg_conn,
                            p.mapping.name,
                            str(p.mapping.target),
                            "backfilling",
                            kafka_position=p.position,
                            note="backfill: stream paused until the copy is done",
                        )
                if truncated:
                    truncate_targets(pg_conn, truncated, self.origins)
                for p in checked:
                    state.mark_prepared(pg_conn, p.mapping.name)
        for p in checked:
            log.info(
                "%s: backfilling; %s Kafka position %s%s",
                p.mapping.name,
                "recorded" if p.new_position else "resuming with the recorded",
                handoff.describe(p.position),
                "; target emptied (mode=reload)" if p.truncate else "",
            )
        return [
            {"table": p.mapping.name, "created": p.created, "kafka_position": p.position}
            for p in checked
        ]

    def prepare(self, options: RunOptions, table: str) -> dict[str, Any]:
        """Check or create the target, then the streaming handoff, before any chunk of ``table``."""
        return self.prepare_all(options, [table])[0]

    def _check_prepare(self, options: RunOptions, table: str) -> _Prepared:
        """Everything :meth:`prepare_all` checks for one table; changes no state."""
        mapping = self.mappings.by_source(table)
        with self._pg() as pg_conn:
            with self._ddl:
                created = ensure_target(
                    pg_conn, mapping, self.mappings, create=options.mode != "resume"
                )
            done = state.chunk_states(pg_conn, mapping.name).get("done", 0)
            foreign_rows = done == 0 and not created and target_has_rows(pg_conn, mapping)
            current = state.get_table_state(pg_conn, mapping.name)
            if foreign_rows and options.mode != "reload" and current and current[0] == "streaming":
                raise BackfillError(
                    f"{mapping.name}: its chunk plan was replaced by a reload that never copied "
                    "a chunk (`backfill plan --mode reload` stores the plan it shows: add "
                    "--dry-run to only look, or a reload run failed before its copy), while "
                    f"{mapping.target} holds the rows of the backfill that finished before and "
                    "the table streams. Run it with mode=reload to do that reload "
                    f'(`make cli ARGS="backfill run --tables {mapping.name} --mode reload"`); '
                    "nothing was changed"
                )
            if foreign_rows and options.mode != "reload":
                raise BackfillError(
                    f"{mapping.name}: target {mapping.target} already holds rows this backfill "
                    "did not write"
                    + (
                        " (the stream applies a table's changes as soon as its connector "
                        "captures it, so rows the app wrote since `connectors apply` may be "
                        "there, or they were loaded another way)"
                        if current is None
                        else ""
                    )
                    + "; run it with mode=reload: it empties the target, records a new stream "
                    "position and copies every row, and the changes made since are replayed, "
                    f'so nothing is lost (`make cli ARGS="backfill run --tables {mapping.name} '
                    "--mode reload\"`, or mode reload in the backfill DAG's form)"
                )
        truncate = done == 0 and options.mode == "reload"
        if truncate and mapping.replicates_to_mysql() and (not current or current[0] in STREAMED):
            self._refuse_unapplied_pg_changes(mapping)
        resuming = options.mode != "reload" and current is not None and current[0] == "backfilling"
        if resuming and current is not None and current[1] is not None:
            self._check_position_held(mapping.name, current[1], "cannot resume: nothing was copied")
            return _Prepared(mapping, created, current[1], False, truncate)
        topic = self.capture_check(mapping)
        return _Prepared(mapping, created, self.position_reader(topic), True, truncate)

    def _pg_changes_applied(self, mapping: TableMapping) -> str:
        from_pg: tuple[Side, ...] = ("postgres",)
        waiter = offsets_waiter(self.endpoints, mapping, RELOAD_CATCH_UP_S, sides=from_pg)
        return waiter.wait(mapping.name)

    def _refuse_unapplied_pg_changes(self, mapping: TableMapping) -> None:
        """A reload copies MySQL's rows over PostgreSQL's: a PostgreSQL change still in Kafka
        would reach MySQL alone after it (its echo dropped), and the sides differ for good."""
        if self.pg_changes_applied(mapping) == CAUGHT_UP:
            return
        raise BackfillError(
            f"{mapping.name}: not reloaded, nothing was changed: changes the PostgreSQL app made "
            f"to {mapping.target} still wait in Kafka for the stream to apply them to MySQL "
            f"(waited up to {RELOAD_CATCH_UP_S:.0f} s). A reload now would copy MySQL's rows "
            "without them over PostgreSQL's, and the stream would then apply them to MySQL "
            "alone. Let the stream catch up first (the stream DAG unpaused and running, the "
            "table not paused; its lag: `make cli ARGS=status`), then run the reload again"
        )

    def _check_position_held(self, table: str, position: Any, when: str) -> None:
        """Refuse (:class:`handoff.PositionLost`) a recorded position whose changes Kafka's
        retention has deleted: the replay from it would skip them without a word."""
        read = self.watermark_reader or getattr(self.position_reader, "watermarks", None)
        if read is None:
            log.warning("%s: Kafka's retention of the recorded position not checked", table)
            return
        handoff.check_position_held(table, position, read, when=when)

    def _close_position_reader(self) -> None:
        """A reader that keeps a Kafka consumer for all tables (:class:`handoff.KafkaEndOffsets`)
        closes it: the CLI forks its copy workers next, with no client of the parent open."""
        close = getattr(self.position_reader, "close", None)
        if close is not None:
            close()

    def _refuse_referenced(self, pg_conn: Any, emptied: Sequence[TableMapping]) -> None:
        """Refuse to empty a target that a table outside ``emptied`` references with a foreign
        key: PostgreSQL refuses such a TRUNCATE, and emptying the parent alone would leave the
        children without their parents until the copy is done."""
        targets = {(m.target.schema, m.target.table) for m in emptied}
        problems = []
        children: list[str] = []
        for mapping in emptied:
            for schema, table, constraint in referencing_foreign_keys(pg_conn, mapping):
                if (schema, table) in targets:
                    continue
                child = self.mappings.find_target(f"{schema}.{table}")
                problems.append(
                    f"{schema}.{table} references {mapping.target} ({mapping.name}) with "
                    f"foreign key {constraint}"
                    + (f" (mapping {child.name})" if child else " (no mapping: not synced)")
                )
                if child is not None and child.name not in children:
                    children.append(child.name)
        if problems:
            tables = [m.name for m in emptied] + children
            raise BackfillError(
                "mode=reload must empty the target tables first, but other tables reference "
                "them; nothing was changed:\n  - "
                + "\n  - ".join(problems)
                + "\nreload the referencing tables in the same run (tables: "
                + ", ".join(tables)
                + "); a table no mapping syncs needs its foreign key dropped first (finalize "
                "adds the synced ones again)"
            )

    # -- copy ---------------------------------------------------------------------------------

    def release(self) -> None:
        """Close the PostgreSQL session this process kept between chunks (and free its
        replication origin); a task that copies its last chunk calls it."""
        close_writer_session()

    def copy_group(
        self, group: Iterable[Sequence[Any]], run_id: str, batch_rows: int
    ) -> list[dict[str, Any]]:
        """Copy each chunk; one that fails on its own data or table (a :class:`SyncError`:
        conversion, schema) does not keep the group's other chunks, often other small tables
        (see ``group_chunks``), from being copied. Any other error (a server gone) ends the
        group at once, for the retry."""
        refs = [(str(ref[0]), int(ref[1])) for ref in group]
        results: list[dict[str, Any]] = []
        failures: list[tuple[str, int, str]] = []
        errors: list[SyncError] = []
        for index, ref in enumerate(refs):
            try:
                results.append(self.copy_chunk(ref, run_id, batch_rows))
            except SyncError as exc:
                log.error("%s #%d failed: %s; copying the group's other chunks", *ref, exc)
                failures.append((*ref, f"{type(exc).__name__}: {exc}"))
                errors.append(exc)
            except Exception as exc:
                self._note_not_reached(refs[index + 1 :], run_id, ref, exc)
                portable = _portable(exc)
                if portable is exc:
                    raise
                raise portable from exc
        if len(refs) == 1 and errors:
            raise errors[0]
        if failures:
            raise ChunkGroupError(failures, settled=all(is_settled(e) for e in errors))
        return results

    def _note_not_reached(
        self, refs: Sequence[ChunkRef], run_id: str, stopped_at: ChunkRef, exc: Exception
    ) -> None:
        """Record on each chunk the task did not reach why it was not copied: finalize then
        names the cause instead of "not done" alone, or an earlier run's error."""
        if not refs:
            return
        why = (
            f"not copied by run {run_id}: its copy task stopped at {stopped_at[0]} "
            f"#{stopped_at[1]} ({type(exc).__name__}: {exc}) before reaching it; "
            "resume copies it"
        )
        try:
            with self._pg() as pg_conn:
                for ref in refs:
                    state.mark_not_reached(pg_conn, ref, run_id, why)
        except Exception:  # PostgreSQL itself is gone; the task's error still names the cause
            log.exception("could not record why %d chunk(s) were not copied", len(refs))

    def copy_chunk(self, ref: ChunkRef, run_id: str, batch_rows: int) -> dict[str, Any]:
        with self._pg() as pg_conn:
            chunk, chunk_state = state.load_chunk(pg_conn, ref)
            if chunk_state == "done":
                return {"table": ref[0], "seq": ref[1], "skipped": "done"}
            table_plan = state.load_plan(pg_conn, ref[0])
            assert table_plan is not None
            state.mark_running(pg_conn, ref, run_id)
            mapping = self.mappings.by_source(ref[0])
            try:
                try:
                    result = self._copy(
                        mapping, table_plan, chunk, table_plan.reader, batch_rows, run_id
                    )
                except readers.ReaderUnavailable as exc:
                    log.warning(
                        "%s #%d: connectorx cannot read this chunk (%s); re-reading with %s",
                        ref[0],
                        ref[1],
                        exc,
                        readers.FALLBACK,
                    )
                    result = self._copy(
                        mapping, table_plan, chunk, readers.FALLBACK, batch_rows, run_id
                    )
            except BaseException as exc:
                try:
                    state.mark_failed(pg_conn, ref, f"{type(exc).__name__}: {exc}")
                except Exception:  # PostgreSQL itself is gone; the retry will see 'running'
                    log.exception("could not record the failure of %s #%d", *ref)
                raise
        mb = result.bytes / 1e6
        seconds = max(result.duration_s, 1e-9)
        log.info(
            "%s #%d: %d rows, %.1f MB in %.2f s: %.0f rows/s, %.1f MB/s (%s)%s",
            ref[0],
            ref[1],
            result.rows,
            mb,
            seconds,
            result.rows / seconds,
            mb / seconds,
            result.reader,
            f"; {result.rejected} row(s) rejected, see {state.REJECTS_TABLE}"
            if result.rejected
            else "",
        )
        if result.refreshed:
            log.info(
                "%s #%d: %d row(s) of earlier chunks refreshed from MySQL: they held unique "
                "values this chunk's rows have now",
                ref[0],
                ref[1],
                result.refreshed,
            )
        return {"table": ref[0], "seq": ref[1], **asdict(result)}

    def _copy(
        self,
        mapping: TableMapping,
        table_plan: state.TablePlan,
        chunk: Any,
        reader: str,
        batch_rows: int,
        run_id: str = "",
    ) -> state.ChunkResult:
        # reject: conversion fills it as the COPY pulls batches; fail: conversion raises instead
        rejects = Rejects() if mapping.backfill.on_bad_value == "reject" else None
        source = SourceRows(
            self.endpoints.mysql,
            mapping,
            table_plan.key_columns,
            chunk,
            reader,
            batch_rows,
            rejects,
            convert=convert_batch,
        )
        schema, batches = source.read_chunk()
        target = TargetSpec(
            mapping.target.schema,
            mapping.target.table,
            tuple(c.pg_name for c in mapping.synced_columns()),
            mapping.pg_key,
            table_plan.strategy,
        )
        try:
            result = write_chunk(
                self.endpoints.postgres,
                target,
                chunk,
                schema,
                batches,
                reader=reader,
                origins=self.origins,
                rejects=rejects,
                run_id=run_id,
                source=source,
            )
        finally:
            # A chunk that failed mid-read leaves the reader suspended, and the error's traceback
            # keeps it alive: its MySQL session would hold the read's open transaction, and with
            # it a metadata lock that blocks every ALTER or DROP of the table, until collected.
            close = getattr(batches, "close", None)
            if close is not None:
                close()
        stats = source.stats  # of the read that was written
        # logged once committed: each one is in the reject table now
        for row in rejects.rows if rejects else ():
            log.warning(
                "%s #%d: row rejected, not copied: %s: %s (in %s)",
                mapping.name,
                chunk.seq,
                row.describe(),
                row.error,
                state.REJECTS_TABLE,
            )
        if stats.by_column:
            log.warning("%s #%d: values changed on purpose: %s", mapping.name, chunk.seq, stats)
        return result

    # -- finalize and summary -----------------------------------------------------------------

    def finalize(self, table: str, *, strict_counts: bool = False) -> dict[str, Any]:
        mapping = self.mappings.by_source(table)
        with self._pg() as pg_conn, self._mysql() as mysql_conn:
            states = state.chunk_states(pg_conn, table)
            not_done = sum(n for s, n in states.items() if s != "done")
            if not_done and (refused := state.prepare_failure(pg_conn, table)) is not None:
                raise ChunksNotDone(
                    f"{table}: nothing was copied: the run's prepare step failed: {refused}; "
                    "fix that, then trigger the backfill again"
                )
            if not_done:
                failed = state.first_chunk_error(pg_conn, table)
                raise ChunksNotDone(
                    f"{table}: {not_done} chunk(s) are not done ({states})"
                    + (
                        f"; first failed chunk {failed}"
                        if failed
                        else "; none recorded an error: their copy task ended before them "
                        "(a killed worker, or a failure outside the chunks: see the copy task's "
                        "log)"
                    )
                    + "; fix the cause and re-trigger the backfill with mode=resume to finish them"
                )
            result = finalize_table(pg_conn, mysql_conn, mapping, self.mappings)
            rejected = state.table_totals(pg_conn, table)["rejected"]
            counts_match = result.source_rows == result.target_rows + rejected
            if not counts_match:
                message = (
                    f"{table}: MySQL has {result.source_rows} rows, "
                    f"PostgreSQL {result.target_rows}"
                    + (f" + {rejected} rejected" if rejected else "")
                    + " (expected while MySQL takes writes: the stream replay closes the gap)"
                )
                if strict_counts:
                    raise BackfillError(message)
                log.warning(message)
            # last, just before the stream takes over: the copy and the index builds may have
            # taken longer than the topic's retention
            current = state.get_table_state(pg_conn, table)
            try:
                self._check_position_held(
                    table,
                    current[1] if current else None,
                    "not finalized: handing it to the stream now would lose changes",
                )
            finally:
                self._close_position_reader()
            # together: "finalized" means streaming, so a retry may skip a finalized table
            with pg_conn.transaction():
                state.mark_finalized(pg_conn, table, result.source_rows, result.target_rows)
                state.set_table_state(
                    pg_conn,
                    table,
                    str(mapping.target),
                    "streaming",
                    note="backfill done: the consumer replays from kafka_position",
                )
        if rejected:
            log.warning(
                "%s: %d row(s) rejected and not copied; they are listed in %s "
                "(fix them in MySQL and the stream carries them over, or fix the mapping and "
                "copy their chunks again; docs/backfill.md)",
                table,
                rejected,
                state.REJECTS_TABLE,
            )
        return {
            "table": table,
            **asdict(result),
            "rejected": rejected,
            "counts_match": counts_match,  # source rows = copied + rejected
        }

    def finalize_all(
        self, tables: Sequence[str], *, strict_counts: bool = False
    ) -> FinalizeOutcome:
        """:meth:`finalize` each table; one that fails does not keep the others from streaming.

        A table finalized already (by an earlier try of this step) is skipped. Each failure is
        logged and recorded for the run summary; :meth:`FinalizeOutcome.raise_for_failures`
        then names them all."""
        outcome = FinalizeOutcome()
        for table in tables:
            with self._pg() as pg_conn:
                finalized = state.is_finalized(pg_conn, table)
            if finalized:
                outcome.results.append({"table": table, "skipped": "already finalized"})
                continue
            try:
                outcome.results.append(self.finalize(table, strict_counts=strict_counts))
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: not finalized; its stream stays paused", table)
                outcome.failures.append({"table": table, "error": error})
                outcome.settled = outcome.settled and is_settled(exc)
                try:
                    with self._pg() as pg_conn:
                        state.record_finalize_failure(pg_conn, table, error)
                except Exception:  # PostgreSQL itself is gone: the task's error still names it
                    log.exception("could not record why %s was not finalized", table)
        return outcome

    def finalized_tables(self, tables: Sequence[str]) -> list[str]:
        """The tables among ``tables`` that are finalized (and so streaming)."""
        with self._pg() as pg_conn:
            return [t for t in tables if state.is_finalized(pg_conn, t)]

    def summarize(
        self,
        run_id: str,
        tables: Sequence[str],
        wall_s: float | None = None,
        passed_over: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The run's summary and report; ``passed_over``: the plan's ``finished`` (already
        streaming) and ``refused`` tables, which the report lists beside the copied ones."""
        with self._pg() as pg_conn:
            per_table = {
                t: {
                    **state.table_totals(pg_conn, t, run_id),
                    **state.table_outcome(pg_conn, t),
                    "unvalidated_foreign_keys": unvalidated_foreign_keys(
                        pg_conn, self.mappings.by_source(t)
                    ),
                }
                for t in tables
            }
            # the load's wall time, as the CLI times it: up to the last table's finalize, not
            # the verify that follows (it halved the DAG's rows/s against the CLI's); up to
            # now while a table of the run is not finalized
            row = pg_conn.execute(
                "SELECT extract(epoch FROM coalesce((SELECT CASE WHEN bool_and(coalesce("
                "t.finalized_at >= r.started_at, false)) THEN max(t.finalized_at) END "
                "FROM mps_sync.backfill_tables t WHERE t.source_table = ANY(%s)), now()) "
                "- r.started_at) FROM mps_sync.backfill_runs r WHERE r.run_id = %s",
                (list(tables), run_id),
            ).fetchone()
            wall = wall_s if wall_s is not None else float(row[0]) if row and row[0] else 0.0
            summary = report.build_summary(run_id, per_table, wall)
            for kind in ("finished", "refused"):
                if (passed_over or {}).get(kind):
                    summary[kind] = list((passed_over or {})[kind])
            try:
                paths = report.write_report(self.reports_dir, summary)
                summary["report"] = {k: str(v) for k, v in paths.items()}
            except OSError as exc:  # a full disk must not leave a copied run unfinished
                log.error("backfill run %s: could not write its report: %s", run_id, exc)
            state.finish_run(pg_conn, run_id, summary)  # with the report's paths
        if summary["total"]["rejected"]:
            log.warning("%s", summary["rejects"]["note"])
        for table, why in summary.get("unfinished", {}).items():
            log.warning("%s: not finalized (its stream stays paused): %s", table, why)
        return summary

    def start_run(self, run_id: str, options: RunOptions) -> None:
        with self._pg() as pg_conn:
            ensure_schema(pg_conn)
            state.start_run(pg_conn, run_id, asdict(options))

    # -- connections --------------------------------------------------------------------------

    def _pg(self) -> Any:
        return pg_connect(self.endpoints.postgres, autocommit=True)

    def _mysql(self) -> Any:
        return _closing(mysql_connect(self.endpoints.mysql, autocommit=True))


def _portable(exc: Exception) -> Exception:
    """``exc``, or its text in a :class:`ChunkCopyError` when it cannot be unpickled: the CLI's
    worker processes send their errors to the parent pickled, and one that fails to load there
    breaks the whole process pool, failing every other task as "terminated abruptly"."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return ChunkCopyError(f"{type(exc).__name__}: {exc}")
    return exc


def _seq_ranges(seqs: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2, 5, 7-8"``: a plan of thousands of chunks stays short."""
    parts: list[str] = []
    for seq in seqs:
        if parts and seq == int(parts[-1].rpartition("-")[2]) + 1:
            first = parts[-1].partition("-")[0]
            parts[-1] = f"{first}-{seq}"
        else:
            parts.append(str(seq))
    return ", ".join(parts)


class _closing:
    """MySQLdb connections are not context managers that close; this one is."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


__all__ = [
    "Backfill",
    "BackfillError",
    "FinalizeOutcome",
    "PlanError",
    "RunOptions",
    "raise_if_unfinished",
    "refusal",
]


def refuse_reload_of_postgres_only_columns(tables: Sequence[TableMapping]) -> None:
    """A reload empties the target and copies MySQL's rows: the values the PostgreSQL app wrote
    in its own columns (``postgres_only_columns``), which MySQL does not have, would all go back
    to their defaults without a word."""
    found = [
        f"{m.name} ({', '.join(m.postgres_only_columns)})"
        for m in tables
        if m.postgres_only_columns
    ]
    if found:
        raise BackfillError(
            "mode=reload would empty the target and copy MySQL's rows, so the PostgreSQL-only "
            f"columns of {'; '.join(found)} would lose every value the PostgreSQL app wrote "
            "(MySQL has none to copy; they go back to their defaults). Nothing was done. Copy "
            "those values aside and restore them after the reload, or take the columns off "
            "postgres_only_columns in the mapping if their values may be lost"
        )
