"""What a data-quality check is: a frozen, engine-free description the runner turns into GE.

A :class:`CheckSpec` names the table (by its mapping name), the check, the PostgreSQL column it
looks at, its severity and the Great Expectations expectation that implements it. Checks whose
bounds depend on live facts (source row count, source's newest change, state tables) carry
parameters that :mod:`mysql_pg_sync.quality.plan` resolves at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["warn", "fail"]
SEVERITIES: tuple[Severity, ...] = ("warn", "fail")

# Where a check reads its data: the target table itself, the members of a PostgreSQL array
# column (MySQL SET), the newest change compared with the source, or the mps_sync state tables.
AssetKind = Literal["table", "set_members", "freshness", "state"]

CHECKS: tuple[str, ...] = (
    "key_unique",
    "key_not_null",
    "not_null",
    "enum_values",
    "set_values",
    "range",
    "row_count_parity",
    "freshness",
    "reconcile_drift",
    "conflicts_24h",
    "dead_letters",
    "custom",
)

DEFAULT_SEVERITY: dict[str, Severity] = {
    "key_unique": "fail",
    "key_not_null": "fail",
    "not_null": "fail",
    "enum_values": "fail",
    "set_values": "fail",
    "range": "fail",
    # Rows in flight make counts and freshness move; a breach is worth a look, not a page.
    "row_count_parity": "warn",
    "freshness": "warn",
    "reconcile_drift": "fail",
    "conflicts_24h": "warn",
    "dead_letters": "fail",
    "custom": "warn",
}


@dataclass(frozen=True)
class Thresholds:
    """Tolerances for the checks that compare with the source or read the state tables."""

    row_count_tolerance_rows: int = 100
    """Absolute slack for rows in flight between the two databases."""
    row_count_tolerance_ratio: float = 0.001
    """Relative slack; the larger of the two applies."""
    row_count_fail_ratio: float = 0.1
    """A breach whose gap exceeds this share of MySQL's rows fails whatever the check's
    severity: a few rows in flight are worth a warning, a table that lost a tenth is not."""
    freshness_seconds: int = 900
    """How far the target's newest change may trail the source's."""
    conflicts_24h_max: int = 100
    dead_letters_max: int = 0
    reconcile_unrepaired_max: int = 0
    reconcile_max_age_hours: float = 72.0
    """How old the reconcile run ``reconcile_drift`` judges may be: reconcile runs nightly, so
    an older one means it stopped comparing the table and its drift is not known today."""


@dataclass(frozen=True)
class CheckSpec:
    """One expectation on one table."""

    table: str
    check: str
    severity: Severity
    expectation: str
    """Great Expectations class name, e.g. ``ExpectColumnValuesToBeUnique``."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    column: str | None = None
    asset: AssetKind = "table"
    params: dict[str, Any] = field(default_factory=dict)
    """Run-time inputs for checks resolved against live facts (tolerances, column kind)."""
    label: str | None = None
    """The user's name for a custom expectation."""

    @property
    def check_id(self) -> str:
        """Stable id within a table: ``not_null:email``, ``key_unique``, ``custom:email_format``."""
        suffix = self.label or self.column
        return f"{self.check}:{suffix}" if suffix else self.check
