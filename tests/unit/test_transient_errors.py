"""Which server errors rerun a stream batch instead of failing the run."""

from __future__ import annotations

import MySQLdb
import psycopg
import pytest

from mysql_pg_sync.cdc.targets import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock"),
        MySQLdb.OperationalError(1205, "Lock wait timeout exceeded"),
    ],
)
def test_deadlocks_and_lock_waits_are_rerun(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.UniqueViolation("duplicate key"),  # a row error: dead letter, not rerun
        psycopg.OperationalError("the connection is closed"),  # the run fails and restarts
        MySQLdb.OperationalError(2013, "Lost connection to MySQL server during query"),
        MySQLdb.IntegrityError(1062, "Duplicate entry"),
        ValueError("not a database error"),
    ],
)
def test_other_errors_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)
