"""Health, apply rollback and snapshot judging against a fake Connect client (no servers)."""

from __future__ import annotations

import io
import json
import logging
import struct
from typing import Any

import fastavro
import pytest

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc import connector_lifecycle as lifecycle
from mysql_pg_sync.cdc.connect_client import (
    ConnectApiError,
    ConnectorNotFound,
    ConnectorStatus,
    TaskStatus,
)
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, RenderedConnector
from mysql_pg_sync.cdc.connector_signals import (
    SnapshotResult,
    parse_notification,
    snapshot_outcome,
    snapshot_signal_id,
)
from mysql_pg_sync.cdc.preflight.mysql import MysqlFacts, check_grants, parse_grants
from mysql_pg_sync.errors import SyncError


class FakeConnect:
    """State changes take effect at once; ``put_error`` makes the next PUT fail like a 400."""

    def __init__(self, **states: str) -> None:
        self.states = dict(states)
        self.configs: dict[str, dict[str, str]] = {n: {"k": "old"} for n in states}
        self.no_tasks: set[str] = set()
        self.put_error: Exception | None = None
        self.calls: list[tuple[str, str]] = []

    def connectors(self) -> list[str]:
        return sorted(self.states)

    def get_config(self, name: str) -> dict[str, str] | None:
        return self.configs.get(name)

    def put_config(self, name: str, config: dict[str, str]) -> dict[str, Any]:
        self.calls.append(("put", name))
        if self.put_error:
            raise self.put_error
        self.configs[name] = dict(config)
        self.states.setdefault(name, "RUNNING")
        return {}

    def status(self, name: str) -> ConnectorStatus:
        if name not in self.states:
            raise ConnectorNotFound(f"no {name}", status=404)
        state = self.states[name]
        tasks = () if state == "STOPPED" or name in self.no_tasks else (TaskStatus(0, state),)
        return ConnectorStatus(name, state, tasks=tasks)

    def _set(self, verb: str, name: str, state: str) -> None:
        self.calls.append((verb, name))
        self.states[name] = state

    def stop(self, name: str) -> None:
        self._set("stop", name, "STOPPED")

    def pause(self, name: str) -> None:
        self._set("pause", name, "PAUSED")

    def resume(self, name: str) -> None:
        self._set("resume", name, "RUNNING")

    def restart(self, name: str, **_: Any) -> None:
        self.calls.append(("restart", name))


def report(client: FakeConnect, expected: tuple[str, ...] = ()) -> lifecycle.HealthReport:
    names = [n for n in ("a", "b") if n in client.states]
    return lifecycle.check_health(client, names, expected=expected, timeout_s=0.3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("state", "action"),
    [("PAUSED", "action resume"), ("STOPPED", "action resume")],
)
def test_paused_or_stopped_connector_is_unhealthy_and_names_the_action(
    state: str, action: str
) -> None:
    health = report(FakeConnect(a=state))
    assert not health.healthy
    [problem] = health.problems
    assert problem.startswith("a: ")
    assert f"{state}: nothing is captured" in problem
    assert action in problem


def test_missing_expected_connector_is_unhealthy() -> None:
    health = report(FakeConnect(a="RUNNING"), expected=("a", "b"))
    assert not health.healthy
    assert health.problems == (
        "b: MISSING: the mappings need this connector but Connect does not have it, so nothing "
        "is captured; trigger connectors with action apply (CLI: connectors apply)",
    )
    assert report(FakeConnect(a="RUNNING"), expected=("a",)).healthy


def test_running_without_tasks_is_unhealthy() -> None:
    client = FakeConnect(a="RUNNING")
    client.no_tasks.add("a")
    health = report(client)
    assert not health.healthy
    assert "a: RUNNING (no tasks)" in health.problems[0]
    assert "nothing is captured" in health.problems[0]


def test_restart_failed_on_a_paused_connector_says_resume_at_once() -> None:
    with pytest.raises(lifecycle.ConnectorNotRunning, match=r"it is paused.*action resume"):
        lifecycle.restart_failed(FakeConnect(a="PAUSED"), "a", timeout_s=60)  # type: ignore[arg-type]


