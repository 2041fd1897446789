"""Pure logic behind tests/integration/test_connectors_hunt.py: secrets in drift lines, what a
Connect error tells the operator to do, snapshot_tables' refusal, delete's order of steps."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.connect_client import (
    ConnectApiError,
    ConnectClient,
    ConnectorNotFound,
    ConnectorStatus,
    TaskStatus,
)
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, assert_no_plain_secrets
from mysql_pg_sync.cdc.connector_drift import config_drift
from mysql_pg_sync.errors import ConfigError, SyncError

LEAK = "hunter2"
JAAS = f'org.apache.kafka.common.security.plain.PlainLoginModule required password="{LEAK}";'


@pytest.mark.parametrize(
    "key",
    [
        "schema.history.internal.producer.sasl.jaas.config",
        "key.converter.basic.auth.user.info",
        "schema.history.internal.consumer.ssl.keystore.key",
        "database.password",
    ],
)
def test_a_drift_line_never_shows_a_secret_value(key: str) -> None:
    drift = config_drift("c", {"a": "1"}, {"a": "1", key: JAAS}, ())
    assert drift is not None
    assert key in drift.message()
    assert LEAK not in drift.message()
    assert "(hidden)" in drift.describe_keys()


def test_a_drift_line_shows_a_config_provider_reference_and_ordinary_values() -> None:
    ref = "${file:/etc/connect.properties:sasl.jaas}"
    drift = config_drift(
        "c",
        {"x.sasl.jaas.config": ref, "snapshot.mode": "no_data"},
        {"snapshot.mode": "initial"},
        (),
    )
    assert drift is not None
    assert repr(ref) in drift.describe_keys()
    assert "'initial' -> 'no_data'" in drift.describe_keys()


def test_a_template_with_a_literal_jaas_config_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"sasl\.jaas\.config holds a literal secret"):
        assert_no_plain_secrets({"schema.history.internal.producer.sasl.jaas.config": JAAS}, "t")


class Answers(requests.Session):
    """Answers every request with one status and body (the transport only)."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__()
        self.status, self.body = status, body

    def request(self, method: str | bytes, url: str | bytes, *a: Any, **k: Any) -> Any:
        response = requests.Response()
        response.status_code = self.status
        response._content = json.dumps(self.body).encode()
        return response


def test_a_404_names_the_connector_and_says_apply() -> None:
    client = ConnectClient("http://c", session=Answers(404, {"message": "Unknown connector x-y"}))
    with pytest.raises(ConnectorNotFound) as missing:
        client.pause("x-y")
    assert "Connector x-y does not exist in Kafka Connect" in str(missing.value)
    assert "connectors apply" in str(missing.value)
    assert missing.value.connect_message == "Unknown connector x-y"


def test_a_409_left_after_the_retries_says_to_wait_and_run_again() -> None:
    conflict = Answers(409, {"message": "Cannot complete request because of a conflicting op"})
    client = ConnectClient("http://c", retries=1, backoff_s=0.0, session=conflict)
    with pytest.raises(ConnectApiError) as failed:
        client.resume("x-y")
    assert "HTTP 409" in str(failed.value)
    assert "busy with another change of connector x-y" in str(failed.value)
    assert "run the action again" in str(failed.value)


def test_a_400_keeps_connects_message_alone() -> None:
    client = ConnectClient("http://c", session=Answers(400, {"message": "bad config"}))
    with pytest.raises(ConnectApiError) as failed:
        client.put_config("x", {})
    assert str(failed.value).endswith("HTTP 400: bad config")


class Fake:
    def __init__(self, **states: str) -> None:
        self.states = dict(states)
        self.calls: list[tuple[str, str]] = []

    def connectors(self) -> list[str]:
        return sorted(self.states)

    def status(self, name: str) -> ConnectorStatus:
        if name not in self.states:
            raise ConnectorNotFound(f"no {name}", status=404)
        state = self.states[name]
        return ConnectorStatus(
            name, state, tasks=() if state == "STOPPED" else (TaskStatus(0, state),)
        )

    def stop(self, name: str) -> None:
        self.calls.append(("stop", name))
        self.states[name] = "STOPPED"

    def reset_offsets(self, name: str) -> str:
        self.calls.append(("reset_offsets", name))
        return "reset"

    def delete(self, name: str) -> bool:
        self.calls.append(("delete", name))
        return self.states.pop(name, None) is not None


@pytest.mark.parametrize(
    ("state", "fix"), [("PAUSED", "action resume"), ("STOPPED", "action resume"), (None, "apply")]
)
def test_snapshot_tables_refuses_a_connector_that_does_not_run(state: str | None, fix: str) -> None:
    client = Fake(**({"c": state} if state else {}))
    with pytest.raises(ConfigError) as refused:
        actions.require_running(client, "c", ["db.t"], 1.0)  # type: ignore[arg-type]
    assert "connector c" in str(refused.value)
    assert "nothing was sent" in str(refused.value)
    assert fix in str(refused.value)
    assert actions.require_running(Fake(c="RUNNING"), "c", ["db.t"], 1.0).is_running  # type: ignore[arg-type]


def test_delete_forgets_the_postgres_position_before_deleting_even_keeping_the_slot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connect keeps a deleted connector's offsets and nothing resets them afterwards: once
    the kept slot is dropped they would fail the next apply."""
    settings = ConnectorSettings(prefix="mps")
    client = Fake(**{settings.mysql_connector: "RUNNING", settings.postgres_connector: "RUNNING"})
    endpoints = type("E", (), {"postgres": type("P", (), {"redacted": lambda self: "pg"})()})()
    ctx = actions.ConnectorContext(endpoints, None, settings, connect=client)  # type: ignore[arg-type]
    monkeypatch.setattr(actions, "slot_exists", lambda endpoint, slot: True)
    assert actions.delete(ctx) == [settings.mysql_connector, settings.postgres_connector]
    pg = settings.postgres_connector
    assert client.calls == [
        ("stop", pg),
        ("reset_offsets", pg),
        ("delete", settings.mysql_connector),
        ("delete", pg),
    ]


class Restartable(Fake):
    def restart(self, name: str, **_: Any) -> None:
        self.calls.append(("restart", name))
        self.states[name] = "RUNNING"


def test_restart_failed_restarts_the_failed_connector_though_the_other_is_paused() -> None:
    """control() goes through every connector "even after another failed": a PAUSED MySQL
    source (ConnectorNotRunning) ended restart_failed before the FAILED PostgreSQL source."""
    settings = ConnectorSettings(prefix="mps")
    client = Restartable(
        **{settings.mysql_connector: "PAUSED", settings.postgres_connector: "FAILED"}
    )
    ctx = actions.ConnectorContext(None, None, settings, connect=client)  # type: ignore[arg-type]
    with pytest.raises(SyncError) as failed:
        actions.control(ctx, "restart_failed")
    assert f"{settings.mysql_connector}: PAUSED" in str(failed.value)
    assert "action resume" in str(failed.value)
    assert ("restart", settings.postgres_connector) in client.calls
    assert client.states[settings.postgres_connector] == "RUNNING"
