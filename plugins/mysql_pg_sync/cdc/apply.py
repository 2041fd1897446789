"""Apply a batch of collapsed changes to one target in one transaction.

Per table: convert every change to the target's names and types, lock the target rows of the
batch's keys, decide each change (apply / nothing to do / the target's row wins) with
:mod:`.conflicts`, then write with few statements: upserts of rows that were locked, guarded
upserts of rows that did not exist yet (the rule in the SQL catches a concurrent insert),
deletes, and column-subset updates for PostgreSQL TOAST placeholders. A change whose values
cannot be converted, or whose write violates a constraint, becomes a dead letter; the rest of
the batch is applied.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from mysql_pg_sync.cdc import apply_sql
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.compare import canonical, rows_equal
from mysql_pg_sync.cdc.conflicts import (
    Decision,
    Observation,
    decide,
    delete_time,
    recreated_in_delete_window,
)
from mysql_pg_sync.cdc.events import SIDE_NAMES, UNAVAILABLE, ChangeEvent, Side, other_side
from mysql_pg_sync.cdc.partial_zero_dates import FIX as PARTIAL_ZERO_FIX
from mysql_pg_sync.cdc.partial_zero_dates import WHY as PARTIAL_ZERO_WHY
from mysql_pg_sync.cdc.partial_zero_dates import PartialZeroDates, date_columns, null_dates
from mysql_pg_sync.cdc.source_values import Suspect, find_suspects, suspect_columns
from mysql_pg_sync.cdc.targets import Row, StaleStageError, TargetSession
from mysql_pg_sync.cdc.tombstones import Tombstones, tombstone_key
from mysql_pg_sync.dialects import postgres as postgres_dialect
from mysql_pg_sync.errors import ConversionError, SyncError
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.types import precision
from mysql_pg_sync.types.convert import (
    ZERO_TEXT,
    null_to_mysql,
    to_mysql,
    to_pg,
    zero_date_as_null,
)
from mysql_pg_sync.types.typemap import kind_mismatch_message, reinterpreting_pg_type

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConflictRecord:
    source_table: str
    target_table: str
    key: dict[str, Any]
    incoming_side: Side
    incoming_image: Mapping[str, Any] | None
    target_image: Mapping[str, Any] | None
    winner: Side
    rule: str
    kind: str
    event: ChangeEvent


@dataclass(frozen=True)
class DeadLetter:
    """A change that could not be applied, with why; the message goes to the dead-letter topic."""

    event: ChangeEvent | None
    error: BaseException
    source_table: str = ""
    key: Mapping[str, Any] | None = None
    raw_key: bytes | None = None
    raw_value: bytes | None = None


@dataclass
class TableCounts:
    events: int = 0
    applied: int = 0
    skipped_same: int = 0
    conflicts: int = 0
    dead_letters: int = 0
    echoes: int = 0
    max_lag_ms: int = 0
    last_source_ts_ms: int = 0


@dataclass(frozen=True)
class Burial:
    """A row to remove once the batch's changes are written, under lock and as the applier's
    own (tagged) write, when a delete that won still beats the row's rule value there
    (conflicts.bury); the consumer does it (``_bury``).

    - On the delete's own side: a delete applied at the other side, whose side may hold the row
      the applier brought back from an older update consumed before it (``row_side`` is
      ``delete_side``; ``event`` is the delete).
    - On the side of an insert/update that lost to the delete's tombstone (last-writer-wins:
      ``row_side`` is the change's side, ``event`` the change): the delete had already run
      there, so the change's row would stay on that side alone.
    """

    table: str  # the mapping's name
    delete_side: Side  # where the delete ran
    row_side: Side  # whose row is removed
    event: ChangeEvent  # from ``row_side``: its key names the row
    counts_as: Any  # the delete's time (last_writer_wins) or the version it removed (version)
    # version: the other side's rule value the delete beat; only a row holding exactly it is
    # the one an older update brought back (a lower one is the key re-created since)
    beaten: Any = None


@dataclass
class BatchResult:
    tables: dict[tuple[str, Side], TableCounts] = field(default_factory=dict)
    conflicts: list[ConflictRecord] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    drift: dict[tuple[str, Side], tuple[str, ...]] = field(default_factory=dict)
    # rows the consumer removes after the writes if the delete still beats them (see Burial)
    burials: list[Burial] = field(default_factory=list)

    def counts(self, table: str, side: Side) -> TableCounts:
        return self.tables.setdefault((table, side), TableCounts())


class MissingRowError(SyncError):
    """A column-subset update (unchanged TOAST values) for a row the target does not have."""


class MissingTargetColumnError(SyncError):
    """The target table lacks a column the mapping lists: nothing of the batch is applied.
    ``table`` is the mapping's name, ``side`` the side its changes come from."""

    def __init__(self, message: str, table: str = "", side: Side = "mysql") -> None:
        super().__init__(message)
        self.table = table
        self.side = side


class MissingSourceColumnError(ConversionError):
    """A MySQL change lacks a column the mapping lists (renamed or dropped there): applying the
    others would leave the column's new values behind without a word, so the change is a dead
    letter, and `dead-letters retry` writes the row as MySQL holds it once the mapping says
    what became of the column. A dead letter, not a hold of the table: a hold resumes from the
    held change, and changes from before the ALTER (still arriving on other partitions) would
    lack the column under the fixed mapping, so no mapping could release it. (PostgreSQL lacking
    one is the usual state between a MySQL migration and `ddl`: its changes apply, with a
    warning.)"""


def missing_source_columns_message(plan: TablePlan, absent: Sequence[str]) -> str:
    """Why a MySQL change that lacks mapped columns is a dead letter, and the fix."""
    return (
        f"{plan.mapping.name}: MySQL's change lacks the mapped column(s) {', '.join(absent)} "
        "(renamed or dropped in MySQL), so none of it was applied. If MySQL renamed a column, "
        "set the new name as the entry's `name` and keep its `pg_name` (`make "
        "mappings-generate` reports a rename as a removed and a new column, and would give "
        "PostgreSQL a new column: edit the entry instead); if MySQL dropped it, run `make "
        "mappings-generate`, which removes the entry (PostgreSQL keeps the column and its "
        f'values). Then `make cli ARGS="dead-letters retry --table {plan.mapping.name}"` '
        "writes these rows as MySQL holds them"
    )


# In a hold's reason: the target has every mapped column, but writes fail on a retyped one's
# type, so only a write (not a probe of the columns) can tell that the hold is over
RETYPED_HOLD = "fail on a column type"


class KeyMismatchError(ConversionError):
    """The change's Debezium key has other columns than the mapping's key: the source's primary
    key changed (``DROP PRIMARY KEY, ADD PRIMARY KEY (id, code)``), so the mapping's key may no
    longer tell the source's rows apart, and applying by it would merge them. A dead letter."""


