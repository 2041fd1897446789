"""When a PostgreSQL replication slot without a WAL limit holds back too much (pure logic)."""

from __future__ import annotations

SLOT_UNLIMITED_WARN_BYTES = 4 * 2**30
"""Retained WAL from which a slot PostgreSQL sets no limit for (``max_slot_wal_keep_size`` -1,
its default) is reported: nothing invalidates such a slot, its WAL grows until the disk is
full, and the slot's wal_status stays ``reserved`` or ``extended`` all the while."""


def unlimited_slot_warning(slot: str, retained: float, safe: float | None) -> tuple[str, str]:
    """(what, what to do) for a slot without a WAL limit that holds back
    :data:`SLOT_UNLIMITED_WARN_BYTES` or more; ("", "") otherwise."""
    if safe is not None or retained < SLOT_UNLIMITED_WARN_BYTES:
        return "", ""
    return (
        f"replication slot {slot} holds back {retained / 2**30:,.1f} GB of WAL and PostgreSQL "
        "sets no limit for it (max_slot_wal_keep_size = -1): the WAL grows until the disk is "
        "full",
        "if the PostgreSQL connector is paused, stopped or failed, resume it (`connectors "
        "apply`); otherwise it is behind (`connectors status`). Set max_slot_wal_keep_size to "
        "bound it (a slot past the limit is invalidated, and `reset_lost_positions` recovers)",
    )
