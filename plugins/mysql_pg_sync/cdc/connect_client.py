"""A small client for the Kafka Connect REST API (the parts the connector lifecycle needs).

Connect answers 409 (or a 500 saying "a rebalance is expected") while the group rebalances or a
previous request is still being processed; those are retried with exponential backoff. Every
other error raises :class:`ConnectApiError` carrying Connect's own message, so an operator sees
what Connect said, not just a status code.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import requests

from mysql_pg_sync.errors import SyncError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 8  # 409s during a rebalance usually clear within a few seconds
DEFAULT_BACKOFF_S = 0.25
MAX_BACKOFF_S = 5.0
RETRIED_STATUSES = frozenset({409})


class ConnectApiError(SyncError):
    """Kafka Connect refused a request or could not be reached; carries Connect's message."""

    def __init__(self, message: str, *, status: int | None = None, connect_message: str = ""):
        super().__init__(message)
        self.status = status
        self.connect_message = connect_message


class ConnectorNotFound(ConnectApiError):
    """The named connector does not exist (404)."""


@dataclass(frozen=True)
class TaskStatus:
    id: int
    state: str
    worker_id: str = ""
    trace: str = ""


@dataclass(frozen=True)
class ConnectorStatus:
    """``GET /connectors/{name}/status``, typed."""

    name: str
    state: str
    worker_id: str = ""
    trace: str = ""
    tasks: tuple[TaskStatus, ...] = field(default=())

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ConnectorStatus:
        connector = body.get("connector", {})
        tasks = tuple(
            TaskStatus(
                id=int(t["id"]),
                state=str(t["state"]),
                worker_id=str(t.get("worker_id", "")),
                trace=str(t.get("trace", "")),
            )
            for t in body.get("tasks", [])
        )
        return cls(
            name=str(body["name"]),
            state=str(connector.get("state", "UNASSIGNED")),
            worker_id=str(connector.get("worker_id", "")),
            trace=str(connector.get("trace", "")),
            tasks=tuple(sorted(tasks, key=lambda t: t.id)),
        )

    @property
    def is_running(self) -> bool:
        """The connector and at least one task run, and no task is in another state."""
        return (
            self.state == "RUNNING"
            and bool(self.tasks)
            and all(t.state == "RUNNING" for t in self.tasks)
        )

    @property
    def failed_tasks(self) -> tuple[TaskStatus, ...]:
        return tuple(t for t in self.tasks if t.state == "FAILED")

    @property
    def is_failed(self) -> bool:
        return self.state == "FAILED" or bool(self.failed_tasks)

    def summary(self) -> str:
        tasks = ", ".join(f"task {t.id} {t.state}" for t in self.tasks) or "no tasks"
        return f"{self.name}: {self.state} ({tasks})"

    def failure_trace(self) -> str:
        """The traces of the failed connector and tasks, for an error message."""
        parts = [f"connector {self.name}:\n{self.trace}"] if self.trace else []
        parts += [f"task {t.id}:\n{t.trace}" for t in self.failed_tasks if t.trace]
        return "\n".join(parts)


def connect_error_message(body: Any) -> str:
    """Connect's error text from a response body (``{"error_code": .., "message": ..}``)."""
    if isinstance(body, Mapping):
        return str(body.get("message") or body)
    return str(body)


