"""Deletes against inserts/updates under ``version``, and a change that loses to a tombstone
under ``last_writer_wins``: both appliers decide a pair alike, and the loser is removed on the
side that still holds it (review rv6, F4/F5)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import pytest

from mysql_pg_sync.cdc.apply import Applier, BatchResult, Burial, _Prepared, tombstone_image
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.conflicts import Decision, Observation, bury, decide
from mysql_pg_sync.cdc.events import ChangeEvent, Op, Side
from mysql_pg_sync.cdc.tombstones import tombstone_key
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.dialects import postgres as postgres_dialect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

OTHER: dict[str, Side] = {"mysql": "postgres", "postgres": "mysql"}


def _missing(side: str, op: str, version: Any, grave: Any) -> Observation:
    return Observation(
        incoming_side=side,  # type: ignore[arg-type]
        op=op,
        exists=False,
        same_as_after=False,
        has_before=op == "u",
        same_as_before=False,
        incoming_rule_value=version,
        tombstone_version=grave,
    )


@pytest.mark.parametrize(
    ("side", "op", "version", "grave", "expected"),
    [
        # F5: PostgreSQL's update to 2 meets MySQL's delete of version 3: stays deleted
        ("postgres", "u", 2, 3, Decision("skip_lost", "update_delete", "mysql")),
        # an update above the deleted version brings the row back
        ("postgres", "u", 4, 3, Decision("apply", "update_delete", "postgres")),
        # ties go to MySQL, whichever side deleted
        ("postgres", "u", 3, 3, Decision("skip_lost", "update_delete", "mysql")),
        ("mysql", "u", 3, 3, Decision("apply", "update_delete", "mysql")),
        # no tombstone (the update consumed first): the row comes back, and bury removes it
        ("postgres", "u", 2, None, Decision("apply", "update_delete", "postgres")),
        # an insert is a key re-created after the delete: versions start again, it is applied
        ("postgres", "c", 1, 3, Decision("apply")),
    ],
)
def test_version_update_meets_the_other_sides_tombstone(
    side: str, op: str, version: int, grave: int | None, expected: Decision
) -> None:
    assert decide("version", _missing(side, op, version, grave)) == expected


def test_a_version_tombstone_does_not_count_under_last_writer_wins() -> None:
    stamp = dt.datetime(2026, 1, 1)
    seen = Observation("postgres", "u", False, False, True, False, stamp, tombstone_version=3)
    assert decide("last_writer_wins", seen) == Decision("apply", "update_delete", "postgres")


@pytest.mark.parametrize("delete_side", ["mysql", "postgres"])
@pytest.mark.parametrize(("removed", "updated"), [(3, 2), (2, 3), (3, 3)])
def test_both_appliers_decide_a_version_delete_and_update_alike(
    delete_side: Side, removed: int, updated: int
) -> None:
    """Where the delete arrives it meets the updated row (delete_update); where the update
    arrives it meets the tombstone: the same winner, and bury agrees with it."""
    update_side = OTHER[delete_side]
    at_update_side = decide(
        "version",
        Observation(
            delete_side,
            "d",
            True,
            False,
            True,
            False,
            incoming_rule_value=removed,
            target_rule_value=updated,
        ),
    )
    at_delete_side = decide("version", _missing(update_side, "u", updated, removed))
    assert at_update_side.winner == at_delete_side.winner
    delete_wins = at_update_side.winner == delete_side
    assert bury("version", delete_side, removed, updated) is delete_wins


def test_bury_under_version_and_not_under_fixed_winners() -> None:
    assert bury("version", "mysql", 3, 2) is True
    assert bury("version", "mysql", 2, 3) is False
    assert bury("postgres_wins", "postgres", 3, 2) is False


def test_a_version_tombstone_is_recorded_as_the_target_image() -> None:
    assert tombstone_image(3) == {"__removed_version": 3}
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert tombstone_image(moment) == {"__deleted_at": moment.isoformat()}


# -- the applier: what it records and queues --------------------------------------------------


def _mapping(rule: str, column: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": "app.items",
            "target": "public.items",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "qty", "column_type": "int(11)"},
                {"name": "changed", "column_type": "datetime(6)", "nullable": False},
            ],
            "direction": "both",
            "conflict": {"rule": rule, "column": column},
        }
    )


class _Graves:
    """Tombstones in memory: (table, key, side) -> (deleted_at, removed_version)."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, str], tuple[dt.datetime, Any]] = {}

    def record(
        self, table: str, key: str, side: Side, deleted_at: dt.datetime, removed: Any = None
    ) -> None:
        self.rows[(table, key, side)] = (deleted_at, removed)

    def newest(self, table: str, keys: Sequence[str], side: Side) -> dict[str, dt.datetime]:
        return {k: self.rows[(table, k, side)][0] for k in keys if (table, k, side) in self.rows}

    def removed_versions(self, table: str, keys: Sequence[str], side: Side) -> dict[str, Any]:
        found = {k: self.rows.get((table, k, side), (None, None))[1] for k in keys}
        return {k: v for k, v in found.items() if v is not None}


