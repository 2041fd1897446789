"""Review of `connectors skip_ddl` (cdc/unparseable_ddl.py): statements it calls safe to skip
that are not, and a failure it sends the operator to skip that the DDL filter cannot skip.

Found against the stack (Debezium 3.5 MariaDB connector, the connector config the mappings
render: store.only.captured.tables.ddl=false, store.only.captured.databases.ddl=true), with the
statement Debezium must not see run under sql_log_bin=0 (what the DDL filter does to it, and
no other connector on the server is broken by it):

- a pt-online-schema-change / gh-ost swap: ``ALTER TABLE db._orders_new MODIFY note inet6``
  (decide(): safe, the shadow table is not captured), then ``RENAME TABLE orders TO
  _orders_old, _orders_new TO orders``: the connector stays RUNNING and sends a row of
  db.orders with ``note`` = the INET6 column's 16 raw bytes as text (its schema still says
  varchar). ``ADD ip inet6 AFTER id`` instead fails it: "Error processing row in orders,
  internal schema size 2, but row size 3".
- a table with an INET6 column in a captured database (here not captured itself) fails every
  schema snapshot of the connector (its first start, snapshot.mode=recovery, a reset of its
  positions): Debezium parses SHOW CREATE TABLE of every table in the captured databases,
  before it looks at the DDL filter. The health alert says to run skip_ddl; skip_ddl records
  the statement as safe and applies, and the task fails again on the same statement.
"""

from __future__ import annotations

import re

import pytest

from mysql_pg_sync.cdc.connect_client import ConnectorStatus
from mysql_pg_sync.cdc.connector_lifecycle import HealthReport
from mysql_pg_sync.cdc.unparseable_ddl import decide, filter_pattern

pytestmark = pytest.mark.unit

CAPTURED = ["legacy"]  # the captured databases


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE legacy.orders_new ADD ip INET6, RENAME TO legacy.orders",
        "ALTER TABLE other.t ADD ip inet6, RENAME AS legacy.orders",
        "alter table other.t add ip inet6, rename legacy.orders",
    ],
)
def test_an_alter_that_renames_a_table_into_a_captured_name_is_not_skipped(sql: str) -> None:
    # ALTER TABLE ... RENAME [TO|AS] makes the altered table the captured one; skipped, Debezium
    # has no schema (or a stale one) for the captured table
    decision = decide(sql, CAPTURED, "other")
    assert not decision.safe, decision.why


@pytest.mark.parametrize(
    "sql",
    [
        # pt-online-schema-change's shadow table, and gh-ost's: each is renamed over the
        # captured table once its rows are copied, with the schema Debezium kept for it
        "ALTER TABLE legacy._orders_new MODIFY note inet6",
        "ALTER TABLE legacy._orders_gho ADD ip inet6 AFTER id",
    ],
)
def test_a_shadow_table_of_an_online_schema_change_is_not_skipped(sql: str) -> None:
    decision = decide(sql, CAPTURED, "other")
    assert not decision.safe, decision.why


def test_a_table_in_a_captured_database_is_not_skipped() -> None:
    # The connector keeps (and, at every schema snapshot, reads) the DDL of every table in the
    # databases it captures: a table left there with a type Debezium cannot parse fails the
    # next snapshot (recovery on apply, reset_lost_positions), where no DDL filter applies
    decision = decide("CREATE TABLE legacy.audit (id int PRIMARY KEY, ip inet6)", CAPTURED, "other")
    assert not decision.safe, decision.why


# The trace of the connector's schema snapshot failing on such a table (Debezium 3.5, cut)
SNAPSHOT_TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change "
    "event producer. This connector will be stopped.\n"
    "\tat io.debezium.pipeline.ErrorHandler.setProducerThrowable(ErrorHandler.java:67)\n"
    "Caused by: io.debezium.DebeziumException: io.debezium.text.ParsingException: DDL "
    "statement couldn't be parsed. Please open a GitHub issue at https://github.com/debezium/"
    "dbz/issues with the statement 'CREATE TABLE `audit` (\n  `id` int(11) NOT NULL,\n  `ip` "
    "inet6 DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 "
    "COLLATE=utf8mb4_unicode_ci'\nno viable alternative at input 'CREATE TABLE `audit` (\\n  "
    "`id` int(11) NOT NULL,\\n  `ip` inet6'\n"
    "\tat io.debezium.pipeline.source.AbstractSnapshotChangeEventSource.execute("
    "AbstractSnapshotChangeEventSource.java:111)\n"
    "\tat io.debezium.pipeline.ChangeEventSourceCoordinator.doSnapshot("
    "ChangeEventSourceCoordinator.java:311)\n"
    "Caused by: io.debezium.text.ParsingException: DDL statement couldn't be parsed.\n"
    "\tat io.debezium.connector.binlog.BinlogDatabaseSchema.parseDdl(BinlogDatabaseSchema.java"
    ":314)\n"
    "\tat io.debezium.connector.binlog.BinlogDatabaseSchema.parseSnapshotDdl("
    "BinlogDatabaseSchema.java:246)\n"
    "\tat io.debezium.connector.binlog.BinlogSnapshotChangeEventSource.addSchemaEvent("
    "BinlogSnapshotChangeEventSource.java:281)\n"
)


def test_the_health_alert_does_not_send_a_snapshot_parse_failure_to_skip_ddl() -> None:
    # the DDL filter is tested on binlog statements only: a snapshot parses first, so a skip
    # changes nothing there, and the alert must say what does (change or move the table)
    status = ConnectorStatus.from_json(
        {
            "name": "mps-mysql-source",
            "connector": {"state": "RUNNING"},
            "tasks": [{"id": 0, "state": "FAILED", "trace": SNAPSHOT_TRACE}],
        }
    )
    message = HealthReport(statuses=(status,), unhealed=(status,)).message()
    header = message.partition("NOT HEALED ")[2].partition("\n")[0]
    assert "skip_ddl" not in header, header


# Java's \s (java.util.regex without UNICODE_CHARACTER_CLASS), which Debezium's filter uses
JAVA_SPACE = r"[ \t\n\x0B\f\r]"


def _java_fullmatch(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern.replace(r"\s", JAVA_SPACE), text, re.I | re.S) is not None


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\x1c"])
def test_the_filter_matches_a_statement_with_a_unicode_space_as_java_reads_it(space: str) -> None:
    # Python's \s takes a no-break space for whitespace and the pattern gets \s+ there; Java's
    # \s does not match it, so the connector fails again on the statement it was told to skip
    statement = f"CREATE TABLE other.w (ip inet6 COMMENT 'client{space}address')"
    assert _java_fullmatch(filter_pattern(statement), statement)
