"""Connector lifecycle over :class:`ConnectClient`: apply, wait, pause/resume/stop, heal, delete.

``apply`` is idempotent: it compares the rendered config with Connect's and PUTs only when they
differ, then polls until the connector and every task run. Waiting is polling with a deadline;
a FAILED state right after a PUT or restart may be the previous incarnation's, so it only counts
as final once ``failed_grace_s`` has passed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from mysql_pg_sync.cdc.connect_client import (
    ConnectClient,
    ConnectorNotFound,
    ConnectorStatus,
)
from mysql_pg_sync.cdc.connector_config import RenderedConnector
from mysql_pg_sync.cdc.connector_drift import config_drift
from mysql_pg_sync.cdc.unparseable_ddl import failed_statement, in_snapshot
from mysql_pg_sync.errors import SyncError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 120.0
DEFAULT_POLL_S = 0.5
DEFAULT_FAILED_GRACE_S = 5.0
# A restarted task that fails on the same change fails again within seconds of running: health
# watches a restarted connector this long before it calls it healed.
DEFAULT_SETTLE_S = 15.0
# A connector resumed or restarted on a stored position that is gone (a purged binlog, WAL
# its slot lost) reports RUNNING, then fails a second or two later: apply and resume watch it
# this long before they call it running.
REVIVE_SETTLE_S = 5.0
# Debezium's words when a binlog change belongs to a table its schema history does not hold
UNKNOWN_TABLE_SCHEMA = "whose schema isn't known to this connector"
TargetState = Literal["RUNNING", "PAUSED", "STOPPED"]


class ConnectorFailed(SyncError):
    """A connector or task is FAILED; the message carries Connect's trace."""

    def __init__(self, message: str, status: ConnectorStatus | None = None):
        super().__init__(message)
        self.status = status


class ConnectorTimeout(SyncError):
    """A connector did not reach the wanted state in time."""


class ConnectorNotRunning(SyncError):
    """The connector is PAUSED or STOPPED on purpose; restarting cannot make it run."""


class ConnectorUpdateFailed(SyncError):
    """An update was refused (or could not start); the connector was put back as it was."""


# What an operator does about a connector that exists but captures nothing.
_NOT_CAPTURING_ACTION = {
    "PAUSED": "trigger connectors with action resume (CLI: connectors resume)",
    "STOPPED": "trigger connectors with action resume or apply (CLI: connectors resume)",
}


@dataclass(frozen=True)
class ApplyResult:
    name: str
    created: bool
    updated: bool
    status: ConnectorStatus
    topics_created: tuple[str, ...] = ()  # its change topics that `apply` created beforehand
    # captured tables the config this update replaced did not capture (see connector_drift)
    uncaptured_before: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.created or self.updated


@dataclass(frozen=True)
class HealthReport:
    """What the health check saw and did, per connector."""

    statuses: tuple[ConnectorStatus, ...]
    restarted: tuple[str, ...] = ()
    unhealed: tuple[ConnectorStatus, ...] = field(default=())
    problems: tuple[str, ...] = ()  # found outside Connect, e.g. an invalidated replication slot

    @property
    def healthy(self) -> bool:
        return not self.unhealed and not self.problems

    def message(self) -> str:
        lines = [s.summary() for s in self.statuses]
        if self.restarted:
            lines.append(f"restarted failed tasks of: {', '.join(self.restarted)}")
        # Traces last: an alert shortened to its tail keeps the short problem lines and the
        # header of the trace it shows.
        lines += [f"PROBLEM {problem}" for problem in self.problems]
        for status in self.unhealed:
            # what to do first: the alert may be cut within the trace
            trace = status.failure_trace()
            hint = _hint_for(status.name, trace)
            lines.append(f"NOT HEALED {status.summary()}{hint}\n{trace}")
        return "\n".join(lines)


def config_differs(
    desired: Mapping[str, str], current: Mapping[str, str] | None, name: str
) -> bool:
    """Connect echoes the config back with ``name`` added; anything else differing means a PUT."""
    if current is None:
        return True
    return {**desired, "name": name} != {**current, "name": name}