def key_mismatch_message(plan: TablePlan, event_key: Sequence[str]) -> str:
    """Why changes keyed by ``event_key`` (their Debezium key's columns) are dead letters, and
    the fix; built once per (table, key columns)."""
    side, other = SIDE_NAMES[plan.incoming_side], SIDE_NAMES[other_side(plan.incoming_side)]
    mapping = plan.mapping
    return (
        f"{mapping.name}: {side}'s change is keyed by ({', '.join(event_key)}), more columns "
        f"than the mapping's key ({', '.join(plan.src_key)}): {side}'s primary key of the "
        "table was widened, so rows that share the mapping's key would overwrite each other in "
        f"{other} (and a delete of one would remove the other); this change was not applied. "
        "Make the mapping's `key` (MySQL column names), MySQL's primary key and PostgreSQL's "
        "the same columns (`make mappings-generate` reports MySQL's key; PostgreSQL's table "
        f"{mapping.target}: ALTER TABLE ... DROP CONSTRAINT <its primary key>, ADD PRIMARY "
        f'KEY (...)), then `make cli ARGS="dead-letters retry --table {mapping.name}"` '
        f"writes these rows as {side} holds them"
    )


class MappingDriftWarning(SyncError):
    """Source columns the mapping does not know: reported, the mapped columns keep flowing."""


@dataclass(frozen=True)
class TablePlan:
    """How one table's changes travel in one direction."""

    mapping: TableMapping
    incoming_side: Side
    columns: tuple[ColumnMapping, ...]
    table_sql: str
    src_names: tuple[str, ...]
    dst_names: tuple[str, ...]
    src_key: tuple[str, ...]
    dst_key: tuple[str, ...]
    kinds: dict[str, str]
    rule_column: str | None  # target name
    known_src: frozenset[str]
    # MySQL target: (column, value) where a NULL from PostgreSQL stands for MySQL's zero date
    zero_for_null: tuple[tuple[str, Any], ...] = ()
    # source column -> a cheap test that a value passed on unconverted keeps every digit in the
    # target (types.precision); a value that fails it goes through the converter, which decides
    digit_checks: Mapping[str, Callable[[Any], bool]] = field(default_factory=dict)
    # source column -> why its hand-set pg_type would read its values as others (typemap.
    # reinterpreting_pg_type): a change carrying a value of it is a dead letter
    refused: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def date_columns(self) -> tuple[str, ...]:
        """Source date and datetime columns (looked up for partial zero dates); computed once,
        not per change."""
        return date_columns(self.columns)

    @cached_property
    def suspects(self) -> tuple[Suspect, ...]:
        """Source columns whose values may need a look in MySQL (cdc/source_values.py);
        computed once, not per change."""
        return suspect_columns(self.columns) if self.incoming_side == "mysql" else ()

    @cached_property
    def two_way(self) -> bool:
        return self.mapping.replicates_to_pg() and self.mapping.replicates_to_mysql()

    @cached_property  # read once per event on the hot path
    def key_kinds(self) -> tuple[str, ...]:
        return tuple(self.kinds[d] for d in self.dst_key)

    @property
    def target_name(self) -> str:
        m = self.mapping
        return str(m.target) if self.incoming_side == "mysql" else str(m.source)


def plan_for(mapping: TableMapping, incoming_side: Side, dialect: Any) -> TablePlan:
    cols = mapping.synced_columns()
    to_target_pg = incoming_side == "mysql"
    src = tuple(c.name if to_target_pg else c.pg_name for c in cols)
    dst = tuple(c.pg_name if to_target_pg else c.name for c in cols)
    by_src = {c.name: c for c in cols}
    src_key = mapping.key if to_target_pg else mapping.pg_key
    dst_key = mapping.pg_key if to_target_pg else mapping.key
    rule_col = mapping.conflict.column
    if rule_col is not None and to_target_pg:
        rule_col = by_src[rule_col].pg_name
    table_sql = (
        dialect.qualified(mapping.target.schema, mapping.target.table)
        if to_target_pg
        else dialect.qualified(mapping.source.db, mapping.source.table)
    )
    known = {c.name if to_target_pg else c.pg_name for c in mapping.columns}
    if not to_target_pg:  # PostgreSQL's own columns, acknowledged: no drift (_check_drift)
        known.update(mapping.postgres_only_columns)
    return TablePlan(
        mapping=mapping,
        incoming_side=incoming_side,
        columns=cols,
        table_sql=table_sql,
        src_names=src,
        dst_names=dst,
        src_key=src_key,
        dst_key=dst_key,
        kinds={d: c.kind for d, c in zip(dst, cols, strict=True)},
        rule_column=rule_col,
        known_src=frozenset(known),
        zero_for_null=_sentinel_for_null(mapping) if to_target_pg else _zero_for_null(mapping),
        digit_checks={
            s: check
            for s, c in zip(src, cols, strict=True)
            if (check := precision.quick_check(c, to_target_pg)) is not None
        },
        refused=_refused_columns(mapping.name, src, cols),
    )


def _refused_columns(
    name: str, src: Sequence[str], cols: Sequence[ColumnMapping]
) -> dict[str, str]:
    """Source column -> the refusal of a column whose pg_type is of another kind; decided
    once per plan, logged once."""
    refused = {}
    for s, c in zip(src, cols, strict=True):
        why = reinterpreting_pg_type(c.column_type, c.pg_type, c.converter)
        if why is not None:
            refused[s] = kind_mismatch_message(c.name, c.column_type, c.pg_type, why)
            if (name, refused[s]) not in _REFUSALS_LOGGED:  # plans are built again on probes
                _REFUSALS_LOGGED.add((name, refused[s]))
                log.error("mapping %s: %s", name, refused[s])
    return refused


_REFUSALS_LOGGED: set[tuple[str, str]] = set()


def _zero_for_null(mapping: TableMapping) -> tuple[tuple[str, Any], ...]:
    policy = mapping.values
    cols = mapping.synced_columns()
    return tuple((c.name, null_to_mysql(c, policy)) for c in cols if zero_date_as_null(c, policy))


def _sentinel_for_null(mapping: TableMapping) -> tuple[tuple[str, Any], ...]:
    """PostgreSQL target under ``zero_dates: sentinel``: a NULL in a NOT NULL MySQL date or
    datetime column is its zero date (the ZeroDateAsNull converter sends it so), so it becomes
    the sentinel, as the backfill writes it. Under ``null`` it stays NULL."""
    policy = mapping.values
    if policy.zero_dates != "sentinel":
        return ()
    return tuple(
        (c.pg_name, to_pg(c, ZERO_TEXT[c.kind], policy, where=f"table {mapping.name}"))
        for c in mapping.synced_columns()
        if not c.nullable and c.kind in ("date", "datetime")
    )


# a key inserted by an application between the row lock and the insert is decided again with
# the row locked; after this many rounds the rule's guard in the write decides it (unrecorded)
FRESH_ATTEMPTS = 3


@dataclass
class _Prepared:
    change: CollapsedChange
    key: Row
    after: dict[str, Any] | None
    unavailable: frozenset[str]
    removed_rule: Any = None  # a delete: the rule value of the row version it removed
    deleted_at: dt.datetime | None = None  # a delete: the time it counts as (conflicts.delete_time)
    won_conflict: bool = False  # a delete applied over a row the other side had changed
    beaten_rule: Any = None  # such a delete: the rule value of the row it beat


