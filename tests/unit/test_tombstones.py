"""Delete vs update under last-writer-wins: both consumption orders end the same on both sides."""

from __future__ import annotations

import datetime as dt

import pytest

from mysql_pg_sync.cdc.conflicts import (
    Decision,
    Observation,
    bury,
    decide,
    decide_missing,
    delete_time,
)
from mysql_pg_sync.cdc.tombstones import tombstone_key

T0 = dt.datetime(2026, 1, 1, 12, 0, 0)
OLDER, NEWER = T0, T0 + dt.timedelta(seconds=5)


def missing_row(side: str, update_ts: dt.datetime, tombstone: dt.datetime | None) -> Observation:
    return Observation(
        incoming_side=side,  # type: ignore[arg-type]
        op="u",
        exists=False,
        same_as_after=False,
        has_before=True,
        same_as_before=False,
        incoming_rule_value=update_ts,
        tombstone=tombstone,
    )


@pytest.mark.parametrize(
    ("update_ts", "tombstone", "expected"),
    [
        # delete consumed first and newer: the late update must not bring the row back
        (OLDER, NEWER, Decision("skip_lost", "update_delete", "mysql")),
        # delete consumed first but older: the update wins and re-inserts
        (NEWER, OLDER, Decision("apply", "update_delete", "postgres")),
        # tie: MySQL (the deleting side here) wins on both appliers
        (OLDER, OLDER, Decision("skip_lost", "update_delete", "mysql")),
        # no tombstone yet (update consumed first): re-insert, as before
        (OLDER, None, Decision("apply", "update_delete", "postgres")),
    ],
)
def test_update_from_postgres_meets_a_mysql_delete(
    update_ts: dt.datetime, tombstone: dt.datetime | None, expected: Decision
) -> None:
    assert decide("last_writer_wins", missing_row("postgres", update_ts, tombstone)) == expected


def test_tie_goes_to_mysql_update_against_postgres_delete() -> None:
    assert decide_missing("last_writer_wins", "mysql", OLDER, OLDER) == Decision(
        "apply", "update_delete", "mysql"
    )


def test_other_rules_ignore_tombstones() -> None:
    for rule in ("mysql_wins", "postgres_wins", "version"):
        with_tombstone = decide(rule, missing_row("postgres", OLDER, NEWER))
        assert with_tombstone == decide(rule, missing_row("postgres", OLDER, None))


@pytest.mark.parametrize(
    ("delete_side", "delete_ts", "resurrected", "expected"),
    [
        ("mysql", NEWER, OLDER, True),  # update consumed first resurrected an older row: remove
        ("mysql", OLDER, NEWER, False),  # the row there is newer than the delete: keep
        ("mysql", OLDER, OLDER, True),  # tie: MySQL's delete wins
        ("postgres", OLDER, OLDER, False),  # tie: MySQL's row wins over PostgreSQL's delete
    ],
)
def test_bury_removes_only_rows_older_than_the_winning_delete(
    delete_side: str, delete_ts: dt.datetime, resurrected: dt.datetime, expected: bool
) -> None:
    assert bury("last_writer_wins", delete_side, delete_ts, resurrected) is expected  # type: ignore[arg-type]
    assert bury("mysql_wins", delete_side, delete_ts, resurrected) is False  # type: ignore[arg-type]


def test_tombstone_key_is_the_same_from_both_sides() -> None:
    assert tombstone_key((15, "a")) == tombstone_key(("15", "a")) == '["15", "a"]'


COMMIT_SECOND = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)  # MySQL's binlog: whole seconds


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        # the removed version was written later in the same second: the delete is at least that new
        (
            dt.datetime(2026, 1, 1, 12, 0, 0, 612000),
            dt.datetime(2026, 1, 1, 12, 0, 0, 612000, tzinfo=dt.UTC),
        ),
        (dt.datetime(2026, 1, 1, 11, 0, 0), COMMIT_SECOND),  # an older version: commit time
        (None, COMMIT_SECOND),  # no before-image value
        ("2026-01-01 13:00:00", COMMIT_SECOND),  # not a timestamp: the commit time alone
        (
            dt.datetime(2026, 1, 1, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            dt.datetime(2026, 1, 1, 13, 0, tzinfo=dt.UTC),
        ),
    ],
)
def test_a_delete_counts_as_no_older_than_the_version_it_removed(
    removed: object, expected: dt.datetime
) -> None:
    assert delete_time(COMMIT_SECOND, removed) == expected


def test_a_same_second_update_older_than_the_removed_version_stays_deleted() -> None:
    """Found by `make chaos` (seed 912710307): PostgreSQL's update at .086 had lost to MySQL's
    .612 row, which MySQL then deleted; its binlog stamped the delete .000, so the update came
    back on MySQL alone."""
    update = dt.datetime(2026, 1, 1, 12, 0, 0, 86000)
    removed = dt.datetime(2026, 1, 1, 12, 0, 0, 612000)
    by_commit_alone = decide("last_writer_wins", missing_row("postgres", update, COMMIT_SECOND))
    assert by_commit_alone.action == "apply"  # what went wrong
    grave = delete_time(COMMIT_SECOND, removed)
    assert decide("last_writer_wins", missing_row("postgres", update, grave)) == Decision(
        "skip_lost", "update_delete", "mysql"
    )
    assert bury("last_writer_wins", "mysql", grave, update) is True
