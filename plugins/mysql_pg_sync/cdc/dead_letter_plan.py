"""Which open dead letters `dead-letters retry` can recover, and how. Pure logic.

A dead letter is a change the stream could not apply (``mps_sync.dead_letters``). A retry copies
the *current* row of its key from the side the change came from (the side whose change topic it
was read from) to the other side. When that row is gone, it writes nothing and the letter stays
open (:func:`not_found_hint`): a lookup that found nothing is no proof of a delete. Replaying the
old event instead could overwrite a newer change of the same row that streamed fine after it;
the current source row is what the stream would have written last.

I/O lives in :mod:`mysql_pg_sync.cdc.dead_letter_retry`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from mysql_pg_sync.cdc.events import SIDE_NAMES, Side, other_side
from mysql_pg_sync.reconcile.model import ReconcileTable

ERROR_CHARS = 160  # an error longer than this is shortened in listings (`--json` has it all)
LIST_COMMAND = 'make cli ARGS="dead-letters list"'


@dataclass(frozen=True)
class DeadLetterRow:
    """One row of ``mps_sync.dead_letters``; ``key`` as stored (the source side's column names,
    values in JSON form), None or empty for a message that could not be decoded."""

    id: int
    recorded_at: dt.datetime
    source_table: str | None
    key: Mapping[str, Any] | None
    error_class: str
    error: str
    kafka_topic: str | None = None
    kafka_partition: int | None = None
    kafka_offset: int | None = None
    resolved_at: dt.datetime | None = None
    resolution: str | None = None
    dead_letter_topic: str | None = None  # where the stream sent the message, with its headers


@dataclass(frozen=True)
class Selection:
    """The dead letters a command acts on: one table (mapping name) and/or some ids."""

    table: str | None = None
    ids: frozenset[int] = frozenset()

    def matches(self, letter: DeadLetterRow) -> bool:
        if self.table is not None and letter.source_table != self.table:
            return False
        return not self.ids or letter.id in self.ids


@dataclass(frozen=True)
class Candidate:
    """An open dead letter with what its recovery needs: the side its change came from and
    its key in the table's MySQL key order (driver-bindable values), or why it has none."""

    letter: DeadLetterRow
    side: Side | None
    raw_key: tuple[Any, ...] | None
    problem: str | None = None


@dataclass(frozen=True)
class Retry:
    """One write that recovers every selected open dead letter of one key in one direction."""

    table: str  # mapping name (MySQL db.table)
    source_side: Side
    raw_key: tuple[Any, ...]
    key: Mapping[str, Any]  # as stored, for messages
    letter_ids: tuple[int, ...]
    # the change topic, partition and offset of its earliest letter: the change that failed
    # first, whose before-image is the row both sides held then (see needs_before_image)
    first_change: tuple[str, int, int] | None = None

    @property
    def target_side(self) -> Side:
        return other_side(self.source_side)

    def describe(self) -> str:
        return f"{self.table} {key_text(self.key)} ({direction_text(self.source_side)})"


@dataclass(frozen=True)
class Refusal:
    """Selected dead letters a retry cannot recover, with why and what to do instead."""

    letter_ids: tuple[int, ...]
    table: str
    key: Mapping[str, Any] | None
    reason: str


def direction_text(source_side: Side | None) -> str:
    if source_side is None:
        return "direction unknown"
    return f"{SIDE_NAMES[source_side]} -> {SIDE_NAMES[other_side(source_side)]}"


def key_text(key: Mapping[str, Any] | None) -> str:
    """``id=3`` or ``code=t42, lang=de``; ``(no key)`` for an undecodable message."""
    if not key:
        return "(no key)"
    return ", ".join(f"{name}={value}" for name, value in key.items())


def short_error(error: str, limit: int = ERROR_CHARS) -> str:
    """The first line of an error, cut at ``limit`` characters (saying so)."""
    line = " ".join(error.split())
    return line if len(line) <= limit else f"{line[: limit - 3]}..."


def ids_text(ids: Sequence[int]) -> str:
    return " ".join(f"--id {i}" for i in ids)


def letter_side(letter: DeadLetterRow, topics: Mapping[str, tuple[Side, str]]) -> Side | None:
    """The side the dead letter's change came from: the side of the topic it was read from."""
    found = topics.get(letter.kafka_topic or "")
    return found[0] if found else None


def _json_value(kind: str, value: Any) -> Any:
    """A key value back from its JSON form (:func:`cdc.images.to_json`) to a value the drivers
    bind as the column's type."""
    if not isinstance(value, str):
        return value
    if kind in ("binary", "uuid") and value.startswith("\\x"):
        return bytes.fromhex(value[2:])
    if kind == "uuid":
        return uuid.UUID(value)
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "date":
        return dt.date.fromisoformat(value)
    if kind in ("datetime", "timestamp"):
        return dt.datetime.fromisoformat(value)
    return value