class Applier:
    """Applies batches to one target; one instance per target session."""

    def __init__(
        self,
        session: TargetSession,
        mappings: MappingSet,
        tombstones: Tombstones | None = None,
        partial_zero_dates: PartialZeroDates | None = None,
    ) -> None:
        """``partial_zero_dates``: MySQL changes only; without it a partial zero date MySQL
        holds reaches PostgreSQL as NULL (see :mod:`.partial_zero_dates`)."""
        self.session = session
        self.partial_zero_dates = partial_zero_dates
        self.tombstones = tombstones
        self.mappings = mappings
        self.incoming_side: Side = "mysql" if session.side == "postgres" else "postgres"
        self._plans: dict[str, TablePlan | None] = {}
        self._convert: Callable[..., Any] = to_pg if self.incoming_side == "mysql" else to_mysql
        self._savepoints = 0
        self._unknown: dict[tuple[tuple[str, str], tuple[str, ...]], tuple[str, ...]] = {}
        self._absent: dict[tuple[tuple[str, str], tuple[str, ...]], tuple[str, ...]] = {}
        self._drift_logged: set[tuple[tuple[str, str], tuple[str, ...]]] = set()
        # (table, a MySQL change's columns) -> it lacks mapped columns MySQL added since
        self._added: dict[tuple[str, tuple[str, ...]], bool] = {}
        # per mapping and batch: source column -> (fractional digits the target's column keeps
        # now, its type) where a migration narrowed it (_narrowed_in_target)
        self._narrowed: dict[str, dict[str, tuple[int, str]]] = {}
        # (table, mapping's key, Debezium key's columns) -> why they differ, or None: looked
        # up per event, worked out once per key shape
        self._key_shapes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str | None] = {}
        self._restaged: set[str] = set()  # tables whose batch ran again with fresh stages

    def plan(self, source_table: str) -> TablePlan | None:
        if source_table not in self._plans:
            if self.incoming_side == "mysql":
                m = self.mappings.find_source(source_table)
                ok = m is not None and m.replicates_to_pg()
            else:
                m = self.mappings.find_target(source_table)
                ok = m is not None and m.replicates_to_mysql()
            self._plans[source_table] = (
                plan_for(m, self.incoming_side, self.session.dialect) if ok and m else None
            )
        return self._plans[source_table]

    def apply(self, changes: Sequence[CollapsedChange], result: BatchResult) -> None:
        """Apply in the session's open transaction; the caller commits."""
        groups: dict[str, list[CollapsedChange]] = {}
        for change in changes:
            groups.setdefault(change.source_table, []).append(change)
        for source_table, group in groups.items():
            plan = self.plan(source_table)
            if plan is None:
                for change in group:
                    result.counts(source_table, self.incoming_side).dead_letters += 1
                    result.dead_letters.append(
                        DeadLetter(
                            change.last,
                            SyncError(
                                f"no enabled mapping replicates {source_table} from "
                                f"{self.incoming_side}; add or enable it in include/mappings"
                            ),
                            source_table,
                            change.last.key,
                        )
                    )
                continue
            try:
                self._narrowed[plan.mapping.name] = self._narrowed_in_target(plan)
                self._apply_table(plan, group, result)
            except Exception as exc:
                if self.session.lacks_column(exc):
                    raise self._missing_column(plan, exc) from exc
                if self.session.lacks_table(exc):
                    raise self._missing_table(plan, exc) from exc
                if self.session.stale_stage(exc):
                    raise self._restage(plan, exc) from exc
                raise
            if self._restaged:
                self._restaged.discard(plan.mapping.name)

    # -- one table ------------------------------------------------------------------------------

    def _convert_image(
        self, plan: TablePlan, image: Mapping[str, Any], event: ChangeEvent
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        policy = plan.mapping.values
        checks = plan.digit_checks
        to_pg = plan.incoming_side == "mysql"
        narrowed = self._narrowed.get(plan.mapping.name)
        for col, s, d, kind in zip(
            plan.columns, plan.src_names, plan.dst_names, plan.kinds.values(), strict=True
        ):
            if s not in image:
                continue
            value = image[s]
            if narrowed and s in narrowed and value is not None and value is not UNAVAILABLE:
                kept, now = narrowed[s]
                converted = self._convert(col, value, policy, where=self._where(plan, event))
                if not precision.fits(kind, converted, kept):
                    raise ConversionError(narrowed_message(plan, col, now, kept, value, event))
            if (
                value is None
                or value is UNAVAILABLE
                or (
                    _passes_unchanged(kind, value, to_pg)
                    and ((check := checks.get(s)) is None or check(value))
                )
            ):
                out[d] = value
            else:
                if (why := _changed_by_converter(kind, value, to_pg)) is not None:
                    raise ConversionError(retyped_value_message(plan, col, value, why, event))
                out[d] = self._convert(col, value, policy, where=self._where(plan, event))
        return out

    def _where(self, plan: TablePlan, event: ChangeEvent) -> str:
        key = ", ".join(f"{k}={v!r}" for k, v in event.key.items())
        return f"table {plan.mapping.name} key ({key})"

    def _prepare(
        self, plan: TablePlan, group: list[CollapsedChange], result: BatchResult
    ) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        by_dst = dict(zip(plan.src_names, plan.columns, strict=True))
        partial_zeros = self._partial_zeros(plan, group)
        suspects = self._suspects(plan, group)
        for position, change in enumerate(group):
            event = change.last
            try:
                names = tuple(event.key)
                if names != plan.src_key and (wrong := self._wrong_key(plan, names)):
                    raise KeyMismatchError(f"{wrong} (this change's key: {dict(event.key)})")
                self._check_drift(plan, event, result)
                if plan.refused:
                    self._refuse_kinds(plan, change, event)
                key_src = [
                    event.key.get(k, (change.after or change.before or {}).get(k))
                    for k in plan.src_key
                ]
                for s, v, kind in zip(plan.src_key, key_src, plan.key_kinds, strict=True):
                    if why := _changed_by_converter(kind, v, plan.incoming_side == "mysql"):
                        raise ConversionError(retyped_value_message(plan, by_dst[s], v, why, event))
                key = tuple(
                    v
                    if _passes_unchanged(kind, v)
                    else self._convert(
                        by_dst[s], v, plan.mapping.values, where=self._where(plan, event)
                    )
                    for s, v, kind in zip(plan.src_key, key_src, plan.key_kinds, strict=True)
                )
                after = None
                unavailable: frozenset[str] = frozenset()
                if change.op != "d":
                    if change.after is None:
                        raise ConversionError(
                            f"{self._where(plan, event)}: change {change.op!r} has no after-image"
                        )
                    after = self._convert_image(plan, change.after, event)
                    if position in partial_zeros:
                        column, text = partial_zeros[position]
                        raise ConversionError(
                            f"{self._where(plan, event)}: column {column!r}: {PARTIAL_ZERO_WHY}: "
                            f"{text!r}; {PARTIAL_ZERO_FIX}"
                        )
                    if position in suspects:
                        column, why = suspects[position]
                        raise ConversionError(
                            f"{self._where(plan, event)}: column {column!r}: {why}"
                        )
                    for name, zero in plan.zero_for_null:
                        if name in after and after[name] is None:
                            after[name] = zero
                    if self.incoming_side == "postgres":  # only PostgreSQL sends TOAST placeholders
                        unavailable = frozenset(k for k, v in after.items() if v is UNAVAILABLE)
            except (ConversionError, KeyError, ValueError, TypeError, ArithmeticError) as exc:
                result.dead_letters.append(DeadLetter(event, exc, plan.mapping.name, event.key))
                continue
            removed_rule, deleted_at = None, None
            if change.op == "d":
                removed_rule = self._removed_rule_value(plan, event)
                deleted_at = delete_time(_commit_time(event), removed_rule)
            prepared.append(_Prepared(change, key, after, unavailable, removed_rule, deleted_at))
        return prepared

    def _wrong_key(self, plan: TablePlan, names: tuple[str, ...]) -> str | None:
        """Why a change keyed by ``names`` (its Debezium key's columns, not in the mapping's
        key order) cannot be applied by the mapping's key, or None; worked out once per
        (table, key columns). Only a Debezium key that holds the mapping's and more: the
        mapping's key alone may no longer be unique.

        The same columns in normal operation: the generated mapping keys a table by its primary
        key, which Debezium keys its messages by, and ``ddl`` gives PostgreSQL's table that
        primary key. A TRUNCATE has no key."""
        shape = (plan.mapping.name, plan.src_key, names)
        if shape in self._key_shapes:
            return self._key_shapes[shape]
        message = None
        # only a key that grew past the mapping's: a mapping may key a table by a unique key
        # other than its primary key (docs/backfill.md), whose values tell rows apart as well
        if names and set(names) > set(plan.src_key):
            message = key_mismatch_message(plan, names)
            log.error("%s", message)
        self._key_shapes[shape] = message
        return message

    def _partial_zeros(
        self, plan: TablePlan, group: list[CollapsedChange]
    ) -> dict[int, tuple[str, str]]:
        """Position in ``group`` -> (column, MySQL's text) of a null date that MySQL holds as a
        partial zero date."""
        if self.partial_zero_dates is None or plan.incoming_side != "mysql":
            return {}
        dates = plan.date_columns
        if not dates:
            return {}
        positions: list[int] = []
        lookups: list[tuple[list[Any], tuple[str, ...]]] = []
        for position, change in enumerate(group):
            if change.op == "d" or change.after is None:
                continue
            wanted = null_dates(dates, change.after)
            if wanted:
                image = change.after
                positions.append(position)
                lookups.append(
                    ([change.last.key.get(k, image.get(k)) for k in plan.src_key], wanted)
                )
        if not lookups:
            return {}
        source = plan.mapping.source
        found = self.partial_zero_dates.find(source.db, source.table, plan.src_key, lookups)
        return {positions[i]: hit for i, hit in found.items()}

    def _refuse_kinds(self, plan: TablePlan, change: CollapsedChange, event: ChangeEvent) -> None:
        """A change that carries a value of a column :attr:`TablePlan.refused` names (in its
        key or its after-image) fails, naming the column."""
        image = change.after or {}
        for column, why in plan.refused.items():
            if image.get(column) is not None or event.key.get(column) is not None:
                raise ConversionError(f"{self._where(plan, event)}: {why}")

    def _suspects(
        self, plan: TablePlan, group: list[CollapsedChange]
    ) -> dict[int, tuple[str, str]]:
        """Position in ``group`` -> (column, why) of a change whose value Debezium changed
        (MySQL's invalid enum value, bytes invalid in the column's character set)."""
        if self.partial_zero_dates is None or not plan.suspects:
            return {}

        def key_of(position: int) -> list[Any]:
            change = group[position]
            image = change.after or {}
            return [change.last.key.get(k, image.get(k)) for k in plan.src_key]

        source = plan.mapping.source
        return find_suspects(
            self.partial_zero_dates,
            source.db,
            source.table,
            plan.src_key,
            plan.suspects,
            [None if change.op == "d" else change.after for change in group],
            key_of,
        )

    def _removed_rule_value(self, plan: TablePlan, event: ChangeEvent) -> Any:
        """The rule column of the row version a delete removed (the delete event's own
        before-image, not a batch's folded one); None when the source did not send it."""
        if plan.rule_column is None or not event.before:
            return None
        i = plan.dst_names.index(plan.rule_column)
        value = event.before.get(plan.src_names[i])
        if value is None or value is UNAVAILABLE:
            return None
        kind = plan.kinds[plan.rule_column]
        if _passes_unchanged(kind, value):
            return value
        try:
            return self._convert(plan.columns[i], value, plan.mapping.values, where="")
        except ConversionError:
            return None  # the commit time alone still orders the delete

    def _check_drift(self, plan: TablePlan, event: ChangeEvent, result: BatchResult) -> None:
        ident = (plan.mapping.name, plan.incoming_side)
        absent = self._absent.get((ident, event.fields))
        if absent is None:  # once per schema version, not per event
            have = set(event.fields)
            absent = tuple(c for c in plan.src_names if have and c not in have)
            self._absent[(ident, event.fields)] = absent
        if absent and plan.incoming_side == "mysql":
            if not self._added_since(plan, event, absent):
                raise MissingSourceColumnError(missing_source_columns_message(plan, absent))
            absent = ()  # a change from before MySQL added them: applied without them
        if absent and (ident, absent) not in self._drift_logged:
            # PostgreSQL's table lacks a mapped column while `ddl` has not added it yet (README,
            # Add a column): its changes carry none of that column's values to lose
            self._drift_logged.add((ident, absent))
            log.warning(
                "mapping drift: %s: the postgres side's changes lack the mapped column(s) %s; "
                "applying the others to MySQL, whose values of them stay as they are (`make "
                "ddl` adds a missing column; if PostgreSQL renamed one, set its `pg_name`)",
                plan.mapping.name,
                ", ".join(absent),
            )
        unknown = self._unknown.get((ident, event.fields))
        if unknown is None:  # once per schema version, not per event
            unknown = tuple(sorted(set(event.fields) - plan.known_src))
            self._unknown[(ident, event.fields)] = unknown
        if unknown and result.drift.get(ident) != unknown:
            result.drift[ident] = unknown  # every batch's summary counts it
            if (ident, unknown) in self._drift_logged:
                return
            self._drift_logged.add((ident, unknown))
            fix = (
                "run `make mappings-generate` and review the table's entry, then `make ddl` "
                "(README, Operations: Add a column)"
                if plan.incoming_side == "mysql"
                else "a column only PostgreSQL has stays there; to sync it, add it in MySQL and "
                "run `make mappings-generate`; to keep it PostgreSQL's own, list it under "
                "postgres_only_columns in the table's mapping"
            )
            log.warning(
                "mapping drift: %s has columns %s on the %s side that the mapping does not list; "
                "applying the mapped columns (%s)",
                plan.mapping.name,
                ", ".join(unknown),
                plan.incoming_side,
                fix,
            )

    def _narrowed_in_target(self, plan: TablePlan) -> dict[str, tuple[int, str]]:
        """Mapped decimal, datetime and time columns whose target column keeps fewer fractional
        digits now than the mapping's type for that side says (a migration or the app narrowed
        it, and the mapping does not know yet): source column -> (the digits it keeps, its
        type). Either database would round a value with more digits without an error. Read on
        each batch of the table (one catalog query), in the write's transaction."""
        to_pg = plan.incoming_side == "mysql"
        wanted = [
            (s, c)
            for s, c in zip(plan.src_names, plan.columns, strict=True)
            if precision.kept_digits(c, to_pg) is not None
        ]
        conn = getattr(self.session, "conn", None)  # the target session's connection
        if not wanted or conn is None:
            return {}
        if to_pg:
            rows = conn.execute(postgres_dialect.column_types_sql(), (plan.table_sql,)).fetchall()
        else:
            source = plan.mapping.source
            cur = conn.cursor()
            try:
                cur.execute(
                    "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
                    (source.db, source.table),
                )
                rows = cur.fetchall()
            finally:
                cur.close()
        types = {str(row[0]).lower(): str(row[1]) for row in rows}
        found: dict[str, tuple[int, str]] = {}
        for s, column in wanted:
            mapped = column.pg_type if to_pg else column.column_type
            now = types.get((column.pg_name if to_pg else column.name).lower())
            if now is None or now.lower() == mapped.lower():
                continue
            current = column.model_copy(update={"pg_type" if to_pg else "column_type": now})
            if current.kind != column.kind:
                continue  # another kind of type: its values fail on their own
            kept = precision.kept_digits(column, to_pg)
            kept_now = precision.kept_digits(current, to_pg)
            if kept is not None and kept_now is not None and kept_now < kept:
                found[s] = (kept_now, now)
        return found

    def _added_since(self, plan: TablePlan, event: ChangeEvent, absent: tuple[str, ...]) -> bool:
        """Whether a MySQL change lacks the mapped columns ``absent`` because it was made
        before MySQL added them (a change still in Kafka when `mappings generate` mapped the
        new column): MySQL's table has them now, and the change carries no column the mapping
        does not list (a change from before a rename carries the old name, whose values the
        mapping would drop: that stays a dead letter). Such a change holds no value of them to
        lose, as a MySQL row had none then; rows it inserts take PostgreSQL's default, as
        MySQL's ALTER gave its rows. Worked out once per (table, schema version)."""
        ident = (plan.mapping.name, tuple(event.fields))
        found = self._added.get(ident)
        if found is None:
            found = False
            if self.partial_zero_dates is not None and set(event.fields) <= plan.known_src:
                source = plan.mapping.source
                have = self.partial_zero_dates.column_names(source.db, source.table)
                found = all(c in have for c in absent)
            self._added[ident] = found
            if found:
                log.warning(
                    "%s: MySQL's changes from before it added the mapped column(s) %s apply "
                    "without them (rows they insert take PostgreSQL's default, as MySQL's "
                    "ALTER gave its rows)",
                    plan.mapping.name,
                    ", ".join(absent),
                )
        return found

    def _apply_table(
        self, plan: TablePlan, group: list[CollapsedChange], result: BatchResult
    ) -> None:
        counts = result.counts(plan.mapping.name, plan.incoming_side)
        prepared = self._prepare(plan, group, result)
        counts.dead_letters += len(group) - len(prepared)
        self._advance_sequences(plan, prepared)
        if not plan.two_way:
            counts.applied += self._apply_one_way(plan, prepared, result)
            return
        rule = plan.mapping.conflict
        guard = apply_sql.guard_sql(
            self.session.dialect, rule.rule, plan.rule_column, plan.incoming_side
        )
        deleted: list[_Prepared] = []
        pending = prepared
        for attempt in range(FRESH_ATTEMPTS):
            locked, fresh, partial, deletes = self._decide_locked(plan, pending, result)
            # deletes first: a row deleted and another inserted with its unique value in the
            # same batch (MySQL's 'ABC' and PostgreSQL's 'abc') must not clash
            applied = self._write(plan, deletes, result, lambda ps: self._delete(plan, ps))
            applied += self._write(
                plan, locked, result, lambda ps: self._upsert(plan, ps, None, all_present=True)
            )
            taken: list[_Prepared] = []  # absent when locked, inserted by someone else since
            last = attempt == FRESH_ATTEMPTS - 1
            insert = functools.partial(
                self._insert_fresh, plan, guard=guard, taken=taken, last=last
            )
            applied += self._write(plan, fresh, result, insert)
            applied += self._write_partial(plan, partial, result)
            counts.applied += applied - len(taken)
            deleted += deletes
            if not taken:
                break
            log.info(
                "%s: %d key(s) were inserted on the %s side while this batch applied; deciding "
                "them again with the rows locked",
                plan.mapping.name,
                len(taken),
                self.session.side,
            )
            pending = taken
        name, side = plan.mapping.name, plan.incoming_side
        if rule.rule == "last_writer_wins":
            result.burials += [
                Burial(name, side, side, p.change.last, p.deleted_at)
                for p in deleted
                if p.deleted_at
            ]
        elif rule.rule == "version":
            # only a delete that won against the other side's update: that update may have been
            # brought back on the delete's side before the delete arrived. A plain delete's side
            # holds no such row, and a row there may be a key re-created since at a lower
            # version, which the other side takes as an insert (see conflicts.py)
            result.burials += [
                Burial(name, side, side, p.change.last, p.removed_rule, p.beaten_rule)
                for p in deleted
                if p.won_conflict and p.removed_rule is not None and p.beaten_rule is not None
            ]

    def _advance_sequences(self, plan: TablePlan, prepared: list[_Prepared]) -> None:
        """Keep the target's sequences (serial, identity) past the ids this batch writes, so
        an application insert using the column's default cannot take one of them. Before the
        writes: an id the application draws meanwhile is then already past them. Every row
        with an after-image counts (a row the rule keeps, or a dead letter, moves it a little
        further than needed: harmless; backwards never)."""
        columns = self.session.sequence_columns(plan.table_sql)
        if not columns:
            return
        highest = highest_values([p.after for p in prepared], columns)
        if highest:
            self.session.advance_sequences(plan.table_sql, highest)

    def _decide_locked(
        self, plan: TablePlan, prepared: list[_Prepared], result: BatchResult
    ) -> tuple[list[_Prepared], list[_Prepared], list[_Prepared], list[_Prepared]]:
        """Lock the target rows, decide each change by the rule and record its conflict;
        returns the changes to write: (upserts of locked rows, inserts of absent ones, column
        subsets, deletes)."""
        counts = result.counts(plan.mapping.name, plan.incoming_side)
        current = self.session.lock_rows(
            plan.table_sql, plan.dst_names, plan.dst_key, [p.key for p in prepared]
        )
        graves = self._tombstones(plan, prepared, current)
        locked: list[_Prepared] = []
        fresh: list[_Prepared] = []
        partial: list[_Prepared] = []
        deletes: list[_Prepared] = []
        for p in prepared:
            target_row = current.get(p.key)
            target = dict(zip(plan.dst_names, target_row, strict=True)) if target_row else None
            grave = graves.get(neutral_key(plan, p.change, p.key))
            decision = self._decide(plan, p, target, grave)
            if decision.conflict and decision.winner:
                counts.conflicts += 1
                # a row the other side deleted: its tombstone stands in for the target's image
                image = target if target is not None or grave is None else tombstone_image(grave)
                result.conflicts.append(self._conflict(plan, p, image, decision))
            if decision.action == "skip_same":
                counts.skipped_same += 1
                continue
            if decision.action == "skip_lost":
                rc = plan.rule_column
                if (
                    target is None
                    and grave is not None
                    and rc is not None
                    and decision.conflict == "update_delete"
                    and plan.mapping.conflict.rule == "last_writer_wins"
                    and recreated_in_delete_window((p.after or {}).get(rc), grave)
                ):
                    # lost to the other side's delete, which already ran on this change's own
                    # side (a key re-created there in the second of the delete): remove the row
                    # there too, if it still holds a value the delete beats, or it stays on that
                    # side alone (see conflicts.py)
                    result.burials.append(
                        Burial(
                            plan.mapping.name,
                            other_side(plan.incoming_side),
                            plan.incoming_side,
                            p.change.last,
                            grave,
                        )
                    )
                continue
            if p.change.op == "d":
                p.won_conflict = decision.conflict is not None
                if p.won_conflict and target is not None and plan.rule_column:
                    p.beaten_rule = target.get(plan.rule_column)
                deletes.append(p)
            elif p.unavailable:
                partial.append(p)
            elif target is not None:
                locked.append(p)
            else:
                fresh.append(p)
        return locked, fresh, partial, deletes

    def _insert_fresh(
        self,
        plan: TablePlan,
        items: list[_Prepared],
        guard: str | None,
        taken: list[_Prepared],
        last: bool,
    ) -> None:
        """Insert rows found absent; the keys someone inserted meanwhile go to ``taken`` (on
        the last attempt the guard decides inside the write instead, unrecorded)."""
        if last:
            self._upsert(plan, items, guard)
            return
        by_columns: dict[tuple[str, ...], list[_Prepared]] = {}
        for p in items:
            if p.after is not None:
                by_columns.setdefault(tuple(p.after), []).append(p)
        for wanted, group in by_columns.items():
            names = [n for n in plan.dst_names if n in wanted]
            rows = [tuple(p.after[n] for n in names) for p in group if p.after is not None]
            written = self.session.insert_new(plan.table_sql, names, plan.dst_key, rows, guard)
            taken += [p for p in group if p.key not in written]

    def _apply_one_way(
        self, plan: TablePlan, prepared: list[_Prepared], result: BatchResult
    ) -> int:
        """A one-way table has a single writer, the incoming side, so there is nothing to decide:
        no row lock, no compare, no conflict, no tombstone. Upsert and delete by key are
        idempotent, which is all redelivery needs."""
        whole = [p for p in prepared if p.change.op != "d" and not p.unavailable]
        deletes = [p for p in prepared if p.change.op == "d"]
        partial = [p for p in prepared if p.change.op != "d" and p.unavailable]
        applied = self._write(plan, deletes, result, lambda ps: self._delete(plan, ps))
        applied += self._write(plan, whole, result, lambda ps: self._upsert(plan, ps, None))
        applied += self._write_partial(plan, partial, result)
        return applied

    def _tombstones(
        self, plan: TablePlan, prepared: list[_Prepared], current: dict[Row, Row]
    ) -> dict[str, Any]:
        """Record every delete's tombstone; return the target side's for inserts/updates of
        missing rows: the newest delete time (last-writer-wins), or the version the newest
        delete removed (version). The fixed-winner rules need none."""
        rule = plan.mapping.conflict.rule
        if self.tombstones is None or rule not in ("last_writer_wins", "version"):
            return {}
        name = plan.mapping.name
        for p in prepared:
            if p.deleted_at is not None:
                self.tombstones.record(
                    name,
                    neutral_key(plan, p.change, p.key),
                    plan.incoming_side,
                    p.deleted_at,
                    _version_number(p.removed_rule) if rule == "version" else None,
                )
        missing = [
            neutral_key(plan, p.change, p.key)
            for p in prepared
            if p.change.op != "d" and p.key not in current
        ]
        deleted_on: Side = "mysql" if self.session.side == "mysql" else "postgres"
        if rule == "version":
            return self.tombstones.removed_versions(name, missing, deleted_on)
        return self.tombstones.newest(name, missing, deleted_on)

    def _decide(
        self,
        plan: TablePlan,
        p: _Prepared,
        target: dict[str, Any] | None,
        tombstone: Any = None,
    ) -> Decision:
        change = p.change
        rule = plan.mapping.conflict.rule
        op, before_image = change.op, change.before
        if change.first_op in ("c", "r") and change.events > 1:
            # The key was inserted in this batch. Folded with a later update it is still an
            # insert: without a before-image an update would be applied over a row the other
            # side inserted meanwhile, whatever the rule. Folded with a later delete, the
            # delete removed what this batch inserted: its own before-image says what that was.
            if op == "u":
                op = change.first_op
            elif op == "d":
                if target is None:
                    return Decision("skip_same")
                before_image = change.last.before
        same_after = False
        if target is not None and p.after is not None:
            cols = [c for c in plan.dst_names if c in p.after and c not in p.unavailable]
            same_after = rows_equal(plan.kinds, target, p.after, cols)
        before = None
        full_before = _is_full_image(before_image, plan.src_key)
        if target is not None and full_before and before_image is not None:
            try:
                before = self._convert_image(plan, before_image, change.last)
            except ConversionError:
                before = None
        same_before = (
            before is not None
            and target is not None
            and rows_equal(plan.kinds, target, before, [c for c in plan.dst_names if c in before])
        )
        rc = plan.rule_column
        kind = plan.kinds.get(rc, "text") if rc else "text"
        incoming_rule = None
        if rc:
            if change.op != "d":
                incoming_rule = canonical(kind, (p.after or {}).get(rc))
            else:  # the version the delete removed, not the batch's first before-image
                incoming_rule = canonical(kind, p.removed_rule)
        delete_ts = p.deleted_at
        seen = Observation(
            incoming_side=plan.incoming_side,
            op=op,
            exists=target is not None,
            same_as_after=same_after,
            has_before=before is not None or (full_before and target is None),
            same_as_before=same_before,
            incoming_rule_value=incoming_rule,
            target_rule_value=canonical(kind, target.get(rc)) if rc and target else None,
            delete_ts=canonical(kind, delete_ts) if delete_ts else None,
            tombstone=(
                canonical(kind, tombstone)
                if tombstone is not None and target is None and rule == "last_writer_wins"
                else None
            ),
            tombstone_version=(
                canonical(kind, tombstone)
                if tombstone is not None and target is None and rule == "version"
                else None
            ),
        )
        return decide(rule, seen)

    def _conflict(
        self, plan: TablePlan, p: _Prepared, target: dict[str, Any] | None, decision: Decision
    ) -> ConflictRecord:
        incoming = p.after if p.after is not None else p.change.before
        assert decision.winner is not None
        assert decision.conflict is not None
        return ConflictRecord(
            source_table=plan.mapping.name,
            target_table=plan.target_name,
            key=dict(zip(plan.dst_key, p.key, strict=True)),
            incoming_side=plan.incoming_side,
            incoming_image=incoming,
            target_image=target,
            winner=decision.winner,
            rule=plan.mapping.conflict.rule,
            kind=decision.conflict,
            event=p.change.last,
        )

    # -- writes ---------------------------------------------------------------------------------

    def _write(
        self,
        plan: TablePlan,
        items: list[_Prepared],
        result: BatchResult,
        write: Callable[[list[_Prepared]], None],
    ) -> int:
        """Write all at once; on a row error one by one, so only bad rows become dead letters."""
        if not items:
            return 0
        name = self._savepoint()
        try:
            write(items)
            return len(items)
        except Exception as exc:
            if not self.session.is_row_error(exc):
                raise
            self.session.rollback_to(name)
        done = 0
        counts = result.counts(plan.mapping.name, plan.incoming_side)
        for item in items:
            one = self._savepoint()
            try:
                write([item])
                done += 1
            except Exception as exc:
                if not self.session.is_row_error(exc):
                    raise
                self.session.rollback_to(one)
                event = item.change.last
                log.error("dead letter: %s key %s: %s", plan.mapping.name, dict(event.key), exc)
                result.dead_letters.append(DeadLetter(event, exc, plan.mapping.name, event.key))
                counts.dead_letters += 1
        return done

    def _missing_column(self, plan: TablePlan, exc: BaseException) -> MissingTargetColumnError:
        """Not a dead letter: every change of the table would fail the same way until the
        column exists, and the stream can simply resume from them then."""
        fix = self.session.missing_column_fix
        if self.session.side == "postgres":
            fix = self._renamed_in_postgres(plan) + fix
        return MissingTargetColumnError(
            f"{plan.mapping.name}: the {self.session.side} table {plan.table_sql} lacks a column "
            f"the mapping lists ({str(exc).splitlines()[0]}). None of its changes were applied "
            f"and their offsets stay uncommitted, so the stream resumes from these changes once "
            f"the column exists: {fix}",
            plan.mapping.name,
            self.incoming_side,
        )

    def _renamed_in_postgres(self, plan: TablePlan) -> str:
        """The first half of the fix when PostgreSQL's table lacks mapped columns: a column
        the PostgreSQL app renamed must not come back empty from ``ddl``, so the columns of the
        table the mapping does not know are named as the candidates (read from the catalog:
        PostgreSQL's changes since the rename, if any, would carry them too)."""
        try:
            present = self.session.table_columns(plan.table_sql)
        except Exception as exc:  # the hold matters more than its candidates
            log.warning(
                "%s: cannot read the columns of %s: %s", plan.mapping.name, plan.table_sql, exc
            )
            present = {}
        mapping = plan.mapping
        missing = [d for d in plan.dst_names if present and d not in present]
        known = {c.pg_name for c in mapping.columns} | set(mapping.postgres_only_columns)
        unknown = [f"{name} ({kind})" for name, kind in present.items() if name not in known]
        lacking = ", ".join(missing) if missing else "the column"
        candidates = (
            f" (its table has column(s) the mapping does not list: {', '.join(unknown)})"
            if unknown
            else ""
        )
        return (
            f"if the PostgreSQL app renamed {lacking}{candidates}, set the new name as that "
            "entry's `pg_name` in the mapping instead, and do not run `make ddl`: it would add "
            "an empty column, whose NULLs PostgreSQL's changes would then carry over MySQL's "
            "values (`ddl` refuses while such a column is there). Else, if it is missing, "
        )

    def _restage(self, plan: TablePlan, exc: BaseException) -> SyncError:
        """A staged write failed on a type the staging table no longer shares with the target:
        first the batch runs again (the rollback drops the session's stages, and they are
        built from the target as it is now); if the table fails so again, it is held, and
        every other table streams on."""
        first = str(exc).splitlines()[0]
        name = plan.mapping.name
        if name not in self._restaged:
            self._restaged.add(name)
            log.warning(
                "%s: a write to %s failed on a column type (%s): a column was retyped while the "
                "stream ran; running the batch again with staging tables built afresh",
                name,
                plan.table_sql,
                first,
            )
            return StaleStageError(f"{name}: {first}")
        return MissingTargetColumnError(
            f"{name}: writes to the {self.session.side} table {plan.table_sql} {RETYPED_HOLD} "
            f"({first}), also with staging tables built afresh. None of its changes were "
            "applied and their offsets stay uncommitted; the next stream run (or a changed "
            "mapping) tries the table again. Make the column's type take the mapping's values "
            "again, or update the mapping to the new type (`make mappings-generate`, or the "
            "column's `pg_type`)",
            name,
            self.incoming_side,
        )

    def _missing_table(self, plan: TablePlan, exc: BaseException) -> MissingTargetColumnError:
        """Not a crash of every table: only this one cannot take its changes."""
        return MissingTargetColumnError(
            f"{plan.mapping.name}: the {self.session.side} table {plan.table_sql} does not exist "
            f"({str(exc).splitlines()[0]}). None of its changes were applied and their offsets "
            "stay uncommitted, so the stream resumes from them if the table comes back. If it "
            "was dropped on purpose, delete its mapping file (`make mappings-generate` lists it "
            "as a removed table) or set `enabled: false` in it, then run `connectors apply`; the "
            "stream then stops reading its changes (those left in Kafka are not applied)",
            plan.mapping.name,
            self.incoming_side,
        )

    def lacks_columns(self, mapping_name: str) -> str | None:
        """Why the target table of the mapping cannot take its changes yet (it lacks a mapped
        column: the server's message), or None when it has them all. A table held because a
        write failed on a retyped column's type stays held for the run: its columns all exist,
        so a probe would release it to fail again every few seconds (the next run, or a changed
        mapping, tries it afresh)."""
        if mapping_name in self._restaged:
            return "a write failed on a column's type, also with staging tables built afresh"
        mapping = self.mappings.find_source(mapping_name)
        if mapping is None:
            return None
        plan = plan_for(mapping, self.incoming_side, self.session.dialect)
        try:
            self.session.probe_columns(plan.table_sql, plan.dst_names)
        except Exception as exc:
            if self.session.lacks_column(exc) or self.session.lacks_table(exc):
                return str(exc).splitlines()[0]
            raise
        return None

    def _savepoint(self) -> str:
        self._savepoints += 1
        name = f"mps_sp_{self._savepoints}"
        self.session.savepoint(name)
        return name

    def _upsert(
        self,
        plan: TablePlan,
        items: list[_Prepared],
        guard: str | None,
        all_present: bool = False,
    ) -> None:
        first = items[0].after or {}
        names = [n for n in plan.dst_names if n in first]
        wanted = first.keys()
        uniform = [p for p in items if p.after is not None and p.after.keys() == wanted]
        kept = {id(p) for p in uniform}
        others = [p for p in items if id(p) not in kept] if len(uniform) != len(items) else []
        rows = [tuple(p.after[n] for n in names) for p in uniform if p.after is not None]
        self.session.upsert(plan.table_sql, names, plan.dst_key, rows, guard, all_present)
        for p in others:  # a schema change mid-batch: rows with another column set
            self._upsert(plan, [p], guard, all_present)

    def _delete(self, plan: TablePlan, items: list[_Prepared]) -> None:
        self.session.delete(plan.table_sql, plan.dst_key, [p.key for p in items])

    def _partial(self, plan: TablePlan, items: list[_Prepared], missing: list[_Prepared]) -> None:
        for p in items:
            assert p.after is not None
            cols = [n for n in p.after if n not in p.unavailable and n not in plan.dst_key]
            row = tuple(p.after[n] for n in cols)
            if not self.session.update(plan.table_sql, cols, plan.dst_key, row, p.key):
                missing.append(p)

    def _write_partial(self, plan: TablePlan, items: list[_Prepared], result: BatchResult) -> int:
        """Column-subset updates (TOAST columns the source did not send). A row missing on the
        target cannot be re-inserted without those columns: a dead letter, not a silent no-op."""
        missing: list[_Prepared] = []
        written = self._write(
            plan, items, result, functools.partial(self._partial, plan, missing=missing)
        )
        counts = result.counts(plan.mapping.name, plan.incoming_side)
        for p in missing:
            event = p.change.last
            error = MissingRowError(
                f"{plan.mapping.name}: key {dict(event.key)} is missing on the {self.session.side}"
                f" side, and the change does not carry column(s) "
                f"{', '.join(sorted(p.unavailable))} (PostgreSQL sent them as unchanged TOAST "
                "values), so the row cannot be inserted again; run reconcile for this table to "
                "copy the whole row, or set REPLICA IDENTITY FULL on the PostgreSQL table"
            )
            log.error("dead letter: %s", error)
            result.dead_letters.append(DeadLetter(event, error, plan.mapping.name, event.key))
            counts.dead_letters += 1
        return written - len(missing)


# Values the converters return unchanged in both directions; checked first because converting
# every value of every event through the general path dominates the apply cost.
_UNCHANGED_TYPES: dict[str, type] = {
    "int": int,
    "decimal": Decimal,
    "bytes": bytes,
}


def _passes_unchanged(kind: str, value: Any, to_pg: bool = False) -> bool:
    if kind == "json" and to_pg:  # MySQL keeps a repeated key that jsonb would drop: converter
        return False
    if kind in ("text", "json"):  # enums: their converter checks membership
        return type(value) is str and "\x00" not in value and "\\u0000" not in value
    if kind == "date":
        return type(value) is dt.date
    if kind == "datetime":
        return type(value) is dt.datetime and value.tzinfo is None
    if kind == "float64":  # NaN and infinities (PostgreSQL's): the converter refuses them
        return type(value) is float and value - value == 0.0
    wanted = _UNCHANGED_TYPES.get(kind)
    return wanted is not None and type(value) is wanted


# Kinds whose converter turns any number into a whole one (``int(v)``): a value with a fraction
# comes from a column retyped on its side (MySQL int -> decimal or double, PostgreSQL integer ->
# double precision), and int() would drop the fraction without a word
_WHOLE_KINDS = frozenset({"int", "uint64", "year"})


def _changed_by_converter(kind: str, value: Any, to_pg: bool) -> str | None:
    """Why the converter of ``kind`` would store ``value`` as another value (a column retyped
    on the change's side while the mapping still gives the old type), or None. (MySQL's
    tinyint(1) toward PostgreSQL: its converter refuses other values itself, naming the fix.)"""
    if value is None or value is UNAVAILABLE or type(value) is bool:
        return None
    if kind in _WHOLE_KINDS:
        if isinstance(value, float) and not value.is_integer():
            return "the value has a fraction, which the integer column would drop"
        if isinstance(value, Decimal) and (
            not value.is_finite() or value != value.to_integral_value()
        ):
            return "the value has a fraction, which the integer column would drop"
    elif (kind == "bool" and not to_pg) or (kind == "bit1" and to_pg):
        number = int.from_bytes(value, "big") if isinstance(value, bytes | bytearray) else value
        if isinstance(number, str) or number not in (0, 1):
            return "the value is not 0/1 (false/true), which the boolean column would change"
    return None


def narrowed_message(
    plan: TablePlan, column: ColumnMapping, now: str, kept: int, value: Any, event: ChangeEvent
) -> str:
    """The dead letter of a value the target's narrowed column would round."""
    key = ", ".join(f"{k}={v!r}" for k, v in event.key.items())
    target = SIDE_NAMES[other_side(plan.incoming_side)]
    if plan.incoming_side == "postgres":
        mapped, name = column.column_type, column.name
        fix = (
            "run `make mappings-generate` (it reports the retyped column), then retype "
            "PostgreSQL's column to match (`make ddl` prints the ALTER; it rounds PostgreSQL's "
            "values as MySQL did) or MySQL's back"
        )
    else:
        mapped, name = column.pg_type, column.pg_name
        fix = (
            "retype PostgreSQL's column back to the mapping's type (or set the column's "
            "pg_type in the mapping and retype MySQL's column to match)"
        )
    return (
        f"table {plan.mapping.name} key ({key}): column {column.name!r}: {target}'s column "
        f"{name!r} is {now} now (the mapping says {mapped}) and keeps {kept} fractional "
        f"digit(s), so {target} would round {value!r} without an error; {fix}, then "
        f'`make cli ARGS="dead-letters retry --table {plan.mapping.name}"`'
    )


def retyped_value_message(
    plan: TablePlan, column: ColumnMapping, value: Any, why: str, event: ChangeEvent
) -> str:
    """The dead letter of a value its column's converter would change: table, key, column,
    value and the fix."""
    side = SIDE_NAMES[plan.incoming_side]
    key = ", ".join(f"{k}={v!r}" for k, v in event.key.items())
    shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
    if plan.incoming_side == "mysql":
        fix = (
            "update the mapping (`make mappings-generate` reports the new type), retype "
            "PostgreSQL's column to match (`make ddl` prints the ALTER)"
        )
    else:
        fix = (
            "retype MySQL's column to match (or PostgreSQL's back), then update the mapping "
            "(`make mappings-generate`, or the column's pg_type)"
        )
    return (
        f"table {plan.mapping.name} key ({key}): column {column.name!r} ({column.column_type} -> "
        f"{column.pg_type}): {why}: {shown}; {side}'s column was probably retyped while the "
        f'mapping still gives the old type: {fix}, then `make cli ARGS="dead-letters retry '
        f'--table {plan.mapping.name}"` writes these rows as {side} holds them'
    )


def highest_values(
    images: Sequence[Mapping[str, Any] | None], columns: Sequence[str]
) -> dict[str, int]:
    """The largest whole number each of ``columns`` holds in ``images`` (a column with none,
    only NULLs or TOAST placeholders, is left out)."""
    highest: dict[str, int] = {}
    for column in columns:
        top: int | None = None
        for image in images:
            if image is None:
                continue
            value = image.get(column)
            if type(value) is not int:  # numeric(20,0) for bigint unsigned, NULL, ...
                value = _whole_number(value)
                if value is None:
                    continue
            if top is None or value > top:
                top = value
        if top is not None:
            highest[column] = top
    return highest


def _whole_number(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return None


def _version_number(value: Any) -> int | Decimal | None:
    """A version as the tombstone stores it (numeric); None when it is not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return value
    return None


def _commit_time(event: ChangeEvent) -> dt.datetime:
    return dt.datetime.fromtimestamp(event.source_ts_ms / 1000, dt.UTC)


def neutral_key(plan: TablePlan, change: CollapsedChange, key: Row) -> str:
    """The tombstone key: PostgreSQL-side key values, whichever way the change travels."""
    if plan.incoming_side == "mysql":
        return tombstone_key(key)
    image = change.after or change.before or {}
    return tombstone_key(change.last.key.get(k, image.get(k)) for k in plan.src_key)


def _is_full_image(image: Mapping[str, Any] | None, key: Iterable[str]) -> bool:
    """A before-image with more than the key: MySQL's always; PostgreSQL's only under REPLICA
    IDENTITY FULL (the consumer cuts the others to the key, see replica_identity.py).

    Told by the columns it names, not by their values: a row whose other columns are all NULL
    (inserted with its key alone, to be filled in later) is a whole image too. Taken for a
    key-only one, a change of such a row went uncompared: under mysql_wins PostgreSQL's update
    overwrote MySQL's concurrent one (each side ended with the other's row), under
    last_writer_wins PostgreSQL's uncontested update lost a NULL-NULL tie and was dropped in
    MySQL, and PostgreSQL's delete removed MySQL's newer update."""
    if not image:
        return False
    keys = set(key)
    return any(k not in keys for k in image)


def tombstone_image(grave: Any) -> dict[str, Any]:
    """What a conflict records as the target's image when the target side had deleted the row:
    the delete's time (last-writer-wins) or the version it removed (version)."""
    if isinstance(grave, dt.datetime):
        return {"__deleted_at": grave.isoformat()}
    whole = _whole_number(grave)
    return {"__removed_version": whole if whole is not None else str(grave)}
