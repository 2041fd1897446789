"""The outcome of a data-quality run, independent of Great Expectations' own result objects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from mysql_pg_sync.quality.specs import Severity

Outcome = Literal["passed", "failed", "error", "skipped"]
TableOutcome = Literal["passed", "warn", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    table: str
    check_id: str
    check: str
    severity: Severity
    outcome: Outcome
    expectation: str
    column: str | None = None
    observed: Any = None
    unexpected_count: int | None = None
    sample: list[Any] = field(default_factory=list)
    sample_keys: list[dict[str, Any]] = field(default_factory=list)
    """PostgreSQL key of rows behind ``sample`` (column -> value), when it could be looked up."""
    detail: str = ""
    """Why a check was skipped or raised; empty when it ran."""

    @property
    def breached(self) -> bool:
        """Failed, or could not be evaluated: either way the expectation is not known to hold."""
        return self.outcome in ("failed", "error")


@dataclass(frozen=True)
class ReconcileTrigger:
    """The reconcile run whose Asset event (extra ``{run_id, status}``) started this run."""

    run_id: int | None
    status: str | None

    @classmethod
    def latest(cls, extras: Iterable[Mapping[str, Any]]) -> ReconcileTrigger | None:
        """The newest run among the events that triggered one run (several runs can finish
        while a data_quality run is queued); None without events (a run from the UI)."""
        triggers = [
            cls(int(e["run_id"]) if e.get("run_id") is not None else None, e.get("status"))
            for e in extras
        ]
        if not triggers:
            return None
        return max(triggers, key=lambda t: -1 if t.run_id is None else t.run_id)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return f"reconcile run {self.run_id if self.run_id is not None else '?'} ended " + (
            self.status or "with no status"
        )


@dataclass(frozen=True)
class QualityRun:
    run_id: str
    started_at: datetime
    finished_at: datetime
    results: tuple[CheckResult, ...]
    data_docs_index: str | None = None
    report_path: str | None = None
    reconcile: ReconcileTrigger | None = None
    """The reconcile run that triggered this one, if an Asset event did."""

    def breaches(self, severity: Severity) -> list[CheckResult]:
        return [r for r in self.results if r.breached and r.severity == severity]

    @property
    def success(self) -> bool:
        """No fail-severity breach (warnings do not fail a run)."""
        return not self.breaches("fail")

    def tables(self) -> list[str]:
        return sorted({r.table for r in self.results})

    def table_outcome(self, table: str) -> TableOutcome:
        return outcome_of((r.outcome, r.severity) for r in self.results if r.table == table)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
        for r in self.results:
            out[r.outcome] += 1
        return out

    def summary(self) -> str:
        fails, warns = self.breaches("fail"), self.breaches("warn")
        head = f"data quality run {self.run_id}: {len(self.results)} checks, " + ", ".join(
            f"{n} {k}" for k, n in self.counts().items()
        )
        lines = [head]
        if self.reconcile is not None:
            lines.append(f"  triggered by {self.reconcile.describe()}")
            if self.reconcile.failed:
                lines.append(
                    "  that reconcile run failed: each table it could not compare is an error "
                    "of its reconcile_drift check below; see the reconcile report"
                )
        for r in [*fails, *warns]:
            lines.append(f"  [{r.severity}] {r.table} {r.check_id}: {describe(r)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "success": self.success,
            "data_docs_index": self.data_docs_index,
            "report_path": self.report_path,
            "reconcile": self.reconcile.as_dict() if self.reconcile is not None else None,
            "results": [asdict(r) for r in self.results],
        }


def outcome_of(checks: Iterable[tuple[str, str]]) -> TableOutcome:
    """A table's outcome from its checks' (outcome, severity) pairs."""
    pairs = list(checks)
    breached = [severity for outcome, severity in pairs if outcome in ("failed", "error")]
    if "fail" in breached:
        return "failed"
    if breached:
        return "warn"
    if pairs and all(outcome == "skipped" for outcome, _ in pairs):
        return "skipped"
    return "passed"


def format_key(key: Mapping[str, Any]) -> str:
    """``id=7``, or ``(order_id=7, line=2)`` for a compound key."""
    text = ", ".join(f"{column}={value!r}" for column, value in key.items())
    return f"({text})" if len(key) > 1 else text


def describe(r: CheckResult) -> str:
    """One line an operator can act on."""
    if r.outcome == "skipped":
        return f"skipped ({r.detail})"
    if r.outcome == "error":
        return f"could not be evaluated: {r.detail}"
    parts = []
    if r.unexpected_count:
        parts.append(f"{r.unexpected_count} unexpected value(s)")
        if r.sample:
            example = "e.g. " + ", ".join(repr(v) for v in r.sample[:5])
            if r.sample_keys:
                example += " at key " + ", ".join(format_key(k) for k in r.sample_keys[:5])
            parts.append(example)
    # a failed parity check's detail names the observed count itself, with MySQL's beside it
    if r.observed is not None and not (r.check == "row_count_parity" and r.detail):
        parts.append(f"observed {r.observed}")
    if r.detail:
        parts.append(r.detail)
    return "; ".join(parts) or r.outcome
