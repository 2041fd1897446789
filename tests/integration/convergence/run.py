"""One convergence run: initial rows, consumer process, workload plus faults, quiescence, checks."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tests.integration.convergence import checks, fullrow, workload
from tests.integration.convergence.faults import ConsumerProcess, FaultRecord, Faults
from tests.integration.convergence.schema import TABLES
from tests.integration.stream_harness import Pipeline, wait_until

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all

QUIET_POLLS = 5  # polls 2 s apart
HISTORY_KEYS = 3


@dataclass(frozen=True)
class ChaosConfig:
    seed: int
    transactions: int
    rate_per_side: float  # transactions per second per database
    faults: tuple[tuple[float, str], ...]  # (fraction of the workload done, fault name)
    pause_span: int = 200  # transactions written while a connector stays paused
    converge_timeout_s: float = 90


@dataclass
class Report:
    seed: int
    transactions_planned: int = 0
    transactions_committed: int = 0
    transactions_rejected: int = 0
    rows_changed: dict[str, int] = field(default_factory=dict)
    writer_errors: dict[str, dict[str, int]] = field(default_factory=dict)
    workload_seconds: float = 0.0
    faults: list[FaultRecord] = field(default_factory=list)
    consumer_starts: int = 0
    consumer_unplanned_exits: list[int] = field(default_factory=list)
    converged: bool = False
    seconds_to_converge: float | None = None
    rows: dict[str, int] = field(default_factory=dict)
    divergent: list[str] = field(default_factory=list)
    divergent_history: list[str] = field(default_factory=list)
    divergent_by_kind: dict[str, int] = field(default_factory=dict)
    reconcile: dict[str, str] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)
    conflicts: int = 0
    conflicts_by_kind: dict[str, int] = field(default_factory=dict)
    policy_violations: list[str] = field(default_factory=list)
    loop_bound_exceeded: list[str] = field(default_factory=list)
    quiet: bool = False
    dead_letter_keys: list[str] = field(default_factory=list)
    poison_keys: list[str] = field(default_factory=list)
    dead_letter_rows: list[str] = field(default_factory=list)

    def text(self) -> str:
        lines = [
            f"convergence run, seed {self.seed} (replay: MPS_CHAOS_SEED={self.seed})",
            f"  operations: {self.transactions_committed} transactions committed of "
            f"{self.transactions_planned} planned ({self.transactions_rejected} refused by the "
            f"origin database), rows changed {self.rows_changed}, "
            f"{self.workload_seconds:.0f} s of writes",
            f"  writer errors: {self.writer_errors}",
            f"  faults: {len(self.faults)}",
            *(
                f"    - {f.name} at txn {f.at_transaction}: {f.detail} ({f.seconds} s)"
                for f in self.faults
            ),
            f"  consumer process starts: {self.consumer_starts}, "
            f"unplanned exits: {self.consumer_unplanned_exits}",
            f"  converged: {self.converged}, seconds to converge: {self.seconds_to_converge}",
            f"  rows per table: {self.rows}",
            f"  divergent rows (independent full-row comparison): {len(self.divergent)} "
            f"{self.divergent_by_kind}",
            "  what the stream logged for the first divergent keys:",
            *(f"    - {h}" for h in self.divergent_history),
            f"  reconcile differ: {self.reconcile}",
            f"  conflicts: {self.conflicts} {self.conflicts_by_kind}; policy violations: "
            f"{len(self.policy_violations)}",
            *(f"    - {v}" for v in self.policy_violations[:10]),
            f"  stream counters: {self.counters}",
            f"  loops: bound exceeded {self.loop_bound_exceeded}; quiet after writes: {self.quiet}",
            f"  dead letters: {len(self.dead_letter_keys)} in the topic, poison injected "
            f"{len(self.poison_keys)}",
            *(f"    - {r}" for r in self.dead_letter_rows[:20]),
        ]
        return "\n".join(lines)

    def failures(self) -> list[str]:
        out = []
        if not self.converged or self.divergent:
            out.append(f"{len(self.divergent)} divergent rows")
        if any(status != "in_sync" for status in self.reconcile.values()):
            out.append(f"reconcile differ: {self.reconcile}")
        if self.policy_violations:
            out.append(f"{len(self.policy_violations)} conflicts decided against the policy")
        if self.conflicts == 0:
            out.append("the workload's conflicting writes produced no logged conflict")
        if self.loop_bound_exceeded or not self.quiet:
            out.append(f"loops: {self.loop_bound_exceeded}, quiet={self.quiet}")
        if sorted(self.dead_letter_keys) != sorted(self.poison_keys):
            out.append(
                f"dead-letter topic holds {len(self.dead_letter_keys)} messages, expected only "
                f"the {len(self.poison_keys)} poison message(s)"
            )
        if self.consumer_unplanned_exits:
            # a server restart costs the service a reconnect, not the process
            out.append(f"consumer exited by itself: exit codes {self.consumer_unplanned_exits}")
        return out


def _load_initial_rows(p: Pipeline) -> None:
    """The same starting rows on both sides, written directly as a backfill would leave them.
    Their change events still flow; the applier finds equal rows and writes nothing."""
    rows = [(s.sql, workload.bind(s.params)) for s in workload.initial_rows()]
    conn = mysql_connect(p.endpoints.mysql)
    try:
        cur = conn.cursor()
        for sql, params in rows:
            cur.execute(sql, params)
        conn.commit()
    finally:
        conn.close()
    with pg_connect(p.endpoints.postgres) as pg:
        for sql, params in rows:
            pg.execute(sql, params)  # type: ignore[arg-type]


def run(p: Pipeline, cfg: ChaosConfig, workdir: Path) -> Report:
    report = Report(cfg.seed)
    mappings = workdir / "mappings.yaml"
    mappings.write_text(yaml.safe_dump([dump_yaml_entry(t) for t in p.mappings]))
    consumer = ConsumerProcess(p, mappings, workdir / "consumer.log", f"chaos-{uuid.uuid4().hex}")
    _load_initial_rows(p)
    consumer.start()
    try:
        wait_until(
            lambda: consumer.ensure_running() or checks.consumer_lag(p) == 0,
            timeout_s=120,
            poll_s=0.5,
        )
        plan = workload.plan(cfg.seed, cfg.transactions)
        report.transactions_planned = cfg.transactions
        writers = [
            workload.Writer(
                "mysql", lambda: mysql_connect(p.endpoints.mysql), plan["mysql"], cfg.rate_per_side
            ),
            workload.Writer(
                "postgres",
                lambda: pg_connect(p.endpoints.postgres),
                plan["postgres"],
                cfg.rate_per_side,
            ),
        ]
        faults = Faults(p, consumer, lambda: sum(w.done for w in writers))
        started = time.monotonic()
        for w in writers:
            w.start()
        fault_error = _run_faults(faults, cfg, writers)
        for w in writers:
            w.join()
        report.workload_seconds = time.monotonic() - started
        _writer_results(report, writers)
        report.faults = faults.done
        if fault_error is not None:
            raise fault_error
        faults.heal()
        _quiesce(p, cfg, report, consumer)
        _check(p, report, workdir, faults, writers)
    finally:
        consumer.stop()
        report.consumer_starts = consumer.starts
        report.consumer_unplanned_exits = consumer.unplanned_exits
    return report


def _run_faults(
    faults: Faults, cfg: ChaosConfig, writers: list[workload.Writer]
) -> BaseException | None:
    """Inject each fault when its share of the workload is done; stop the writers on failure."""
    total = max(1, cfg.transactions)
    try:
        for fraction, name in sorted(cfg.faults):
            while faults.progress() < fraction * total and any(w.is_alive() for w in writers):
                faults.consumer.ensure_running()
                time.sleep(0.2)  # polling the writers' progress
            faults.inject(name, cfg.pause_span)
        return None
    except BaseException as exc:
        for w in writers:
            w.stop()
        return exc


def _writer_results(report: Report, writers: list[workload.Writer]) -> None:
    for w in writers:
        if w.failure is not None:
            raise AssertionError(f"writer {w.side} failed: {w.failure!r}") from w.failure
        report.transactions_committed += w.stats.committed
        report.transactions_rejected += w.stats.rejected
        report.rows_changed[w.side] = w.stats.rows_changed
        report.writer_errors[w.side] = dict(w.stats.errors)


def _quiesce(p: Pipeline, cfg: ChaosConfig, report: Report, consumer: ConsumerProcess) -> None:
    """Wait until both databases hold the same rows, the group has no lag and counters rest."""
    started = time.monotonic()
    last: dict[str, Any] = {"counters": None}

    def settled() -> bool:
        consumer.ensure_running()
        counters = checks.stream_counters(p)
        resting = counters == last["counters"]
        last["counters"] = counters
        if not resting or checks.consumer_lag(p) != 0:
            return False
        diverged, _ = fullrow.compare(p.endpoints.mysql, p.endpoints.postgres, TABLES)
        return not diverged

    try:
        wait_until(settled, timeout_s=cfg.converge_timeout_s, poll_s=2)
        report.converged = True
        report.seconds_to_converge = round(time.monotonic() - started, 1)
    except AssertionError:
        report.converged = False
    # quiet: the counters stay the same over QUIET_POLLS polls in a row (an echo loop never rests)
    seen: dict[str, Any] = {"counters": None, "same": 0}

    def resting() -> bool:
        counters = checks.stream_counters(p)
        seen["same"] = seen["same"] + 1 if counters == seen["counters"] else 0
        seen["counters"] = counters
        return seen["same"] >= QUIET_POLLS and checks.consumer_lag(p) == 0

    try:
        wait_until(resting, timeout_s=120, poll_s=2)
        report.quiet = True
    except AssertionError:
        report.quiet = False


def _check(
    p: Pipeline, report: Report, workdir: Path, faults: Faults, writers: list[workload.Writer]
) -> None:
    diverged, report.rows = fullrow.compare(p.endpoints.mysql, p.endpoints.postgres, TABLES)
    report.divergent = [d.describe() for d in diverged]
    for table in TABLES:  # a few of each table's divergent keys, with what the stream saw
        mine = [d for d in diverged if d.table == table.name]
        report.divergent_history += [_history(p, d) for d in mine[:HISTORY_KEYS]]
        for d in mine:
            kind = (
                "only_mysql" if d.postgres is None else "only_pg" if d.mysql is None else "differ"
            )
            name = f"{table.name}:{kind}"
            report.divergent_by_kind[name] = report.divergent_by_kind.get(name, 0) + 1
    run_report, _, _ = reconcile_all(
        p.endpoints,
        ReconcileParams(mappings=str(workdir / "mappings.yaml"), recheck_delay_s=0.0),
        trigger="chaos",
        folder=workdir,
    )
    report.reconcile = {t["table"]: t["status"] for t in run_report["tables"]}
    conflict_rows = checks.conflicts(p)
    report.conflicts = len(conflict_rows)
    for c in conflict_rows:
        key = f"{c.table.split('.')[-1]}:{c.kind}:{c.winner}"
        report.conflicts_by_kind[key] = report.conflicts_by_kind.get(key, 0) + 1
    report.policy_violations = checks.policy_violations(conflict_rows)
    report.counters = checks.stream_counters(p)
    report.loop_bound_exceeded = _loop_bounds(report, faults, writers)
    report.poison_keys = [k.decode() for k in faults.poison_keys]
    report.dead_letter_keys = [
        (k or b"").decode(errors="replace")
        for k in checks.dead_letter_keys(p, len(faults.poison_keys))
    ]
    report.dead_letter_rows = [checks.as_json(r) for r in checks.dead_letter_rows(p)]


def _loop_bounds(report: Report, faults: Faults, writers: list[workload.Writer]) -> list[str]:
    """Events per side can exceed the rows the side's writers changed only by replays after
    a crash (at most a batch per restart) and PostgreSQL's cascaded deletes; an echo loop grows
    without bound. Echoes dropped on one side are at most the other side's applied writes."""
    initial = len(workload.initial_rows())
    restarts = faults.consumer.starts
    slack = 500 * (restarts + 1)
    exceeded = []
    for side in ("mysql", "postgres"):
        made = report.rows_changed.get(side, 0) + (initial if side == "mysql" else 0)
        got = report.counters[side]["events"]
        if got > made + slack:
            exceeded.append(f"{side}: {got} events for {made} rows changed")
    for side, other in (("mysql", "postgres"), ("postgres", "mysql")):
        echoes, applied = report.counters[side]["echoes"], report.counters[other]["applied"]
        if echoes > applied + slack:
            exceeded.append(f"{side}: {echoes} echoes for {applied} writes of the applier")
    return exceeded


def _history(p: Pipeline, d: fullrow.Divergence) -> str:
    """Conflicts and dead letters the stream recorded for one divergent key (for diagnosis)."""
    table = next(t for t in TABLES if t.name == d.table)
    key = checks.as_json(dict(zip(table.key, d.key, strict=True)))
    with pg_connect(p.endpoints.postgres) as conn:
        found = conn.execute(
            "SELECT 'conflict', kind, incoming_side, winner, decided_at::text"
            " FROM mps_sync.conflicts"
            " WHERE source_table LIKE %s AND key = %s::jsonb"
            " UNION ALL SELECT 'dead letter', error_class, '', '', recorded_at::text"
            " FROM mps_sync.dead_letters WHERE source_table LIKE %s AND key = %s::jsonb ORDER BY 5",
            (f"%.{d.table}", key, f"%.{d.table}", key),
        ).fetchall()
    events = checks.key_history(p, d.table, dict(zip(table.key, d.key, strict=True)))
    return (
        f"{d.table} {key}: {[tuple(r) for r in found] or 'nothing logged'}\n      events: "
        + "\n              ".join(events)
    )