class FailsAgain(FakeConnect):
    """A task that runs after its restart, then fails again on the same change."""

    def __init__(self, runs_for: int, **states: str) -> None:
        super().__init__(**states)
        self.runs_for = runs_for  # status calls that see it running

    def restart(self, name: str, **_: Any) -> None:
        super().restart(name)
        self.states[name] = "RUNNING"

    def status(self, name: str) -> ConnectorStatus:
        if self.states.get(name) == "RUNNING" and ("restart", name) in self.calls:
            self.runs_for -= 1
            if self.runs_for < 0:
                self.states[name] = "FAILED"
        return super().status(name)


def test_a_restarted_task_that_fails_again_is_not_called_healed() -> None:
    client = FailsAgain(runs_for=3, a="FAILED")
    health = lifecycle.check_health(client, ["a"], timeout_s=5, settle_s=5)  # type: ignore[arg-type]
    assert health.restarted == ("a",)
    assert [s.name for s in health.unhealed] == ["a"]
    assert not health.healthy


def test_a_restarted_task_that_keeps_running_is_healed() -> None:
    client = FailsAgain(runs_for=10**6, a="FAILED")
    health = lifecycle.check_health(client, ["a"], timeout_s=5, settle_s=0.2)  # type: ignore[arg-type]
    assert health.restarted == ("a",)
    assert health.unhealed == ()
    assert health.healthy


RENDERED = RenderedConnector("a", "mysql", {"k": "new"}, ("db.t",), "p", "db.sig")


def test_apply_rejected_by_connect_resumes_the_connector_and_raises_the_reason() -> None:
    client = FakeConnect(a="RUNNING")
    client.put_error = ConnectApiError("HTTP 400: Connector configuration is invalid", status=400)
    with pytest.raises(lifecycle.ConnectorUpdateFailed, match="configuration is invalid") as exc:
        lifecycle.apply_connector(client, RENDERED, timeout_s=1, poll_s=0.01)  # type: ignore[arg-type]
    assert client.states["a"] == "RUNNING"
    assert client.configs["a"] == {"k": "old"}
    assert client.calls == [("stop", "a"), ("put", "a"), ("resume", "a")]
    assert "runs on with its previous config" in str(exc.value)


def test_apply_whose_wait_fails_puts_a_paused_connector_back_to_paused() -> None:
    client = FakeConnect(a="PAUSED")

    def slot_still_busy() -> None:
        raise SyncError("replication slot s is still used by backend 42")

    with pytest.raises(lifecycle.ConnectorUpdateFailed, match="still used by backend 42"):
        lifecycle.apply_connector(
            client,  # type: ignore[arg-type]
            RENDERED,
            timeout_s=1,
            poll_s=0.01,
            before_put=slot_still_busy,
        )
    assert client.states["a"] == "PAUSED"
    assert ("put", "a") not in client.calls


def test_apply_that_succeeds_still_puts_and_resumes() -> None:
    client = FakeConnect(a="RUNNING")
    result = lifecycle.apply_connector(client, RENDERED, timeout_s=1, poll_s=0.01)  # type: ignore[arg-type]
    assert result.updated
    assert result.status.is_running


UNCHANGED = RenderedConnector("a", "mysql", {"k": "old"}, ("db.t",), "p", "db.sig")


def test_apply_restarts_a_task_a_lost_session_failed() -> None:
    """apply means running: a config that did not change no longer leaves a FAILED task."""
    client = FailsAgain(runs_for=10**6, a="FAILED")
    result = lifecycle.apply_connector(client, UNCHANGED, timeout_s=2, poll_s=0.01)  # type: ignore[arg-type]
    assert ("restart", "a") in client.calls
    assert ("put", "a") not in client.calls
    assert result.status.is_running


