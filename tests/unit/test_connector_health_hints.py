"""The health alert (connectors_health) says what to do for a failure it cannot heal, before
Connect's trace, which an alert may cut."""

from __future__ import annotations

import pytest

from mysql_pg_sync.cdc.connect_client import ConnectorStatus
from mysql_pg_sync.cdc.connector_lifecycle import HealthReport, lost_position

pytestmark = pytest.mark.unit

PURGED = (
    "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change "
    "event producer.\nCaused by: io.debezium.DebeziumException: Could not find GTID state "
    "requested by slave in any binlog files. Probably the slave state is too old and required "
    "binlog files have been purged. Error code: 1236"
)


def _failed(name: str, trace: str) -> ConnectorStatus:
    return ConnectorStatus.from_json(
        {
            "name": name,
            "connector": {"state": "RUNNING"},
            "tasks": [{"id": 0, "state": "FAILED", "trace": trace}],
        }
    )


def test_a_purged_binlog_alert_names_the_recovery_before_the_trace() -> None:
    status = _failed("mps-mysql-source", PURGED)
    message = HealthReport(statuses=(status,), unhealed=(status,)).message()
    header, _, trace = message.partition("NOT HEALED ")[2].partition("\n")
    assert header.startswith("mps-mysql-source: RUNNING (task 0 FAILED) (the binlog position")
    assert "action reset_lost_positions" in header
    assert "authoritative mysql" in header
    assert "snapshot_tables cannot carry the gap's deletes" in header
    assert "Error code: 1236" in trace


def test_a_failure_without_a_known_cause_shows_the_trace_alone() -> None:
    status = _failed("mps-postgres-source", "java.lang.IllegalStateException: boom")
    message = HealthReport(statuses=(status,), unhealed=(status,)).message()
    assert "NOT HEALED mps-postgres-source: RUNNING (task 0 FAILED)\ntask 0:\njava.lang" in message


def test_only_a_position_the_server_no_longer_has_is_reset() -> None:
    from mysql_pg_sync.cdc.connector_lifecycle import lost_position

    assert lost_position(PURGED)
    assert lost_position(
        "ERROR: requested WAL segment ... Saved offset is no longer available on the server"
    )
    assert not lost_position("org.postgresql.util.PSQLException: Database connection failed")


def test_an_unreadable_binlog_event_alert_names_the_lost_position_recovery() -> None:
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change "
        "event producer.\nCaused by: io.debezium.DebeziumException: Error while deserializing "
        "binlog data of date: Invalid date 'February 29' as '2021' is not a leap year"
    )
    status = _failed("mps-mysql-source", trace)
    message = HealthReport(statuses=(status,), unhealed=(status,)).message()
    header = message.partition("NOT HEALED ")[2].partition("\n")[0]
    assert "cannot read a row event in the binlog" in header
    assert "action reset_lost_positions" in header
    assert "ALLOW_INVALID_DATES" in header
    assert lost_position(trace)


def test_a_record_too_large_alert_names_the_limit_and_the_topic_fix() -> None:
    trace = (
        "org.apache.kafka.connect.errors.ConnectException: Unrecoverable exception from "
        "producer send callback\nCaused by: org.apache.kafka.common.errors."
        "RecordTooLargeException: The message is 70000000 bytes when serialized which is larger "
        "than 67108864, which is the value of the max.request.size configuration."
    )
    status = _failed("mps-mysql-source", trace)
    header = (
        HealthReport(statuses=(status,), unhealed=(status,)).message().partition("NOT HEALED ")[2]
    )
    assert "larger than the connector or its topic takes" in header
    assert "max.message.bytes=67108864" in header