def raw_key(table: ReconcileTable, side: Side, key: Mapping[str, Any]) -> tuple[Any, ...]:
    """The stored key (``side``'s column names) in the table's MySQL key order, as
    reconcile's raw keys are; ValueError, naming the column, when it does not fit."""
    names = {c.mysql_name: (c.mysql_name if side == "mysql" else c.pg_name) for c in table.columns}
    values = []
    for column in table.key_columns:
        name = names[column.mysql_name]
        if name not in key:
            raise ValueError(
                f"its key {key_text(key)} has no {SIDE_NAMES[side]} key column {name!r} of "
                f"{table.name} (the mapping's key changed since it was recorded)"
            )
        try:
            values.append(_json_value(column.kind, key[name]))
        except (ValueError, InvalidOperation) as exc:
            raise ValueError(
                f"its key column {name!r} holds {key[name]!r}, not a {column.kind} value ({exc})"
            ) from exc
    return tuple(values)


def candidate(
    letter: DeadLetterRow,
    topics: Mapping[str, tuple[Side, str]],
    tables: Mapping[str, ReconcileTable | str],
) -> Candidate:
    """What a retry of ``letter`` needs; ``tables``: each mapping's reconcile table, or why
    reconcile refuses it."""
    resolve = f"`dead-letters resolve --id {letter.id} --note ...` once it is dealt with"
    if not letter.key or not letter.source_table:
        copy = (
            f"a copy is in the dead-letter topic {letter.dead_letter_topic} with header "
            f"__connect.errors.offset={letter.kafka_offset}"
            if letter.dead_letter_topic
            else "a copy is in the dead-letter topic"
        )
        problem = (
            f"it has no table and key ({letter.error_class}: the message could not be decoded; "
            f"it was read from {letter.kafka_topic}[{letter.kafka_partition}] offset "
            f"{letter.kafka_offset}, {copy}); a retry cannot tell which row to copy. Find the "
            f"change in the topic, bring both sides in line by hand, then {resolve}"
        )
        return Candidate(letter, None, None, problem)
    table = tables.get(letter.source_table)
    if table is None:  # before the topic: a removed table's topic is no change topic either
        problem = (
            f"{letter.source_table} is not among the enabled mappings (removed, disabled or "
            "renamed since the letter was recorded), so there is no mapping to copy its row "
            f"by. A renamed table: copy the row by hand (or reconcile the new table with "
            f"repair on); a table no longer synced: nothing to copy. Then {resolve}"
        )
        return Candidate(letter, letter_side(letter, topics), None, problem)
    side = letter_side(letter, topics)
    if side is None:
        problem = (
            f"its topic {letter.kafka_topic!r} is no change topic of an enabled mapping with "
            "this deployment's connector prefix (MPS_CONNECTOR_PREFIX, --mappings), so the side "
            f"it came from is unknown; fix the settings, or {resolve}"
        )
        return Candidate(letter, None, None, problem)
    if not isinstance(table, ReconcileTable):
        return Candidate(letter, side, None, f"{table}; fix the mapping, or {resolve}")
    try:
        return Candidate(letter, side, raw_key(table, side, letter.key))
    except ValueError as exc:
        return Candidate(letter, side, None, f"{exc}; {resolve}")


def _comparable(value: Any) -> Any:
    """A key value compared across the two sides' forms (a uuid key is bytes in MySQL)."""
    return value.bytes if isinstance(value, uuid.UUID) else value


def plan_retries(
    candidates: Sequence[Candidate], chosen: Callable[[DeadLetterRow], bool]
) -> tuple[list[Retry], list[Refusal]]:
    """One retry per (table, key, direction) among the chosen open letters, oldest first.

    ``candidates`` are *all* open dead letters: a key with open letters in both directions is
    refused even when only one direction is chosen, since each side then holds a write the
    other lacks, and copying either row would overwrite the other."""
    sides: dict[tuple[str, tuple[Any, ...]], set[Side]] = {}
    for c in candidates:
        if c.raw_key is not None and c.side is not None and c.letter.source_table:
            ident = (c.letter.source_table, tuple(map(_comparable, c.raw_key)))
            sides.setdefault(ident, set()).add(c.side)
    groups: dict[tuple[str, tuple[Any, ...], Side], list[Candidate]] = {}
    refusals: list[Refusal] = []
    for c in sorted(candidates, key=lambda c: (c.letter.recorded_at, c.letter.id)):
        letter = c.letter
        if not chosen(letter):
            continue
        table = letter.source_table or "?"
        if c.problem is not None or c.raw_key is None or c.side is None:
            refusals.append(Refusal((letter.id,), table, letter.key, c.problem or "unknown"))
            continue
        ident = (table, tuple(map(_comparable, c.raw_key)))
        groups.setdefault((*ident, c.side), []).append(c)
    retries = []
    for (table, _, side), group in groups.items():
        ids = tuple(c.letter.id for c in group)
        key = group[-1].letter.key or {}
        if len(sides[(table, tuple(map(_comparable, group[0].raw_key or ())))]) > 1:
            refusals.append(Refusal(ids, table, key, _both_directions(table, key)))
            continue
        retries.append(Retry(table, side, group[0].raw_key or (), key, ids, _first_change(group)))
    return retries, refusals


