"""Repair planning (pure) and execution through the stream applier.

The authoritative side comes from the mapping (``reconcile.authoritative``); with a
last-writer-wins conflict rule, rows present on both sides go to the side whose conflict column
is later (ties: the authoritative side). A row on one side only cannot say whether it was
inserted or deleted, so the authoritative side decides it.

Writes never go to a database directly from here: an :class:`RepairApplier` (the stream
applier) writes them, tagged with the replication origin / gtid domain, under the conflict rules,
so a repair is never captured and echoed back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.diff import RowDiff
from mysql_pg_sync.reconcile.errors import RepairLimitExceeded
from mysql_pg_sync.reconcile.model import ReconcileTable, Side

Action = Literal["upsert", "delete"]
DEFAULT_MAX_REPAIRS = 1_000


@dataclass(frozen=True)
class Repair:
    """Make ``write_to`` equal the winning side for one key."""

    key: KeyText
    raw_key: tuple[Any, ...]
    action: Action
    write_to: Side
    decided_by: str
    diff: RowDiff
    image: dict[str, Any] | None = None  # the winner's full row (MySQL column names) for upserts


@dataclass(frozen=True)
class RepairOutcome:
    key: KeyText
    applied: bool
    error: str | None = None


class RepairApplier(Protocol):
    def apply_repairs(
        self, table: ReconcileTable, write_to: Side, repairs: Sequence[Repair]
    ) -> list[RepairOutcome]:
        """Write the repairs to ``write_to`` the way the stream applier writes events."""
        ...


def _other(side: Side) -> Side:
    return "postgres" if side == "mysql" else "mysql"


def winner(table: ReconcileTable, diff: RowDiff) -> tuple[Side, str]:
    """(winning side, why) for one confirmed difference."""
    if diff.drift == "different" and table.lww_column and diff.mysql and diff.postgres:
        # canonical timestamps are fixed-width UTC text: text order is time order
        left = diff.mysql.texts.get(table.lww_column)
        right = diff.postgres.texts.get(table.lww_column)
        rule = f"last_writer_wins:{table.lww_column}"
        if left is not None and (right is None or left > right):
            return "mysql", rule
        if right is not None and (left is None or right > left):
            return "postgres", rule
    return table.authority, table.authority


def plan_repairs(table: ReconcileTable, diffs: Sequence[RowDiff]) -> list[Repair]:
    """One repair per confirmed difference."""
    repairs = []
    for diff in diffs:
        side, why = winner(table, diff)
        has_row = diff.mysql if side == "mysql" else diff.postgres
        action: Action = "upsert" if has_row is not None else "delete"
        repairs.append(Repair(diff.key, diff.raw_key, action, _other(side), why, diff))
    return repairs


def check_limit(table_name: str, repairs: Sequence[Repair], max_repairs: int) -> None:
    """Refuse the whole batch when it is larger than the run's safety valve."""
    if len(repairs) > max_repairs:
        raise RepairLimitExceeded(
            f"{table_name}: {len(repairs)} repairs needed, more than max_repairs={max_repairs}; "
            "nothing was repaired. Drift this large usually has a cause (a stopped stream, a "
            "bad mapping): look at the report first, then re-run with a higher max_repairs"
        )
