"""Exceptions that carry enough context (table, key, column, file) for an operator to act."""

from __future__ import annotations


class SyncError(Exception):
    """Base class for every error the library raises on purpose."""


class ConfigError(SyncError):
    """A setting, endpoint or file is missing or malformed."""


class MappingError(SyncError):
    """A mapping file or entry is invalid; the message names file, table and field."""


class PreflightError(SyncError):
    """A server is not configured the way CDC needs; the message names the fix."""


class ConversionError(SyncError):
    """A value cannot be converted; the message names table, key, column and value."""


class AlreadyReported(SyncError):
    """Fails a task because an earlier task of the same run failed and alerted already: the run
    must end failed, without a second alert about the same cause."""