def _first_change(group: Sequence[Candidate]) -> tuple[str, int, int] | None:
    """Where the earliest change of the group is in its change topic (the lowest offset: the
    letters of one key and direction come from one partition)."""
    found = [
        (c.letter.kafka_topic, c.letter.kafka_partition, c.letter.kafka_offset)
        for c in group
        if c.letter.kafka_topic is not None
        and c.letter.kafka_partition is not None
        and c.letter.kafka_offset is not None
    ]
    if not found:
        return None
    topic, partition, offset = min(found, key=lambda f: (f[0], f[1], f[2]))
    return str(topic), int(partition or 0), int(offset or 0)


def needs_before_image(rule: str, source_side: Side) -> bool:
    """Whether a retry must check that the target still holds the row the failed change
    started from: under ``mysql_wins`` a PostgreSQL change (``postgres_wins``: a MySQL one)
    loses to any change the target made to the row since. The stream sees that in the
    change's before-image; a retry that copied the source row without it would put the
    losing side's row over the target's newer one, and the target's change, carried over
    later, would swap the two sides for good. Under ``last_writer_wins`` and ``version`` the
    rule column decides without a before-image, and the winning side's retry always writes."""
    return (rule, source_side) in (("mysql_wins", "postgres"), ("postgres_wins", "mysql"))


def unchecked_hint(retry: Retry, rule: str, why: str) -> str:
    """A retry under ``needs_before_image`` whose failed change could not be read back."""
    source, target = SIDE_NAMES[retry.source_side], SIDE_NAMES[retry.target_side]
    where = "{}[{}] offset {}".format(*retry.first_change) if retry.first_change else "(unknown)"
    return (
        f"{retry.describe()}: nothing was written: under {rule} {source}'s row may only "
        f"replace {target}'s while {target} still holds the row the failed change started "
        f"from, and that change (at {where}) could not be read back: {why}. Compare the two "
        f"rows: if {source}'s is right, write it in {target} by hand (the stream carries it "
        f"back), then `dead-letters resolve {ids_text(retry.letter_ids)} --note ...`"
    )


def _both_directions(table: str, key: Mapping[str, Any]) -> str:
    return (
        f"{table} {key_text(key)} has open dead letters in both directions: MySQL and "
        "PostgreSQL each hold a change the other lacks, and copying either row would overwrite "
        "the other. Decide which row is right and write it on that side (the stream carries "
        "it over), then `dead-letters resolve` every id of the key with a note saying so"
    )


def copied_resolution(source_side: Side) -> str:
    """What a successful retry did, as stored in ``dead_letters.resolution``."""
    source, target = SIDE_NAMES[source_side], SIDE_NAMES[other_side(source_side)]
    return f"retried: copied {source}'s current row to {target}"


def not_found_hint(retry: Retry) -> str:
    """A retry whose key has no row on its source side now: never a delete on a guess."""
    source, target = SIDE_NAMES[retry.source_side], SIDE_NAMES[retry.target_side]
    return (
        f"{retry.describe()}: {source} has no row with this key now, so nothing was written and "
        f"the letter stays open. If the row was deleted in {source}, delete it in {target} too "
        "(or reconcile the table with repair on), then resolve the letter by hand; if the row "
        f"is there, check both sides and resolve by hand"
    )


def hand_resolution(note: str) -> str:
    return f"resolved by hand: {' '.join(note.split())}"


def checked_kept_hint(retry: Retry, error: str) -> str:
    """A retry from the side that loses conflicts that the rule refused: it judged the change
    by the before-image of the message at the letter's offset, which is the last change of
    the key in the batch that failed; an earlier one of that batch (an insert, then an update)
    may be what the target never saw, so the refusal proves nothing is lost only when that
    message was the key's only change there."""
    source, target = SIDE_NAMES[retry.source_side], SIDE_NAMES[retry.target_side]
    return (
        f"{retry.describe()}: not written: {short_error(error, 400)}, judged against the "
        f"before-image of the change at the letter's offset. If {source} changed this key more "
        f"than once in a moment (an insert and then an update), that before-image may not be "
        f"the row {target} holds, and {source}'s row is then missing there: compare the key on "
        f"both sides; if {target}'s row is the newer one, `dead-letters resolve "
        f"{ids_text(retry.letter_ids)} --note ...`; otherwise copy {source}'s row by hand and "
        "resolve the letter with a note"
    )


def fix_hint(retry: Retry, error: str, kept_by_rule: bool = False) -> str:
    """What to do about a retry that failed again; ``kept_by_rule``: the mapping's conflict
    rule kept the target's row."""
    target = SIDE_NAMES[retry.target_side]
    if kept_by_rule:
        what = (
            f"the mapping's conflict rule favours {target}'s row over the one a retry copies; "
            "if that is right, nothing is lost: `dead-letters resolve "
            f"{ids_text(retry.letter_ids)} --note ...`"
        )
    else:
        what = (
            f"fix the cause in {target} (the constraint, column or value the error names), "
            f"then `dead-letters retry {ids_text(retry.letter_ids)}` again"
        )
    return f"{retry.describe()}: still fails: {short_error(error, 400)}; {what}"
