"""Which server errors rerun a stream batch instead of failing the run, and which ones mean the
connection itself is gone (the service reconnects)."""

from __future__ import annotations

import MySQLdb
import psycopg
import pytest

from mysql_pg_sync.cdc.targets import is_connection_lost, is_transient


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
        psycopg.OperationalError("the connection is closed"),  # the service reconnects
        MySQLdb.OperationalError(2013, "Lost connection to MySQL server during query"),
        MySQLdb.IntegrityError(1062, "Duplicate entry"),
        ValueError("not a database error"),
    ],
)
def test_other_errors_are_not(exc: BaseException) -> None:
    assert not is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CrashShutdown("terminating connection because of crash"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.OperationalError("server closed the connection unexpectedly"),  # no SQLSTATE
        psycopg.InterfaceError("the connection is closed"),
        MySQLdb.OperationalError(2013, "Lost connection to server during query"),
        MySQLdb.OperationalError(2006, "Server has gone away"),
        MySQLdb.OperationalError(1927, "Connection was killed"),
        MySQLdb.OperationalError(2003, "Can't connect to server"),
        MySQLdb.InterfaceError(0, ""),
    ],
)
def test_a_lost_connection_is_told_apart(exc: BaseException) -> None:
    assert is_connection_lost(exc)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),  # rerun on the same session
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.UniqueViolation("duplicate key"),
        MySQLdb.OperationalError(1213, "Deadlock found when trying to get lock"),
        MySQLdb.OperationalError(1054, "Unknown column"),
        ValueError("not a database error"),
    ],
)
def test_other_errors_do_not_reconnect(exc: BaseException) -> None:
    assert not is_connection_lost(exc)
