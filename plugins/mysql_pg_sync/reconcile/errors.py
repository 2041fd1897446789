"""Reconcile-specific errors; all are :class:`~mysql_pg_sync.errors.SyncError`."""

from __future__ import annotations

from mysql_pg_sync.errors import SyncError


class ReconcileError(SyncError):
    """A table cannot be compared as mapped; the message names table, column and the fix."""


class SchemaMismatchError(ReconcileError):
    """A database's table does not match the mapping (missing table or column)."""


class RepairLimitExceeded(ReconcileError):
    """More confirmed drift than the run's ``max_repairs`` allows; nothing was repaired."""