class ConnectClient:
    """Typed calls against one Kafka Connect cluster's REST API."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries: int = DEFAULT_RETRIES,
        backoff_s: float = DEFAULT_BACKOFF_S,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.session = session or requests.Session()

    # -- cluster -----------------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        return dict(self._call("GET", "/"))

    def connector_plugins(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/connector-plugins", params={"connectorsOnly": "true"}))

    def connectors(self) -> list[str]:
        return sorted(self._call("GET", "/connectors"))

    def connectors_expanded(self) -> dict[str, tuple[dict[str, str], ConnectorStatus]]:
        """Every connector's config and status in one request (``?expand=info&expand=status``),
        instead of two per connector."""
        body = self._call("GET", "/connectors", params=[("expand", "info"), ("expand", "status")])
        return {
            str(name): (dict(entry["info"]["config"]), ConnectorStatus.from_json(entry["status"]))
            for name, entry in dict(body).items()
        }

    # -- one connector -----------------------------------------------------------------------

    def get_config(self, name: str) -> dict[str, str] | None:
        """The stored config, or None when the connector does not exist."""
        try:
            return dict(self._call("GET", f"/connectors/{_q(name)}/config"))
        except ConnectorNotFound:
            return None

    def put_config(self, name: str, config: Mapping[str, str]) -> dict[str, Any]:
        """Create or update the connector (``PUT /connectors/{name}/config``)."""
        return dict(self._call("PUT", f"/connectors/{_q(name)}/config", json=dict(config)))

    def status(self, name: str) -> ConnectorStatus:
        return ConnectorStatus.from_json(self._call("GET", f"/connectors/{_q(name)}/status"))

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/pause")

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/resume")

    def stop(self, name: str) -> None:
        """Stop the connector and its tasks, keeping the config (needed to change offsets)."""
        self._call("PUT", f"/connectors/{_q(name)}/stop")

    def restart(self, name: str, *, include_tasks: bool = True, only_failed: bool = True) -> None:
        params = {
            "includeTasks": str(include_tasks).lower(),
            "onlyFailed": str(only_failed).lower(),
        }
        self._call("POST", f"/connectors/{_q(name)}/restart", params=params)

    def delete(self, name: str, *, missing_ok: bool = True) -> bool:
        """Delete the connector; True if it existed."""
        try:
            self._call("DELETE", f"/connectors/{_q(name)}")
        except ConnectorNotFound:
            if missing_ok:
                return False
            raise
        return True

    def offsets(self, name: str) -> list[dict[str, Any]]:
        """``[{"partition": {...}, "offset": {...}}]`` as Connect stores them."""
        return list(self._call("GET", f"/connectors/{_q(name)}/offsets").get("offsets", []))

    def alter_offsets(self, name: str, offsets: list[dict[str, Any]]) -> str:
        """PATCH offsets; Connect requires the connector to be STOPPED."""
        body = self._call("PATCH", f"/connectors/{_q(name)}/offsets", json={"offsets": offsets})
        return connect_error_message(body)

    def reset_offsets(self, name: str) -> str:
        """DELETE offsets; Connect requires the connector to be STOPPED."""
        return connect_error_message(self._call("DELETE", f"/connectors/{_q(name)}/offsets"))

    # -- transport ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(method, url, timeout=self.timeout_s, **kwargs)
            except requests.RequestException as exc:
                raise ConnectApiError(
                    f"Kafka Connect at {self.base_url} is unreachable ({method} {path}): {exc}; "
                    "start it (`make stack-up`) or fix the kafka_connect connection"
                ) from exc
            if _is_rebalance(response) and attempt < self.retries:
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)
                continue
            return _decode(response, method, path)
        raise AssertionError("unreachable")  # pragma: no cover


def _is_rebalance(response: requests.Response) -> bool:
    """409 (rebalance or concurrent change), or a 5xx that says a rebalance is expected."""
    if response.status_code in RETRIED_STATUSES:
        return True
    return response.status_code >= 500 and "rebalance" in response.text.lower()


def _decode(response: requests.Response, method: str, path: str) -> Any:
    try:
        body: Any = response.json() if response.content else {}
    except ValueError:
        body = response.text
    if response.ok:
        return body
    message = connect_error_message(body)
    error = ConnectorNotFound if response.status_code == 404 else ConnectApiError
    raise error(
        f"Kafka Connect {method} {path} failed with HTTP {response.status_code}: {message}"
        f"{_what_to_do(response, path)}",
        status=response.status_code,
        connect_message=message,
    )


def _what_to_do(response: requests.Response, path: str) -> str:
    """The operator's next step for the errors an action meets on a healthy cluster."""
    parts = path.split("/")
    name = unquote(parts[2]) if len(parts) > 2 and parts[1] == "connectors" else ""
    if response.status_code == 404 and name:
        return (
            f". Connector {name} does not exist in Kafka Connect (deleted meanwhile?): trigger "
            "connectors with action apply (CLI: connectors apply) to create it"
        )
    if _is_rebalance(response):
        return (
            ". Kafka Connect was still rebalancing or busy with another change"
            f"{f' of connector {name}' if name else ''} after every retry: wait a minute, then "
            "run the action again (`connectors status` shows where each connector stands)"
        )
    return ""


def _q(name: str) -> str:
    return quote(name, safe="")
