"""A table never backfilled has no state row, yet the stream applies its changes (captured
since `connectors apply`): with no consumer running it is stale like a streaming table, not a
grey 'no data' that hides a stopped pipeline."""

from __future__ import annotations

import pytest

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.status.model import StateSnapshot, TableStatus, build_status

pytestmark = pytest.mark.unit

STOPPED = {"running": 0, "finished_age_seconds": 3 * 86400}


MAPPING = TableMapping.model_validate(
    {
        "source": "legacy.mps_nostate",
        "target": "public.mps_nostate",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
    }
)


def _row(stream: dict[str, object] | None, consumers: dict[str, object]) -> TableStatus:
    snapshot = StateSnapshot(
        table_state={},
        stream={"legacy.mps_nostate": stream} if stream else {},
        consumers=consumers,
        conflicts_24h={},
        dead_letters={},
    )
    (row,) = build_status([MAPPING], snapshot)
    return row


def test_a_streamed_table_without_state_is_stale_when_no_consumer_runs() -> None:
    row = _row({"lag_seconds": 0.4, "events_per_second": 3.0, "age_seconds": 3 * 86400}, STOPPED)
    assert row.stale
    assert row.health == "warn"
    assert "(stale: no stream consumer running)" in row.stream_lag


def test_while_a_consumer_runs_it_is_quiet_and_one_never_streamed_stays_no_data() -> None:
    quiet = _row({"lag_seconds": 0.4, "age_seconds": 3 * 86400}, {"running": 1})
    assert not quiet.stale
    assert "quiet" in quiet.stream_lag
    never = _row(None, STOPPED)
    assert not never.stale
