"""PostgreSQL keeps a replication-state entry for every origin a session has set up, until the
origin is dropped, and has max_replication_slots of them. When none is left, the backfill's
writer and the stream's applier say so and how to fix it, instead of blaming privileges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pytest

from mysql_pg_sync.backfill.writer import adbc_connect, tag_session
from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import PostgresTarget
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import PreflightError
from mysql_pg_sync.settings import DatabaseEndpoint

FILLER = "mps_cap_fill_"


@pytest.fixture
def no_state_left(pg_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint) -> Iterator[None]:
    """Every free replication-state entry taken by origins of this test; dropped afterwards."""
    admin = replace(pg_admin, database=pg_db.database)
    with pg_connect(admin, autocommit=True) as conn:
        try:
            for n in range(200):
                name = f"{FILLER}{n}"
                conn.execute("SELECT pg_replication_origin_create(%s)", (name,))
                try:
                    conn.execute("SELECT pg_replication_origin_session_setup(%s)", (name,))
                except psycopg.errors.ConfigurationLimitExceeded:
                    break
                conn.execute("SELECT pg_replication_origin_session_reset()")
            else:
                pytest.fail("200 origins set up and still room: max_replication_slots is large")
            yield
        finally:
            conn.execute(
                "SELECT pg_replication_origin_drop(roname) FROM pg_replication_origin "
                "WHERE roname LIKE %s",
                ("mps_cap%",),  # the fillers, and the origins the code under test made
            )


def test_the_backfill_writer_names_the_limit_and_the_fix(
    no_state_left: None, pg_db: DatabaseEndpoint
) -> None:
    conn = adbc_connect(pg_db)
    try:
        cur = conn.cursor()
        with pytest.raises(PreflightError) as caught:
            tag_session(conn, cur, ["mps_capacity_probe_backfill", "mps_capacity_probe_backfill_1"])
    finally:
        conn.close()
    message = str(caught.value)
    assert "no free replication state for origin 'mps_capacity_probe_backfill'" in message
    assert "Raise max_replication_slots" in message
    assert "WHERE roname LIKE 'mps_capacity_probe_backfill%'" in message
    assert "GRANT" not in message


def test_the_stream_applier_names_the_limit_and_the_fix(
    no_state_left: None, pg_db: DatabaseEndpoint
) -> None:
    with pytest.raises(PreflightError, match="no free replication state for origin 'mps_cap_x'"):
        PostgresTarget(pg_db, LoopTags(pg_origin="mps_cap_x")).close()