def apply_connector(
    client: ConnectClient,
    connector: RenderedConnector,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    before_put: Callable[[], object] | None = None,
) -> ApplyResult:
    """Create or update the connector only when its config changed, then wait until it runs.

    An update stops the connector first, so the tasks that run afterwards are certainly the new
    ones (a status read right after a bare PUT still shows the old tasks RUNNING) and they resume
    from the old tasks' committed position: a change to a newly added table made during the
    switch is read by the new tasks, not skipped by the old filter. A PAUSED or STOPPED connector
    is resumed: apply means "as declared, and running".

    ``before_put`` runs while an updated connector is stopped (e.g. waiting for its replication
    slot to be released). If stopping, ``before_put`` or the PUT fails, the connector is put back
    in the state it had (a connector left STOPPED captures nothing and alerts nobody) and
    :class:`ConnectorUpdateFailed` says why.
    """
    current = client.get_config(connector.name)
    changed = config_differs(connector.config, current, connector.name)
    drift = None
    if current is not None and changed:
        drift = config_drift(connector.name, connector.config, current, connector.tables)
        log.info(
            "connector %s: config changed (%s); stopping it to update",
            connector.name,
            drift.describe_keys() if drift else "",
        )
        before = _status_or_none(client, connector.name)
        try:
            stop(client, connector.name, timeout_s=timeout_s)
            if before_put is not None:
                before_put()
            log.info("connector %s: updating", connector.name)
            client.put_config(connector.name, connector.config)
        except Exception as exc:  # whatever failed, the connector must not stay stopped
            restored = _restore(client, connector.name, before, timeout_s)
            raise ConnectorUpdateFailed(
                f"connector {connector.name}: the config update was not applied: {exc}. "
                f"{restored} Fix the cause above, then trigger connectors with action apply"
                " (CLI: connectors apply) again"
            ) from exc
    elif changed:
        log.info("connector %s: creating", connector.name)
        client.put_config(connector.name, connector.config)
    else:
        log.info("connector %s: config unchanged, no PUT", connector.name)
    status = _status_or_none(client, connector.name)
    revived = False  # resumed or restarted on its stored position: watch that it holds
    if current is not None and changed:
        # we stopped it for the update; the status read right after the PUT may not show
        # STOPPED yet, and a connector left STOPPED never reaches RUNNING (flaky before)
        client.resume(connector.name)
    elif status is not None and status.state in ("PAUSED", "STOPPED"):
        log.info("connector %s is %s; resuming", connector.name, status.state)
        client.resume(connector.name)
        revived = True
    elif not changed and status is not None and status.is_failed:
        # apply means "as declared, and running": a task a lost session failed is restarted,
        # as connectors_health would (a failure that comes back is raised with its hint)
        log.info("connector %s has failed parts; restarting them", status.summary())
        client.restart(connector.name, include_tasks=True, only_failed=True)
        revived = True
    status = wait_for_state(
        client,
        connector.name,
        "RUNNING",
        timeout_s=timeout_s,
        poll_s=poll_s,
        failed_grace_s=DEFAULT_FAILED_GRACE_S if changed or revived else 0.0,
    )
    if revived:
        status = _running_after(client, connector.name, REVIVE_SETTLE_S, poll_s)
    return ApplyResult(
        connector.name,
        current is None,
        changed and current is not None,
        status,
        uncaptured_before=drift.uncaptured if drift else (),
    )


def wait_for_state(
    client: ConnectClient,
    name: str,
    target: TargetState,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
    failed_grace_s: float = 0.0,
) -> ConnectorStatus:
    """Poll the status until ``target`` (connector and all tasks), FAILED, or the deadline."""
    start = time.monotonic()
    status: ConnectorStatus | None = None
    while True:
        status = _status_or_none(client, name)
        elapsed = time.monotonic() - start
        if status is not None:
            if _reached(status, target):
                return status
            # stopping is the way out of a failed task, so a failed one does not end that wait
            if status.is_failed and elapsed >= failed_grace_s and target != "STOPPED":
                trace = status.failure_trace()
                raise ConnectorFailed(
                    f"connector {status.summary()}{_hint_for(name, trace)}; Connect says:\n{trace}",
                    status,
                )
        if elapsed > timeout_s:
            seen = status.summary() if status else f"{name}: no status yet"
            hint = (
                " (a RUNNING connector that lists no task has a task still starting: for "
                "PostgreSQL, usually Debezium waiting for its replication slot; run the "
                "connectors preflight action)"
                if status is not None and status.state == "RUNNING" and not status.tasks
                else ""
            )
            raise ConnectorTimeout(
                f"connector {name} did not reach {target} within {timeout_s:.0f}s; last seen "
                f"{seen}{hint}; check the Connect log (.stack/logs/connect.log locally)"
            )
        time.sleep(poll_s)


