"""Repairs written by the stream applier (:class:`mysql_pg_sync.cdc.apply.Applier`).

Each repair becomes the change event the winning side would have sent: an update with the
winner's full row (no before-image), or a delete by key. The applier converts it to the other
side's names and types, applies the mapping's conflict rule inside the write, and writes in a
session tagged with the replication origin / GTID domain, so the capture drops it as an echo.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from mysql_pg_sync.cdc.apply import Applier, BatchResult
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import MySQLTarget, PostgresTarget
from mysql_pg_sync.dialects import for_side
from mysql_pg_sync.mapping.models import MappingSet
from mysql_pg_sync.reconcile.model import ReconcileTable, Side
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
        names[c.mysql_name]: dialect.key_param(c.kind, v)
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
        self, table: ReconcileTable, write_to: Side, repairs: Sequence[Repair]
    ) -> list[RepairOutcome]:
        vanished = [r for r in repairs if r.action == "upsert" and r.image is None]
        repairs = [r for r in repairs if r not in vanished]
        outcomes = [
            RepairOutcome(r.key, False, "the row left the winning side meanwhile; run again")
            for r in vanished
        ]
        if not repairs:
            return outcomes
        events = [repair_event(table, r) for r in repairs]
        result = BatchResult()
        session = self._session(write_to)
        try:
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
