"""Repairs written by the stream applier (:class:`mysql_pg_sync.cdc.apply.Applier`).

Each repair becomes the change event the winning side would have sent: an update with the
winner's full row (no before-image), or a delete by key. The applier converts it to the other
side's names and types, applies the mapping's conflict rule inside the write, and writes in a
session tagged with the replication origin / GTID domain, so the capture drops it as an echo.

A repair carries no before-image, so the applier would write it whatever the target holds by
then. Reconcile's repairs are therefore a compare-and-set (:func:`changed_since_compared`): in
the write's transaction the target row is locked and both sides' rows are read again, and a
key whose row changed on either side since the comparison is not written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mysql_pg_sync.cdc.apply import Applier, BatchResult
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import MySQLTarget, PostgresTarget
from mysql_pg_sync.dialects import for_side
from mysql_pg_sync.mapping.models import MappingSet
from mysql_pg_sync.reconcile.bisect import KeyText
from mysql_pg_sync.reconcile.canonical import values_equal
from mysql_pg_sync.reconcile.compare import PairSource
from mysql_pg_sync.reconcile.diff import CanonicalRow
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable, Side
from mysql_pg_sync.reconcile.repair import Repair, RepairOutcome
from mysql_pg_sync.settings import Endpoints


def repair_event(table: ReconcileTable, repair: Repair) -> ChangeEvent:
    """The change event the winning side would have produced for this repair."""
    winner: Side = "postgres" if repair.write_to == "mysql" else "mysql"
    names = {
        mysql_name: (mysql_name if winner == "mysql" else pg_name)
        for mysql_name, pg_name in table.image_columns.items()
    }
    namespace, name = (
        (table.mysql_db, table.mysql_table)
        if winner == "mysql"
        else (table.pg_schema, table.pg_table)
    )
    dialect = for_side(winner)  # the key may come from the other side's driver
    key = {
        names[c.mysql_name]: dialect.key_param(c.kind, v, pg_type=c.pg_type)
        for c, v in zip(table.key_columns, repair.raw_key, strict=True)
    }
    after = None
    if repair.action == "upsert":
        if repair.image is None:
            raise ValueError(f"{table.name}: upsert repair of {repair.key} has no row image")
        after = {names[c]: v for c, v in repair.image.items()}
    return ChangeEvent(
        side=winner,
        namespace=namespace,
        table=name,
        op="u" if repair.action == "upsert" else "d",
        key=key,
        before=None,
        after=after,
        source_ts_ms=int(time.time() * 1000),
    )


class StreamApplierRepairs:
    """A :class:`~mysql_pg_sync.reconcile.repair.RepairApplier` over the stream applier."""

    def __init__(self, endpoints: Endpoints, mappings: MappingSet, tags: LoopTags) -> None:
        self.endpoints, self.mappings, self.tags = endpoints, mappings, tags

    def _session(self, write_to: Side) -> Any:
        if write_to == "postgres":
            return PostgresTarget(self.endpoints.postgres, self.tags)
        return MySQLTarget(self.endpoints.mysql, self.tags)

    def apply_repairs(
        self,
        table: ReconcileTable,
        write_to: Side,
        repairs: Sequence[Repair],
        compared: PairSource | None = None,
    ) -> list[RepairOutcome]:
        vanished = [r for r in repairs if r.action == "upsert" and r.image is None]
        repairs = [r for r in repairs if r not in vanished]
        outcomes = [
            RepairOutcome(r.key, False, "the row left the winning side meanwhile; run again")
            for r in vanished
        ]
        if not repairs:
            return outcomes
        result = BatchResult()
        session = self._session(write_to)
        try:
            if compared is not None:
                changed = changed_since_compared(session.conn, table, write_to, repairs, compared)
                outcomes += [RepairOutcome(k, False, CHANGED, changed=True) for k in changed]
                repairs = [r for r in repairs if r.key not in changed]
            events = [repair_event(table, r) for r in repairs]
            if events:
                Applier(session, self.mappings).apply(
                    [CollapsedChange(e, None, e.after, 1) for e in events], result
                )
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        failed = {id(d.event): f"{type(d.error).__name__}: {d.error}" for d in result.dead_letters}
        lost = {
            id(c.event): f"the {c.rule} rule kept the {c.winner} row"
            for c in result.conflicts
            if c.winner == write_to
        }
        for repair, event in zip(repairs, events, strict=True):
            error = failed.get(id(event)) or lost.get(id(event))
            kept = id(event) in lost and id(event) not in failed
            outcomes.append(RepairOutcome(repair.key, error is None, error, kept))
        return outcomes


CHANGED = (
    "changed since compared: a side's row no longer held what the comparison saw, so the "
    "repair was not written (its image was stale); the next reconcile compares the key again"
)


def _same(
    columns: Sequence[CompareColumn], was: CanonicalRow | None, now: CanonicalRow | None
) -> bool:
    """Whether a row still holds what was compared (absent stays absent)."""
    if was is None or now is None:
        return was is now
    return all(
        was.texts.get(c.mysql_name) == now.texts.get(c.mysql_name)
        or values_equal(c, was.texts.get(c.mysql_name), now.texts.get(c.mysql_name))
        for c in columns
    )


def changed_since_compared(
    conn: Any,
    table: ReconcileTable,
    write_to: Side,
    repairs: Sequence[Repair],
    compared: PairSource,
) -> set[KeyText]:
    """The keys of ``repairs`` whose rows changed after the comparison: the compare-and-set
    of a repair. In the write session ``conn`` (its transaction, before the write) the target
    rows are locked, then both sides' rows are read again as the comparison read them: a row
    the target locks cannot change before the repair commits, so a key is written only while
    the target still holds what was compared and the winning side still holds what was
    compared (a later change there reaches the target through the stream, after the repair).
    A repair without its difference (a dead letter's retry) is not checked."""
    checked = [r for r in repairs if r.diff is not None]
    if not checked:
        return set()
    target = compared.mysql if write_to == "mysql" else compared.postgres
    source = compared.postgres if write_to == "mysql" else compared.mysql
    # every raw key either side has for a key: the other driver's form finds it too
    raw_keys = list(
        dict.fromkeys(
            row.raw_key
            for r in checked
            if r.diff is not None
            for row in (r.diff.mysql, r.diff.postgres)
            if row is not None
        )
    )
    target.lock_keys(conn, raw_keys)
    now_target = target.canonical_rows(raw_keys)
    now_source = source.canonical_rows(raw_keys)
    # the full images too: the repair writes every synced column, the ignored ones as well,
    # which the comparison never looked at, from images read before the lock
    imaged = [r for r in checked if r.image is not None or r.replaced is not None]
    target_images = target.raw_rows(raw_keys) if imaged else {}
    source_images = source.raw_rows(raw_keys) if imaged else {}
    changed = set()
    for r in checked:
        assert r.diff is not None
        was_target = r.diff.mysql if write_to == "mysql" else r.diff.postgres
        was_source = r.diff.postgres if write_to == "mysql" else r.diff.mysql
        if not (
            _same(table.columns, was_target, now_target.get(r.key))
            and _same(table.columns, was_source, now_source.get(r.key))
        ):
            changed.add(r.key)
    for r in imaged:
        if not (
            same_image(r.replaced, target_images.get(r.key))
            and same_image(r.image, source_images.get(r.key))
        ):
            changed.add(r.key)
    return changed


def same_image(was: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> bool:
    """Whether a row image read again equals the one read before, through the same driver
    (absent stays absent; a NaN equals a NaN)."""
    if was is None or now is None:
        return was is now
    return was.keys() == now.keys() and all(_same_value(was[k], now[k]) for k in was)


def _same_value(was: Any, now: Any) -> bool:
    if isinstance(was, float) and isinstance(now, float) and math.isnan(was):
        return math.isnan(now)
    if isinstance(was, list | tuple) and isinstance(now, list | tuple):
        return len(was) == len(now) and all(map(_same_value, was, now))
    return bool(was == now) and type(was) is type(now)