def pause(
    client: ConnectClient, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ConnectorStatus:
    client.pause(name)
    return wait_for_state(client, name, "PAUSED", timeout_s=timeout_s)


def resume(
    client: ConnectClient,
    name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    settle_s: float = REVIVE_SETTLE_S,
) -> ConnectorStatus:
    client.resume(name)
    wait_for_state(client, name, "RUNNING", timeout_s=timeout_s)
    return _running_after(client, name, settle_s)


def stop(
    client: ConnectClient, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ConnectorStatus:
    client.stop(name)
    return wait_for_state(client, name, "STOPPED", timeout_s=timeout_s)


def restart_failed(
    client: ConnectClient, name: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> ConnectorStatus:
    """Restart the connector's failed parts and wait until everything runs again."""
    status = client.status(name)
    if status.is_running:
        return status
    if status.state in _NOT_CAPTURING_ACTION:
        # Connect keeps a PAUSED/STOPPED target state across restarts: waiting would only time out.
        raise ConnectorNotRunning(
            f"connector {status.summary()}: it is {status.state.lower()}, not failed, so a restart "
            f"cannot make it run; {_NOT_CAPTURING_ACTION[status.state]}"
        )
    client.restart(name, include_tasks=True, only_failed=True)
    return wait_for_state(
        client, name, "RUNNING", timeout_s=timeout_s, failed_grace_s=DEFAULT_FAILED_GRACE_S
    )


def check_health(
    client: ConnectClient,
    names: Iterable[str],
    *,
    expected: Iterable[str] = (),
    heal: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    settle_s: float = DEFAULT_SETTLE_S,
) -> HealthReport:
    """Is every connector capturing? Restarts failed tasks once when ``heal``; a restarted
    connector counts as healed only if it still runs ``settle_s`` later.

    Only a connector whose connector and tasks all run captures anything: PAUSED, STOPPED, a
    RUNNING connector without tasks and a missing ``expected`` connector are problems too (they
    are not healed: pausing or stopping may be deliberate, and only apply may create one).
    """
    statuses, restarted, unhealed, problems = [], [], [], []
    expected = tuple(expected)
    for name in dict.fromkeys([*expected, *names]):
        status = _status_or_none(client, name)
        if status is None:
            if name in expected:
                problems.append(
                    f"{name}: MISSING: the mappings need this connector but Connect does not "
                    "have it, so nothing is captured; trigger connectors with action apply"
                    " (CLI: connectors apply)"
                )
            continue
        if status.state in _NOT_CAPTURING_ACTION:
            problems.append(_not_capturing(status))
        elif status.is_failed and heal:
            restarted.append(name)
            before = status
            try:
                status = restart_failed(client, name, timeout_s=timeout_s)
                status = _settled(client, name, settle_s)
            except ConnectorFailed as exc:
                status = exc.status or client.status(name)
            except (ConnectorTimeout, ConnectorNotRunning):
                status = client.status(name)
            if not status.is_running:
                # Mid-restart states carry no trace: report the failure that made us restart.
                unhealed.append(status if status.failure_trace() else before)
        elif status.is_failed:
            unhealed.append(status)
        elif not status.is_running:
            # Tasks may still be starting (right after a restart or rebalance): give them time.
            try:
                status = wait_for_state(client, name, "RUNNING", timeout_s=timeout_s)
            except ConnectorFailed as exc:
                status = exc.status or client.status(name)
                unhealed.append(status)
            except ConnectorTimeout:
                status = client.status(name)
                problems.append(_not_capturing(status))
        statuses.append(status)
    return HealthReport(tuple(statuses), tuple(restarted), tuple(unhealed), tuple(problems))


def _settled(
    client: ConnectClient, name: str, settle_s: float, poll_s: float = DEFAULT_POLL_S
) -> ConnectorStatus:
    """The status after ``settle_s`` of running, or the first failed one before that."""
    deadline = time.monotonic() + settle_s
    while True:
        status = client.status(name)
        if status.is_failed or time.monotonic() >= deadline:
            return status
        time.sleep(min(poll_s, max(0.0, deadline - time.monotonic())))


def _running_after(
    client: ConnectClient, name: str, settle_s: float, poll_s: float = DEFAULT_POLL_S
) -> ConnectorStatus:
    """The status once it has run ``settle_s``; raises :class:`ConnectorFailed`, with what to
    do, if it fails before that."""
    status = _settled(client, name, settle_s, poll_s)
    if status.is_failed:
        trace = status.failure_trace()
        raise ConnectorFailed(
            f"connector {status.summary()}{_hint_for(name, trace)}; Connect says:\n{trace}",
            status,
        )
    return status


def _not_capturing(status: ConnectorStatus) -> str:
    if status.state in _NOT_CAPTURING_ACTION:
        return (
            f"{status.summary()}: {status.state}: nothing is captured; "
            f"{_NOT_CAPTURING_ACTION[status.state]}"
        )
    return (
        f"{status.summary()}: {status.state} but its tasks do not run, so nothing is captured; "
        "trigger connectors with action restart_failed"
        " (CLI: connectors restart_failed), and if that does not help run the "
        "preflight (for PostgreSQL usually the replication slot) and check the Connect log"
    )


def _restore(
    client: ConnectClient, name: str, before: ConnectorStatus | None, timeout_s: float
) -> str:
    """Put the connector back in its state from before a failed update; says what happened."""
    target: TargetState = "RUNNING"
    if before is not None and before.state in ("PAUSED", "STOPPED"):
        target = before.state  # type: ignore[assignment]  # narrowed by the check above
    try:
        if target == "RUNNING":
            client.resume(name)
        elif target == "PAUSED":
            client.pause(name)
        status = wait_for_state(client, name, target, timeout_s=timeout_s)
    except Exception as exc:  # report both failures; the original one is raised by the caller
        log.exception("connector %s: could not put it back to %s", name, target)
        return (
            f"Putting it back to {target} with its previous config failed too ({exc}): it may be "
            "STOPPED and capture nothing; trigger connectors with action resume"
            " (CLI: connectors resume)."
        )
    return f"It runs on with its previous config ({status.summary()})."


def delete(
    client: ConnectClient,
    name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
) -> bool:
    """Delete the connector and wait until Connect no longer lists it; True if it existed."""
    existed = client.delete(name)
    _poll(lambda: name not in client.connectors(), timeout_s, poll_s, f"deleting {name}")
    return existed


def wait_for_source_position(
    client: ConnectClient,
    name: str,
    key: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = DEFAULT_POLL_S,
) -> list[dict[str, Any]]:
    """Poll until Connect holds a committed offset carrying ``key`` (``file`` for the binlog,
    ``lsn`` for PostgreSQL): the connector is past its schema snapshot and streaming.

    Restarting a MariaDB connector before that can leave an offset without ``file``, which
    fails the task with "Source offset 'file' parameter is missing".
    """
    found: list[dict[str, Any]] = []

    def committed() -> bool:
        found[:] = client.offsets(name)
        return any(key in (o.get("offset") or {}) for o in found)

    _poll(committed, timeout_s, poll_s, f"waiting for {name} to commit a '{key}' offset")
    return found


def _hint_for(name: str, trace: str) -> str:
    if "RecordTooLargeException" in trace:
        return (
            " (a row's change message is larger than the connector or its topic takes: the "
            "rendered configs carry up to 64 MiB (max.request.size, and max.message.bytes on the "
            "change topics, which `connectors apply` raises on topics made before, unless Kafka "
            "refused it: its warning says why; or raise it with kafka-configs.sh --alter "
            "--add-config max.message.bytes=67108864). "
            "A larger value is more than the sync carries: keep such values out of the mapped "
            "columns, or leave the column out of the mapping)"
        )
    if UNREADABLE_EVENT in trace:
        return (
            " (Debezium cannot read a row event in the binlog, in whatever table it is, e.g. a "
            "date MySQL stored under sql_mode ALLOW_INVALID_DATES such as 2021-02-30, and fails "
            "on it at every restart: trigger connectors with action reset_lost_positions (CLI: "
            "connectors reset_lost_positions), which forgets the position, captures from now "
            "and records the gap for every captured table; then reconcile them with repair, "
            "dry_run off, authoritative mysql. If the table is captured, stop the app writing "
            "such values first, or the next one fails the connector again)"
        )
    if _is_purged_binlog(trace):
        return (
            " (the binlog position in its offsets was purged from the MySQL server, so it cannot "
            "resume there: trigger connectors with action reset_lost_positions (CLI: "
            "connectors reset_lost_positions), which forgets the position, applies again (the "
            "connector re-reads the schema and captures from the current binlog position) and "
            "records the gap; then recover the gap's changes with the reconcile DAG: repair on, "
            "dry_run off, authoritative mysql (MySQL holds every change of the gap; "
            "snapshot_tables cannot carry the gap's deletes and, on a table synced both ways, "
            "streams PostgreSQL's stale rows back); keep binlogs longer than an outage, "
            "binlog_expire_logs_seconds)"
        )
    statement = failed_statement(trace)
    if statement is not None and in_snapshot(trace):
        return (
            f" (Debezium cannot parse {_clip(statement)!r} in its schema snapshot, which reads "
            "every table of the captured databases: change that table's column to a type "
            "Debezium reads, or move the table out of the captured databases, then trigger "
            "connectors with action apply)"
        )
    if statement is not None:
        return (
            f" (Debezium cannot parse the DDL statement {_clip(statement)!r}, and fails on it "
            "at every restart, whatever database it ran in: trigger connectors with action "
            "skip_ddl (CLI: connectors skip_ddl), which skips it when it changes no table of "
            "a captured database and refuses otherwise, saying why)"
        )
    if UNKNOWN_TABLE_SCHEMA in trace:
        return (
            " (its schema history lacks a captured table, e.g. one in a database added to the "
            "include list before `apply` re-read new databases: trigger connectors with action "
            "apply, which re-reads the schema of the included databases and resumes where the "
            "task failed)"
        )
    if "no longer available on the server" in trace:
        return (
            " (its stored offset points at WAL its replication slot no longer has, e.g. after "
            "the slot was dropped or invalidated: trigger connectors with action "
            "reset_lost_positions (CLI: connectors reset_lost_positions), which forgets the "
            "position, drops an invalidated slot, applies again and records the gap; then run "
            "the reconcile DAG with repair on, dry_run off and authoritative postgres to copy "
            "the gap's PostgreSQL changes to MySQL: PostgreSQL holds them all, and the "
            "mappings' default side, MySQL, would overwrite them)"
        )
    return ""


# Debezium's words for a binlog row event its deserializer refuses (an invalid date, ...): the
# binlog client reads every table's rows, captured or not, so no restart gets past it
UNREADABLE_EVENT = "Error while deserializing binlog data"


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lost_position(trace: str) -> bool:
    """The failure says the connector cannot resume from its stored position: it is gone from
    the server (a purged binlog, WAL the replication slot no longer has), or the binlog holds
    an event there Debezium cannot read. Only resetting the position (and a reconcile of the
    gap) recovers it; restarts fail the same way."""
    return (
        _is_purged_binlog(trace)
        or "no longer available on the server" in trace
        or UNREADABLE_EVENT in trace
    )


def _is_purged_binlog(trace: str) -> bool:
    # Debezium's MySQL/MariaDB wording, and the server's own error 1236 as the binlog reader
    # passes it on; PostgreSQL's lost-WAL message shares "no longer available on the server".
    lowered = trace.lower()
    return "binlog" in lowered and (
        "no longer available on the server" in lowered
        or "could not find first log file name in binary log index file" in lowered
        or "purged" in lowered
    )


def _reached(status: ConnectorStatus, target: TargetState) -> bool:
    if target == "RUNNING":
        return status.is_running
    if target == "STOPPED":
        # running tasks linger a moment; a failed one stays listed until the connector runs again
        return status.state == "STOPPED" and all(t.state == "FAILED" for t in status.tasks)
    return status.state == "PAUSED" and all(t.state == "PAUSED" for t in status.tasks)


def _status_or_none(client: ConnectClient, name: str) -> ConnectorStatus | None:
    try:
        return client.status(name)
    except ConnectorNotFound:
        return None


def _poll(done: Callable[[], bool], timeout_s: float, poll_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise ConnectorTimeout(f"timed out after {timeout_s:.0f}s {what}")
        time.sleep(poll_s)
