"""Reading the status: an unreachable state database and Kafka Connect's connector states."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mysql_pg_sync.cdc.connect_client import ConnectorNotFound, ConnectorStatus
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.status import read
from mysql_pg_sync.status.html import render_status
from mysql_pg_sync.status.model import combined_state
from mysql_pg_sync.status.page import load_status

DOWN = DatabaseEndpoint("127.0.0.1", 1, "sync", "secret-pw", "app")  # nothing listens on port 1


def _endpoints(pg: DatabaseEndpoint = DOWN) -> Endpoints:
    return Endpoints(
        mysql=DatabaseEndpoint("127.0.0.1", 1, "sync", "x", "legacy"),
        postgres=pg,
        kafka_bootstrap="127.0.0.1:1",
        connect_url="http://127.0.0.1:1",
    )


def test_read_snapshot_with_unreachable_postgres_returns_a_reason() -> None:
    snapshot = read.read_snapshot(_endpoints(), with_connectors=False)
    assert snapshot.error is not None
    assert snapshot.error.startswith("state database unreachable: sync@127.0.0.1:1/app: ")
    assert "secret-pw" not in snapshot.error
    assert snapshot.table_state is None
    assert snapshot.stream is None
    html = render_status([], snapshot, datetime(2026, 1, 1, tzinfo=UTC))
    assert 'id="state-error"' in html
    assert "state database unreachable" in html


def test_a_failing_endpoint_resolver_renders_the_page(tmp_path: Any) -> None:
    from mysql_pg_sync.errors import ConfigError
    from mysql_pg_sync.mapping.models import MappingSet

    def resolver() -> Endpoints:
        raise ConfigError("Airflow connection postgres_target is not defined")

    rows, html = load_status(resolver, MappingSet(()), tmp_path)
    assert rows == []
    assert "state database unreachable: Airflow connection postgres_target" in html


@pytest.mark.parametrize(
    ("connector", "tasks", "expected"),
    [
        ("RUNNING", ["RUNNING", "RUNNING"], "RUNNING"),
        ("RUNNING", ["RUNNING", "FAILED"], "FAILED"),
        ("RUNNING", [], "UNASSIGNED"),
        ("PAUSED", ["PAUSED"], "PAUSED"),
        ("FAILED", ["RUNNING"], "FAILED"),
    ],
)
def test_combined_state_counts_the_tasks(connector: str, tasks: list[str], expected: str) -> None:
    assert combined_state(connector, tasks) == expected


class FakeConnect:
    """Connect with our two connectors (one task failed) and someone else's failed connector."""

    statuses = {
        "mps-mysql-source": ("RUNNING", ["FAILED"]),
        "mps-postgres-source": ("RUNNING", ["RUNNING"]),
        "other-team-postgres": ("FAILED", ["FAILED"]),
    }

    def __init__(self, *_a: Any, **_k: Any) -> None:
        pass

    def connectors(self) -> list[str]:
        return list(self.statuses)

    def status(self, name: str) -> ConnectorStatus:
        if name not in self.statuses:
            raise ConnectorNotFound(f"no {name}", status=404)
        state, tasks = self.statuses[name]
        return ConnectorStatus.from_json(
            {
                "name": name,
                "connector": {"state": state},
                "tasks": [{"id": i, "state": s} for i, s in enumerate(tasks)],
            }
        )


def test_read_connectors_reads_only_ours_with_task_states(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(read, "ConnectClient", FakeConnect)
    monkeypatch.delenv("MPS_CONNECTOR_PREFIX", raising=False)
    notes: list[str] = []
    states = read.read_connectors("http://connect", notes)
    assert notes == []
    assert states is not None
    assert {(c.name, c.side, c.state) for c in states} == {
        ("mps-mysql-source", "mysql", "FAILED"),
        ("mps-postgres-source", "postgres", "RUNNING"),
    }


def test_read_connectors_follows_the_prefix_and_skips_undeployed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(read, "ConnectClient", FakeConnect)
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", "other")
    states = read.read_connectors("http://connect", [])
    assert states == ()
    names = read.our_connectors(ConnectorSettings(prefix="abc"))
    assert names == {"abc-mysql-source": "mysql", "abc-postgres-source": "postgres"}
