"""A replication slot PostgreSQL sets no WAL limit for is never invalidated: its WAL grows until
the disk is full while its wal_status reads 'reserved'. Health and the status page warn once it
holds back SLOT_UNLIMITED_WARN_BYTES."""

from __future__ import annotations

import pytest

from mysql_pg_sync.cdc.preflight.postgres import check_slot
from mysql_pg_sync.cdc.slot_retention import SLOT_UNLIMITED_WARN_BYTES, unlimited_slot_warning
from mysql_pg_sync.status.model import slot_warning

pytestmark = pytest.mark.unit

LIMIT = SLOT_UNLIMITED_WARN_BYTES


def test_only_a_slot_without_a_limit_past_the_threshold_is_named() -> None:
    assert unlimited_slot_warning("s", LIMIT - 1, None) == ("", "")
    assert unlimited_slot_warning("s", 10 * LIMIT, 1.0) == ("", "")  # limited: wal_status says
    what, fix = unlimited_slot_warning("mps_pg_slot", 5 * 2**30, None)
    assert what.startswith("replication slot mps_pg_slot holds back 5.0 GB of WAL")
    assert "max_slot_wal_keep_size = -1" in what
    assert "connectors apply" in fix


def test_health_warns_and_the_status_page_turns_the_tables_yellow() -> None:
    [finding] = check_slot("mps_pg_slot", "reserved", (5 * 2**30, None))
    assert (finding.check, finding.severity) == ("replication_slot_growing", "warning")
    assert check_slot("mps_pg_slot", "reserved", (2**20, None)) == []
    assert check_slot("mps_pg_slot", "reserved") == []  # retention not read: as before
    row = {"slot_name": "mps_pg_slot", "retained_bytes": 5 * 2**30, "safe_bytes": None}
    assert "the WAL grows until the disk is full" in slot_warning(row)
    assert slot_warning({**row, "retained_bytes": 2**20}) == ""
