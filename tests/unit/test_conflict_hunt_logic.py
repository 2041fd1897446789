"""Conflict decisions are the same on both appliers: each pair of changes, decided where either
change lands, names one winner (pure)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from mysql_pg_sync.cdc.compare import canonical
from mysql_pg_sync.cdc.conflicts import Observation, decide, decide_missing, incoming_wins
from mysql_pg_sync.cdc.events import Side, other_side

pytestmark = pytest.mark.unit

SIDES: tuple[Side, Side] = ("mysql", "postgres")
STAMPS: list[Any] = [
    None,
    dt.datetime(2030, 1, 1, 12, 0, 0),
    dt.datetime(2030, 1, 1, 12, 0, 0, 1),
    dt.datetime(2030, 1, 1, 12, 0, 0, tzinfo=dt.UTC),  # the same instant, aware
    dt.datetime(2030, 1, 1, 13, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),  # again
]
VERSIONS: list[Any] = [None, 0, 1, 2**63 - 1, 2**64 - 1]


@pytest.mark.parametrize(
    ("rule", "values", "kind"),
    [
        ("last_writer_wins", STAMPS, "datetime"),
        ("version", VERSIONS, "uint64"),
    ],
)
def test_every_pair_has_one_winner_whichever_applier_decides(
    rule: str, values: list[Any], kind: str
) -> None:
    """update_update on both appliers: the MySQL change landing in PostgreSQL against
    PostgreSQL's value, and the other way round, must name the same winner."""
    for a, b in itertools.product(values, repeat=2):
        ca, cb = canonical(kind, a), canonical(kind, b)
        at_pg = "mysql" if incoming_wins(rule, "mysql", ca, cb) else "postgres"
        at_mysql = "postgres" if incoming_wins(rule, "postgres", cb, ca) else "mysql"
        assert at_pg == at_mysql, (a, b)


def test_a_delete_and_an_update_name_the_same_winner_on_both_appliers() -> None:
    """LWW delete on X (counts as time D) vs update on Y (rule value U): X's applier decides
    delete_update against Y's row, Y's applier decide_missing against X's tombstone."""
    stamps = [canonical("datetime", s) for s in STAMPS]
    for (d, u), delete_side in itertools.product(itertools.product(stamps, repeat=2), SIDES):
        if d is None:
            continue  # a delete always has a time
        update_side = other_side(delete_side)
        seen = Observation(
            incoming_side=delete_side,
            op="d",
            exists=True,
            same_as_after=False,
            has_before=True,
            same_as_before=False,
            incoming_rule_value=None,
            target_rule_value=u,
            delete_ts=d,
        )
        where_update_landed = decide("last_writer_wins", seen)
        where_delete_landed = decide_missing("last_writer_wins", update_side, u, d)
        assert where_update_landed.winner == where_delete_landed.winner, (d, u, delete_side)
