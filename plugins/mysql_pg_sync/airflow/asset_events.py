"""What the Asset events that triggered a DAG run say (no Airflow import: reads the context)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mysql_pg_sync.quality.results import ReconcileTrigger


def reconcile_trigger(context: Mapping[str, Any], asset: Any) -> ReconcileTrigger | None:
    """The newest reconcile run among the ``asset`` events that triggered this run (their
    extra is ``{run_id, status}``); None for a run started from the UI or the CLI."""
    events = context.get("triggering_asset_events") or {}
    try:
        found = list(events[asset])
    except KeyError:
        found = []
    return ReconcileTrigger.latest(dict(getattr(e, "extra", None) or {}) for e in found)