def test_apply_and_resume_watch_a_revived_connector_before_calling_it_running(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A connector on a purged binlog position reads RUNNING, then fails a second later: apply
    and resume used to report it running."""
    monkeypatch.setattr(lifecycle, "REVIVE_SETTLE_S", 2.0)
    client = FailsAgain(runs_for=3, a="FAILED")
    with pytest.raises(lifecycle.ConnectorFailed, match=r"connector a: FAILED"):
        lifecycle.apply_connector(client, UNCHANGED, timeout_s=2, poll_s=0.01)  # type: ignore[arg-type]

    class FailsAfterResume(FakeConnect):
        seen = 0

        def status(self, name: str) -> ConnectorStatus:
            if self.states.get(name) == "RUNNING" and ("resume", name) in self.calls:
                self.seen += 1
                if self.seen > 2:
                    self.states[name] = "FAILED"
            return super().status(name)

    paused = FailsAfterResume(a="STOPPED")
    with pytest.raises(lifecycle.ConnectorFailed):
        lifecycle.resume(paused, "a", timeout_s=2, settle_s=1.0)  # type: ignore[arg-type]
    steady = FakeConnect(a="PAUSED")
    assert lifecycle.resume(steady, "a", timeout_s=2, settle_s=0.2).is_running  # type: ignore[arg-type]


def test_purged_binlog_gets_the_mysql_hint_not_the_wal_one() -> None:
    trace = (
        "io.debezium.DebeziumException: The connector is trying to read binlog starting at "
        "SourceInfo [currentGtid=null, currentBinlogFilename=mysql-bin.000003, "
        "currentBinlogPosition=157], but this is no longer available on the server. "
        "Reconfigure the connector to use a snapshot when needed."
    )
    hint = lifecycle._hint_for("mps-mysql-source", trace)
    assert "binlog" in hint
    assert "purged" in hint
    assert "reset_lost_positions" in hint
    assert "snapshot_tables" in hint
    assert "WAL" not in hint
    assert "replication slot" not in hint
    pg = lifecycle._hint_for("p", "Saved offset is no longer available on the server")
    assert "replication slot" in pg


def test_delete_without_dropping_the_slot_warns_with_the_command(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = ConnectorSettings(prefix="mps")
    client = FakeConnect(**{settings.postgres_connector: "RUNNING"})
    client.delete = lambda name: client.states.pop(name, None) is not None  # type: ignore[attr-defined]
    client.reset_offsets = lambda name: None  # type: ignore[attr-defined]
    endpoints = type("E", (), {"postgres": type("P", (), {"redacted": lambda self: "pg"})()})()
    ctx = actions.ConnectorContext(endpoints, None, settings, connect=client)  # type: ignore[arg-type]
    monkeypatch.setattr(actions, "slot_exists", lambda endpoint, slot: True)
    with caplog.at_level(logging.WARNING):
        assert actions.delete(ctx) == [settings.postgres_connector]
    assert "drop_replication_slot=true" in caplog.text
    assert "connectors delete --drop-slot), which drops it and the publication" in caplog.text


def test_delete_says_whether_a_slot_was_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """`slot_dropped` said true whenever --drop-slot was given, with or without a slot."""
    settings = ConnectorSettings(prefix="mps")
    client = FakeConnect()
    client.delete = lambda name: False  # type: ignore[attr-defined]  # nothing deployed
    endpoints = type("E", (), {"postgres": None})()
    ctx = actions.ConnectorContext(endpoints, None, settings, connect=client)  # type: ignore[arg-type]
    monkeypatch.setattr(actions, "drop_publication", lambda endpoint, publication: None)
    for there in (False, True):
        monkeypatch.setattr(actions, "drop_replication_slot", lambda e, s, t, there=there: there)
        result = actions.run_action(ctx, "delete", drop_slot=True)
        assert result == {"deleted": [], "slot_dropped": there}


def note(kind: str, **extra: str) -> dict[str, Any]:
    return {
        "id": "s",
        "aggregate_type": "Incremental Snapshot",
        "type": kind,
        "additional_data": extra,
    }


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        ("UNKNOWN_SCHEMA", "action apply"),
        ("NO_PRIMARY_KEY", "primary key"),
        ("SQL_EXCEPTION", "Connect log"),
        ("SKIPPED", "skipped"),
    ],
)
def test_a_scan_that_did_not_succeed_is_a_problem_naming_table_status_and_fix(
    status: str, fix: str
) -> None:
    result = snapshot_outcome(
        [
            note("STARTED", data_collections="db.t,db.u"),
            note(
                "TABLE_SCAN_COMPLETED",
                scanned_collection="db.t",
                status=status,
                total_rows_scanned="0",
            ),
            note(
                "TABLE_SCAN_COMPLETED",
                scanned_collection="db.u",
                status="SUCCEEDED",
                total_rows_scanned="3",
            ),
            note("COMPLETED"),
        ],
        "s",
    )
    assert result is not None
    assert result.outcome == "COMPLETED"
    [problem] = result.problems()
    assert problem.startswith(f"table db.t: scan {status}")
    assert fix in problem


def test_an_empty_table_is_a_scan_that_copied_everything() -> None:
    """EMPTY: the table has no rows (a new, empty PostgreSQL side), nothing left uncopied."""
    done = SnapshotResult("s", ("db.t",), "COMPLETED", {"db.t": 0}, {"db.t": "EMPTY"})
    assert done.problems() == []


def test_an_aborted_snapshot_is_a_problem() -> None:
    assert "ABORTED" in SnapshotResult("s", ("db.t",), "ABORTED", {}).problems()[0]
    assert (
        SnapshotResult("s", ("db.t",), "COMPLETED", {"db.t": 1}, {"db.t": "SUCCEEDED"}).problems()
        == []
    )


NOTIFICATION_SCHEMA = {
    "type": "record",
    "name": "Notification",
    "namespace": "io.debezium.connector.mysql",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "aggregate_type", "type": "string"},
        {"name": "type", "type": "string"},
        {"name": "additional_data", "type": {"type": "map", "values": "string"}},
        {"name": "timestamp", "type": "long"},
    ],
}


def test_avro_notifications_are_decoded_through_the_registry() -> None:
    record = {**note("COMPLETED"), "timestamp": 1}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(NOTIFICATION_SCHEMA), record)
    framed = b"\x00" + struct.pack(">I", 7) + buf.getvalue()
    fetched: list[int] = []

    def fetch(schema_id: int) -> str:
        fetched.append(schema_id)
        return json.dumps(NOTIFICATION_SCHEMA)

    assert parse_notification(framed, fetch) == record
    assert fetched == [7]
    with pytest.raises(SyncError, match="MPS_SCHEMA_REGISTRY_URL"):
        parse_notification(framed)
    with pytest.raises(SyncError, match="MPS_CONNECT_CONVERTER"):
        parse_notification(b"\xff\xfe not json")


def test_a_retry_of_one_run_reuses_the_signal_id() -> None:
    first = snapshot_signal_id("manual__2024-01-01", "mysql", ["db.t"])
    assert first == snapshot_signal_id("manual__2024-01-01", "mysql", ["db.t"])
    assert first != snapshot_signal_id("manual__2024-01-02", "mysql", ["db.t"])
    assert len(first) <= 64  # the signal table's id column


# Real SHOW GRANTS lines (MariaDB 10.11 / MySQL 8) for the grants the README recommends.
TABLE_LEVEL = (
    "GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO `sync`@`%`",
    "GRANT SELECT ON `legacy`.`orders` TO `sync`@`%`",
    "GRANT SELECT, INSERT ON `legacy`.`mps_debezium_signal` TO `sync`@`%`",
)


def test_table_level_grants_satisfy_capture_and_signal_checks() -> None:
    facts = MysqlFacts("10.11.6-MariaDB", {}, TABLE_LEVEL, "sync@%")
    found = check_grants(
        facts,
        ["legacy"],
        "legacy",
        ["legacy.orders", "legacy.mps_debezium_signal"],
        "legacy.mps_debezium_signal",
    )
    assert found == []
    # a captured table without its grant is still reported
    missing = check_grants(facts, ["legacy"], "legacy", ["legacy.orders", "legacy.other"])
    assert [f.message for f in missing] == [
        "sync@% cannot SELECT in database legacy",
        "sync@% cannot INSERT into the signal table in legacy (incremental snapshots write "
        "their watermarks there)",
    ]


def test_grant_parser_handles_mysql_quoting() -> None:
    granted = parse_grants(
        [
            "GRANT SELECT ON `we``ird`.`ta.ble` TO `u`@`%`",
            "GRANT INSERT ON TABLE `db`.`t` TO 'u'@'%'",
            "GRANT EXECUTE ON PROCEDURE `db`.`p` TO `u`@`%`",
        ]
    )
    assert granted == {"`we``ird`.`ta.ble`": {"SELECT"}, "`db`.`t`": {"INSERT"}}
    facts = MysqlFacts("8.0.36", {}, ("GRANT SELECT ON `we``ird`.`ta.ble` TO `u`@`%`",), "u")
    assert not [
        f for f in check_grants(facts, ["we`ird"], "x", ["we`ird.ta.ble"]) if "SELECT" in f.message
    ]


def test_the_connectors_dag_offers_every_action_the_library_has() -> None:
    """The DAG lists its actions itself (a DAG file imports no library code at parse time)."""
    import ast
    from pathlib import Path

    dag = Path(__file__).resolve().parents[2] / "dags" / "connectors.py"
    listed = next(
        ast.literal_eval(node.value)
        for node in ast.walk(ast.parse(dag.read_text()))
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "ACTIONS" for t in node.targets)
    )
    assert listed == ["status", *actions.ACTIONS]
