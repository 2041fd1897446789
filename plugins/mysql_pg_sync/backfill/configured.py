"""The backfill as configured by the environment: what the DAG's tasks use."""

from __future__ import annotations

import os
from pathlib import Path

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.report import REPO, reports_dir
from mysql_pg_sync.backfill.runner import Backfill
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import endpoints_from_env


def mappings_dir() -> Path:
    """``$MPS_MAPPINGS_DIR``, default ``<repo>/include/mappings``."""
    return Path(os.environ.get("MPS_MAPPINGS_DIR") or REPO / "include" / "mappings")


def configured_backfill(*, require_capture: bool = True) -> Backfill:
    """Endpoints from ``MPS_*``, mappings from the mapping folder, capture checked in Connect."""
    endpoints = endpoints_from_env()
    check = (
        handoff.connect_capture_check(endpoints.connect_url)
        if require_capture
        else handoff.assume_capture_running(os.environ.get("MPS_TOPIC_PREFIX", "mysql"))
    )
    return Backfill(
        endpoints,
        load_mappings(mappings_dir()),
        capture_check=check,
        position_reader=handoff.kafka_end_offsets(endpoints.kafka_bootstrap),
        reports_dir=reports_dir(),
    )
