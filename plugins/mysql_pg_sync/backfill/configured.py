"""The backfill as configured by the environment: what the DAG's tasks use."""

from __future__ import annotations

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import Backfill
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cdc.loop_guard import backfill_origin, tags_from_env
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import Endpoints, mappings_dir, reports_dir


def configured_backfill(endpoints: Endpoints, *, require_capture: bool = True) -> Backfill:
    """Mappings from the mapping folder; capture checked in Connect (or assumed, with the
    connectors' topic prefix)."""
    check = (
        handoff.connect_capture_check(endpoints.connect_url)
        if require_capture
        else handoff.assume_capture_running(ConnectorSettings.from_env().mysql_topic_prefix)
    )
    return Backfill(
        endpoints,
        load_mappings(mappings_dir()),
        capture_check=check,
        position_reader=handoff.kafka_end_offsets(endpoints.kafka_bootstrap),
        reports_dir=reports_dir(),
        write_origin=backfill_origin(tags_from_env().pg_origin),
    )
