"""Conflict decisions: does an incoming change win against the target's current row? (pure)

A *conflict* is a target row that changed independently of the incoming change: it differs from
the incoming before-image (or, for an insert, the row already exists with other values). A table
synced to MySQL under any rule but postgres_wins needs PostgreSQL's whole before-images
(REPLICA IDENTITY FULL, ADR 0014: a delete or update that carries only its key cannot be told
from a conflict); where one is missing anyway the rule column decides. The rules, per table
mapping:

- ``last_writer_wins``: the newer rule-column value wins; a delete carries its commit time.
- ``version``: the higher version wins; a delete carries the version it deleted.
- ``mysql_wins`` / ``postgres_wins``: that side always wins.

Ties (equal timestamps or versions) go to MySQL, the system of record: deterministic on both sides,
so both appliers reach the same final row. A NULL rule value loses to any non-NULL one.

Delete on side X (time Td, see :func:`delete_time`) against an update on side Y (rule value
Tu), last-writer-wins.
Every delete the consumer sees leaves a tombstone (newest Td per table, key, side); an update
that finds no target row asks the other side's tombstone (:func:`decide_missing`); a delete that
wins against an updated row also removes a row the applier resurrected on X (:func:`bury`):

=====================  ========  =====================================  ======================
consumed first         newer     at Y (delete arrives)                  at X (update arrives)
=====================  ========  =====================================  ======================
delete, then update    delete    row Tu < Td: delete applied            missing, tombstone
                                                                        newer: skip (deleted)
delete, then update    update    row Tu > Td: delete skipped            missing, tombstone
                                                                        older: re-insert Tu
update, then delete    delete    row Tu < Td: delete applied, and the   missing, no tombstone
                                 resurrected X row (Tu < Td) removed    yet: re-insert Tu
update, then delete    update    row Tu > Td: delete skipped            missing, no tombstone
                                                                        yet: re-insert Tu
=====================  ========  =====================================  ======================

Both orders end with the row deleted on both sides when Td is newer, or holding Tu on both
when Tu is newer; a tie goes to MySQL's side on both appliers.

An insert/update that loses to a tombstone is also removed from its own side Y when the row
there still holds a value the delete beats (:func:`bury` the other way round, queued by the
applier): the delete had already run on Y, so a key Y re-created right after it, stamped no later
than Td (a DATETIME(0) ``NOW()`` truncates to the second, Td has PostgreSQL's microseconds),
stayed on Y alone. Deciding the other way ("the re-insert came after the delete") cannot be done
alike on both sides: MySQL's binlog stamps commits to the whole second, so its commit time does
not order it against Td either, and only the rule value is seen the same on both appliers.

Delete vs update under ``version``: the same table with versions. The delete counts as the
version it removed (its own before-image); its tombstone carries that version
(``tombstones.removed_version``), and an *update* that finds no row compares with it
(:func:`decide_missing`); a delete that won against an updated row (delete_update) removes the
row the applier resurrected on its own side from an older update consumed first (:func:`bury`).
An *insert* that finds no row is a key re-created after a delete and is applied: versions
usually start again at 1 on a new row, so they cannot order it against the delete, and for the
same reason a tombstone never removes a row from the inserting side and only a delete that won
a conflict buries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from mysql_pg_sync.cdc.events import Side, other_side

Action = Literal["apply", "skip_same", "skip_lost"]
TIE_WINNER: Side = "mysql"


@dataclass(frozen=True, slots=True)
class Observation:
    """What the applier saw of the target row (locked) and the incoming change."""

    incoming_side: Side
    op: str  # c, u, d, r
    exists: bool
    same_as_after: bool
    has_before: bool  # a full before-image came with the change
    same_as_before: bool
    incoming_rule_value: Any = None  # after-image value (delete: see below)
    target_rule_value: Any = None
    delete_ts: dt.datetime | None = None  # commit time of an incoming delete (UTC, aware)
    tombstone: Any = None  # newest delete time of this key on the other side (missing row only)
    # ``version`` tables: the version the other side's newest delete of this key removed
    tombstone_version: Any = None


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    conflict: str | None = None  # insert_exists | update_update | update_delete | delete_update
    winner: Side | None = None


def _comparable(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def incoming_wins(rule: str, incoming_side: Side, incoming: Any, target: Any) -> bool:
    """The rule itself: True when the incoming value beats the target's."""
    if rule == "mysql_wins":
        return incoming_side == "mysql"
    if rule == "postgres_wins":
        return incoming_side == "postgres"
    if rule not in ("last_writer_wins", "version"):
        raise ValueError(f"unknown conflict rule {rule!r}")
    a, b = _comparable(incoming), _comparable(target)
    if (a is None and b is None) or a == b:
        return incoming_side == TIE_WINNER
    if a is None or b is None:
        return b is None
    return bool(a > b)