def _applier(rule: str, column: str, target: Side, rows: dict[Any, Any]) -> Any:
    mapping = _mapping(rule, column)
    dialect = mysql_dialect if target == "mysql" else postgres_dialect
    session: Any = SimpleNamespace(side=target, dialect=dialect, lock_rows=lambda *args: dict(rows))
    graves = _Graves()
    return Applier(session, MappingSet((mapping,)), graves), graves  # type: ignore[arg-type]


def _change(side: Side, op: Op, before: Any, after: Any, ms: int = 0) -> _Prepared:
    namespace = "app" if side == "mysql" else "public"
    event = ChangeEvent(side, namespace, "items", op, {"id": 1}, before, after, ms)
    change = CollapsedChange(event, before, after, 1, op)
    return _Prepared(change, (1,), dict(after) if after else None, frozenset())


def test_a_version_delete_leaves_the_version_it_removed_and_stops_an_older_update() -> None:
    stamp = dt.datetime(2030, 1, 1)
    # MySQL's delete of version 3 reaches PostgreSQL, which holds PostgreSQL's version 2
    to_pg, graves = _applier("version", "qty", "postgres", {(1,): (1, 2, stamp)})
    delete = _change("mysql", "d", {"id": 1, "qty": 3, "changed": stamp}, None, 1_000)
    delete.removed_rule, delete.deleted_at = 3, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    result = BatchResult()
    *_, deletes = to_pg._decide_locked(_plan(to_pg), [delete], result)
    assert deletes == [delete]
    assert delete.won_conflict
    assert graves.rows[("app.items", tombstone_key([1]), "mysql")][1] == 3
    # PostgreSQL's update to version 2 reaches MySQL, which deleted the row: it stays deleted
    to_mysql, _ = _applier("version", "qty", "mysql", {})
    to_mysql.tombstones = graves
    update = _change(
        "postgres",
        "u",
        {"id": 1, "qty": 1, "changed": stamp},
        {"id": 1, "qty": 2, "changed": stamp},
    )
    result = BatchResult()
    written = to_mysql._decide_locked(_plan(to_mysql), [update], result)
    assert all(not group for group in written)
    assert [(c.kind, c.winner) for c in result.conflicts] == [("update_delete", "mysql")]
    assert result.conflicts[0].target_image == {"__removed_version": 3}
    assert result.burials == []  # under version a tombstone never removes the updating side's row


def test_a_change_that_loses_to_a_tombstone_queues_its_own_sides_row_for_removal() -> None:
    """F4: PostgreSQL deleted key 1 at .700; MySQL re-created it stamped with that second."""
    deleted_at = dt.datetime(2026, 1, 1, 12, 0, 0, 700000, tzinfo=dt.UTC)
    to_pg, graves = _applier("last_writer_wins", "changed", "postgres", {})
    graves.record("app.items", tombstone_key([1]), "postgres", deleted_at)
    again = {"id": 1, "qty": 7, "changed": dt.datetime(2026, 1, 1, 12, 0, 0)}
    insert = _change("mysql", "c", None, again)
    result = BatchResult()
    written = to_pg._decide_locked(_plan(to_pg), [insert], result)
    assert all(not group for group in written)
    assert [(c.kind, c.winner) for c in result.conflicts] == [("update_delete", "postgres")]
    assert result.burials == [
        Burial("app.items", "postgres", "mysql", insert.change.last, deleted_at)
    ]
    # a re-insert stamped after the delete wins and queues nothing
    later = _change("mysql", "c", None, {**again, "changed": dt.datetime(2026, 1, 1, 12, 0, 1)})
    result = BatchResult()
    _, fresh, *_ = to_pg._decide_locked(_plan(to_pg), [later], result)
    assert fresh == [later]
    assert result.burials == []


def _plan(applier: Any) -> Any:
    side = applier.incoming_side
    plan = applier.plan("app.items" if side == "mysql" else "public.items")
    assert plan is not None
    return plan


def test_only_a_row_stamped_in_the_second_before_the_delete_is_removed_from_its_own_side() -> None:
    """A re-created key whose stamp is NULL, or older than the tombstone by more than the
    second a DATETIME(0) stamp truncates, is left alone: deleting it would remove a row
    someone just wrote (an old tombstone of a re-used natural key)."""
    import datetime as dt

    from mysql_pg_sync.cdc.conflicts import recreated_in_delete_window

    deleted = dt.datetime(2026, 1, 1, 12, 0, 0, 700_000, tzinfo=dt.UTC)
    assert recreated_in_delete_window(dt.datetime(2026, 1, 1, 12, 0, 0), deleted)
    assert recreated_in_delete_window(deleted, deleted)
    assert not recreated_in_delete_window(dt.datetime(2026, 1, 1, 11, 59, 59), deleted)
    assert not recreated_in_delete_window(dt.datetime(2026, 1, 1, 12, 0, 1), deleted)
    assert not recreated_in_delete_window(None, deleted)
    assert not recreated_in_delete_window(dt.date(2026, 1, 1), deleted)
