"""Repair planning (pure) and execution through the stream applier.

The stream applier writes every repair under the mapping's conflict rule, so planning follows
that rule exactly, with the applier's own decision function (:func:`cdc.conflicts.incoming_wins`):
for a row on both sides under ``last_writer_wins`` or ``version``, the side whose rule column
wins there wins here (ties and NULL against NULL go to MySQL, a NULL loses to a value). Any other
row, and any row under ``mysql_wins`` / ``postgres_wins``, goes to the authoritative side
(``reconcile.authoritative``): a repair carries no before-image, so the applier writes it
whatever the target holds, and a row on one side only cannot say whether it was inserted or
deleted. A planned repair is therefore one the applier applies, not one it refuses every night.

Writes never go to a database directly from here: an :class:`RepairApplier` (the stream
applier) writes them, tagged with the replication origin / gtid domain, under the conflict rules,
so a repair is never captured and echoed back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from mysql_pg_sync.cdc.compare import canonical
from mysql_pg_sync.cdc.conflicts import incoming_wins
from mysql_pg_sync.cdc.events import other_side
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.diff import RowDiff
from mysql_pg_sync.reconcile.errors import RepairLimitExceeded
from mysql_pg_sync.reconcile.model import ConflictRule, ReconcileTable, Side
from mysql_pg_sync.types.convert import to_pg

if TYPE_CHECKING:
    from mysql_pg_sync.reconcile.compare import PairSource

Action = Literal["upsert", "delete"]
DEFAULT_MAX_REPAIRS = 1_000
Image = dict[str, Any]


@dataclass(frozen=True)
class Images:
    """Both sides' full rows (:meth:`TableSide.raw_rows`) of the keys to repair, by key text."""

    mysql: Mapping[KeyText, Image] = field(default_factory=dict)
    postgres: Mapping[KeyText, Image] = field(default_factory=dict)

    def of(self, side: Side) -> Mapping[KeyText, Image]:
        return self.mysql if side == "mysql" else self.postgres


@dataclass(frozen=True)
class Repair:
    """Make ``write_to`` equal the winning side for one key."""

    key: KeyText
    raw_key: tuple[Any, ...]
    action: Action
    write_to: Side
    decided_by: str
    diff: RowDiff | None  # None: not found by a comparison (a dead letter's retry)
    image: Image | None = None  # the winner's full row (MySQL column names) for upserts
    replaced: Image | None = None  # the row ``write_to`` held when compared, kept on record


@dataclass(frozen=True)
class RepairOutcome:
    key: KeyText
    applied: bool
    error: str | None = None
    kept_by_rule: bool = False  # not applied: the conflict rule kept the target's row
    # not written: a side's row no longer held what the comparison saw (not a failure: the
    # stream carries the newer change, and the next comparison decides)
    changed: bool = False


class RepairApplier(Protocol):
    def apply_repairs(
        self,
        table: ReconcileTable,
        write_to: Side,
        repairs: Sequence[Repair],
        compared: PairSource | None = None,
    ) -> list[RepairOutcome]:
        """Write the repairs to ``write_to`` the way the stream applier writes events.

        ``compared``: write a repair that carries its difference only while, under a lock on
        the target row, both sides still hold the rows that difference compared; any other is
        a :attr:`RepairOutcome.changed` outcome, not written."""
        ...


def _rule_value(rule: ConflictRule, side: Side, image: Image) -> Any:
    """The rule column's value as the applier compares it when MySQL's row is the incoming
    one: MySQL's converted to PostgreSQL's type first (zero dates, time zones), both in
    :func:`cdc.compare.canonical` form."""
    assert rule.column is not None
    column = rule.column
    value = image.get(column.name)
    if side == "mysql" and value is not None:
        try:
            value = to_pg(column, value, rule.values)
        except ConversionError:
            pass  # the applier would refuse this row's write; compare what there is
    return canonical(column.kind, value)


def winner(table: ReconcileTable, diff: RowDiff, images: Images | None = None) -> tuple[Side, str]:
    """(winning side, why) for one confirmed difference; ``images``: both rows, needed to
    decide a row on both sides by the conflict rule. Without them (a refused batch, which
    writes nothing) the authoritative side stands in."""
    rule = table.conflict
    if diff.drift == "different" and rule.compares_rows and images is not None:
        assert rule.column is not None
        left, right = images.mysql.get(diff.key), images.postgres.get(diff.key)
        if left is not None and right is not None:
            mysql_wins = incoming_wins(
                rule.rule,
                "mysql",
                _rule_value(rule, "mysql", left),
                _rule_value(rule, "postgres", right),
            )
            return ("mysql" if mysql_wins else "postgres"), f"{rule.rule}:{rule.column.name}"
    return table.authority, table.authority


def plan_repairs(
    table: ReconcileTable, diffs: Sequence[RowDiff], images: Images | None = None
) -> list[Repair]:
    """One repair per confirmed difference; an upsert carries the winner's row from
    ``images`` (None when the row left the winning side meanwhile: the applier refuses it)."""
    repairs = []
    for diff in diffs:
        side, why = winner(table, diff, images)
        has_row = diff.mysql if side == "mysql" else diff.postgres
        action: Action = "upsert" if has_row is not None else "delete"
        image = images.of(side).get(diff.key) if images and action == "upsert" else None
        write_to = other_side(side)
        replaced = images.of(write_to).get(diff.key) if images else None
        repairs.append(Repair(diff.key, diff.raw_key, action, write_to, why, diff, image, replaced))
    return repairs


def check_limit(
    table_name: str, count: int, max_repairs: int, already: int = 0, run_id: int | None = None
) -> None:
    """Refuse a table's whole batch when it would take the run past its safety valve:
    ``already`` repairs the run planned or wrote for other tables (or earlier attempts)."""
    if already + count <= max_repairs:
        return
    run = f"run {run_id}" if run_id is not None else "this run"
    others = f" on top of the {already} repairs {run} already made or planned" if already else ""
    raise RepairLimitExceeded(
        f"{table_name}: {count} repairs needed{others}, more than max_repairs={max_repairs} "
        "(a limit per run, all tables together); nothing was repaired in this table. More "
        "drift than expected usually has a cause (a stopped stream, a bad mapping): look at "
        "the report first, then re-run with a higher max_repairs"
    )