def decide(rule: str, seen: Observation) -> Decision:
    """Apply, skip because nothing would change, or skip because the target's row wins."""
    if seen.op == "d":
        return _decide_delete(rule, seen)
    if seen.exists and seen.same_as_after:
        return Decision("skip_same")
    if not seen.exists:
        if seen.tombstone is not None and rule == "last_writer_wins":
            return decide_missing(
                rule, seen.incoming_side, seen.incoming_rule_value, seen.tombstone
            )
        if seen.tombstone_version is not None and rule == "version" and seen.op == "u":
            # an update of a row the other side deleted: the delete counts as the version it
            # removed, as it does where it meets this update's row (delete_update)
            return decide_missing(
                rule, seen.incoming_side, seen.incoming_rule_value, seen.tombstone_version
            )
        if not seen.has_before or seen.op in ("c", "r"):
            return Decision("apply")
        return _resolve(rule, seen, "update_delete", seen.incoming_rule_value, None)
    if seen.has_before:
        if seen.same_as_before:
            return Decision("apply")
        kind = "insert_exists" if seen.op in ("c", "r") else "update_update"
        return _resolve(rule, seen, kind, seen.incoming_rule_value, seen.target_rule_value)
    if seen.op in ("c", "r"):
        return _resolve(
            rule, seen, "insert_exists", seen.incoming_rule_value, seen.target_rule_value
        )
    if rule in ("last_writer_wins", "version"):  # no before-image: the rule column decides
        if incoming_wins(
            rule, seen.incoming_side, seen.incoming_rule_value, seen.target_rule_value
        ):
            return Decision("apply")
        return Decision("skip_lost", "update_update", other_side(seen.incoming_side))
    return Decision("apply")


def _decide_delete(rule: str, seen: Observation) -> Decision:
    if not seen.exists:
        return Decision("skip_same")
    if not seen.has_before or seen.same_as_before:
        return Decision("apply")
    incoming = seen.delete_ts if rule == "last_writer_wins" else seen.incoming_rule_value
    return _resolve(rule, seen, "delete_update", incoming, seen.target_rule_value)


def _resolve(rule: str, seen: Observation, kind: str, incoming: Any, target: Any) -> Decision:
    if kind == "update_delete" and rule in ("last_writer_wins", "version"):
        # no tombstone of the target's delete yet (the update was consumed first): the update
        # brings the row back; when the other side then decides the delete newer
        # (delete_update), it also removes this row again (bury)
        return Decision("apply", kind, seen.incoming_side)
    if incoming_wins(rule, seen.incoming_side, incoming, target):
        return Decision("apply", kind, seen.incoming_side)
    return Decision("skip_lost", kind, other_side(seen.incoming_side))


def decide_missing(rule: str, incoming_side: Side, incoming: Any, tombstone: Any) -> Decision:
    """An insert/update meets a row the other side deleted at ``tombstone``: newer one wins."""
    if incoming_wins(rule, incoming_side, incoming, tombstone):
        return Decision("apply", "update_delete", incoming_side)
    return Decision("skip_lost", "update_delete", other_side(incoming_side))


def delete_time(commit: dt.datetime, removed_version: Any) -> dt.datetime:
    """The time a delete counts as under last-writer-wins: its commit time, or the rule value of
    the row version it removed when that is later.

    A delete is never older than the version it removed. MySQL's binlog stamps commits to the
    whole second, so by commit time alone a delete at 12:00:00.9 would lose to an update written
    on the other side at 12:00:00.1, even when the version it removed (12:00:00.6) beat that
    update; the row would come back on one side only. Naive values are UTC, as in comparisons.
    """
    if not isinstance(removed_version, dt.datetime):
        return commit
    removed = removed_version
    if removed.tzinfo is None:
        removed = removed.replace(tzinfo=dt.UTC)
    return max(commit, removed)


RECREATED_WINDOW = dt.timedelta(seconds=1)


def recreated_in_delete_window(incoming: Any, tombstone: Any) -> bool:
    """True for a last-writer-wins insert/update stamped no later than the other side's delete
    but less than a second before it: a key re-created in the second of its delete (a
    DATETIME(0) stamp truncates). Only such a row is removed from its own side when it loses
    to the tombstone; an older or NULL stamp (a row its application never stamps, an old
    tombstone of a re-used natural key) is left alone: its loss is a conflict on record, which
    reconcile reports, not a delete of a row someone just wrote."""
    a, b = _comparable(_as_datetime(incoming)), _comparable(_as_datetime(tombstone))
    if not isinstance(a, dt.datetime) or not isinstance(b, dt.datetime):
        return False
    return b - RECREATED_WINDOW < a <= b


def _as_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def bury(rule: str, delete_side: Side, delete_ts: Any, resurrected: Any) -> bool:
    """True when a delete that won must also remove a row it beats: on its own side, the row
    the applier brought back from an older update consumed before the delete; or, under
    last-writer-wins, on the side of an insert/update that lost to its tombstone.

    ``delete_ts`` is what the delete counts as: its time (:func:`delete_time`) under
    last-writer-wins, the version it removed under ``version``. A row that beats it stays.
    """
    if rule not in ("last_writer_wins", "version"):
        return False
    return incoming_wins(rule, delete_side, delete_ts, resurrected)
