"""Kafka Connect preflight: reachable, and the connector plugins we render are installed."""

from __future__ import annotations

from collections.abc import Iterable

from mysql_pg_sync.cdc.connect_client import ConnectApiError, ConnectClient
from mysql_pg_sync.cdc.preflight import Finding


def check_plugins(installed: Iterable[str], needed: Iterable[str]) -> list[Finding]:
    """Pure: which needed connector classes are missing from ``GET /connector-plugins``."""
    have = set(installed)
    return [
        Finding(
            "connector_plugin",
            f"Kafka Connect has no plugin {cls}",
            f"put the Debezium jars for {cls} under the worker's plugin.path and restart it "
            "(`make setup` does this for the local stack)",
        )
        for cls in sorted(set(needed))
        if cls not in have
    ]


def run(client: ConnectClient, needed_classes: Iterable[str]) -> list[Finding]:
    try:
        plugins = client.connector_plugins()
    except ConnectApiError as exc:
        return [Finding("connect", str(exc), "start Kafka Connect or fix the kafka_connect URL")]
    return check_plugins((str(p["class"]) for p in plugins), needed_classes)
