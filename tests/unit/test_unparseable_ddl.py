"""A DDL statement Debezium cannot parse stops the MySQL source on every restart, in whatever
database it ran. `connectors skip_ddl` reads it from the task's trace, skips it only when it
changes no captured table, and puts it in the connector's DDL filter."""

from __future__ import annotations

import re

import pytest

from mysql_pg_sync.cdc.binlog_statements import split_use
from mysql_pg_sync.cdc.connect_client import ConnectorStatus
from mysql_pg_sync.cdc.connector_config import DDL_FILTER, ConnectorSettings, render_mysql_source
from mysql_pg_sync.cdc.connector_lifecycle import HealthReport
from mysql_pg_sync.cdc.unparseable_ddl import (
    DEBEZIUM_DEFAULT_DDL_FILTER,
    TableRef,
    changed_tables,
    ddl_filter,
    decide,
    failed_statement,
    filter_pattern,
)
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.settings import endpoints_from_env

pytestmark = pytest.mark.unit

STATEMENT = (
    "CREATE TABLE w (id int PRIMARY KEY, e enum('a','b'), note varchar(10) DEFAULT 'it''s',\n"
    " i4 inet4, i6 inet6)"
)
# Connect's trace of a MariaDB source task, as Debezium 3.5 words it (cut)
TRACE = (
    "org.apache.kafka.connect.errors.ConnectException: An exception occurred in the change "
    "event producer. This connector will be stopped.\n\tat io.debezium.pipeline.ErrorHandler."
    "setProducerThrowable(ErrorHandler.java:67)\nCaused by: io.debezium.DebeziumException: "
    "Error processing binlog event\n\t... 8 more\nCaused by: io.debezium.text.ParsingException: "
    "DDL statement couldn't be parsed. Please open a GitHub issue at https://github.com/"
    f"debezium/dbz/issues with the statement '{STATEMENT}'\nno viable alternative at input "
    "'CREATE TABLE w (id int PRIMARY KEY, e enum('a','b'), i4 inet4'\n\tat io.debezium.antlr."
    "ParsingErrorListener.syntaxError(ParsingErrorListener.java:44)\n"
)


def test_the_statement_comes_out_of_the_trace_whole() -> None:
    assert failed_statement(TRACE) == STATEMENT


def test_another_failure_has_no_statement() -> None:
    assert failed_statement("io.debezium.DebeziumException: binlog purged") is None
    assert failed_statement("DDL statement couldn't be parsed. no statement quoted") is None


@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("CREATE TABLE w (a inet4)", ["w"]),
        (
            "create or replace temporary table if not exists `d b`.`w``x` (a inet6)",
            ["`d b`.`w``x`"],
        ),
        ("/* app */ SET STATEMENT max_statement_time=5 FOR ALTER TABLE d.t ADD c inet6", ["d.t"]),
        ("ALTER ONLINE IGNORE TABLE t ADD c inet4", ["t"]),
        ("CREATE UNIQUE INDEX i USING BTREE ON d.t (c)", ["d.t"]),
        ("DROP TABLE IF EXISTS a, `d`.b CASCADE", ["a", "d.b"]),
        ("RENAME TABLE a TO d.b, c TO e", ["a", "d.b", "c", "e"]),
        ("TRUNCATE TABLE d.t", ["d.t"]),
    ],
)
def test_the_tables_a_statement_changes(sql: str, tables: list[str]) -> None:
    found = changed_tables(sql)
    assert found is not None
    assert [str(t) for t in found] == tables


@pytest.mark.parametrize(
    "sql",
    ["CREATE VIEW v AS SELECT 1", "CREATE FUNCTION f() RETURNS INET6 RETURN NULL", "XA START 'x'"],
)
def test_a_statement_of_no_known_form_changes_unknown_tables(sql: str) -> None:
    assert changed_tables(sql) is None
    decision = decide(sql, ["legacy"], "other")
    assert not decision.safe
    assert "cannot be told" in decision.why


def test_a_statement_in_a_database_the_connector_does_not_capture_is_safe_to_skip() -> None:
    decision = decide("CREATE TABLE w (ip inet6)", ["legacy"], "other")
    assert decision.safe
    assert decision.tables == (TableRef("other", "w"),)
    assert "does not capture" in decision.why
    assert decide("ALTER TABLE other.w ADD ip inet6", ["legacy"], "legacy").safe


def test_any_table_of_a_captured_database_is_never_skipped() -> None:
    # the captured table itself, and any other there: the connector keeps (and snapshots)
    # every table of the databases it captures
    for sql in (
        "ALTER TABLE `legacy`.`Orders` ADD ip inet6",
        "CREATE TABLE legacy.audit (ip inet6)",
    ):
        decision = decide(sql, ["legacy"], "other")
        assert not decision.safe
        assert "in a database the connector captures" in decision.why
    assert not decide("ALTER TABLE orders ADD ip inet6", ["legacy"], "legacy").safe


def test_an_unqualified_name_whose_database_was_not_found_is_not_skipped() -> None:
    decision = decide("ALTER TABLE invoices ADD ip inet6", ["legacy"], None)
    assert not decision.safe
    assert "could not be found in the binlog" in decision.why


def test_a_rename_into_a_captured_database_is_not_skipped() -> None:
    assert not decide("RENAME TABLE other.tmp TO legacy.orders", ["legacy"], "other").safe


def test_a_quoted_name_with_a_dot_is_shown_quoted() -> None:
    decision = decide("CREATE TABLE `legacy.orders` (ip inet6)", ["legacy"], "other")
    assert decision.safe
    assert decision.why == (
        "it changes only other.`legacy.orders`, in a database the connector does not capture"
    )


def test_the_filter_matches_the_statement_and_holds_no_comma() -> None:
    pattern = filter_pattern(STATEMENT)
    assert "," not in pattern  # Debezium splits its filter list at commas
    # Debezium matches the whole statement, case-insensitive, dot matching line breaks
    assert re.fullmatch(pattern, STATEMENT, re.I | re.S)
    assert not re.fullmatch(pattern, STATEMENT.replace("inet6", "inet4"), re.I | re.S)
    assert not re.fullmatch(pattern, STATEMENT + " ENGINE=InnoDB", re.I | re.S)


def test_the_connector_keeps_debezium_s_default_filter_and_adds_the_skips() -> None:
    assert ddl_filter([]) is None
    rendered = ddl_filter([STATEMENT])
    assert rendered is not None
    assert rendered.startswith(DEBEZIUM_DEFAULT_DDL_FILTER + ",")
    assert rendered.endswith(filter_pattern(STATEMENT))

    mappings = MappingSet(
        (
            TableMapping(
                source="legacy.orders",
                target="public.orders",
                key=("id",),
                direction="mysql_to_pg",
                columns=(ColumnMapping(name="id", column_type="int(11)", pg_type="integer"),),
            ),
        )
    )
    settings = ConnectorSettings(prefix="mps", secrets_file="/run/secrets/connect.properties")
    endpoints = endpoints_from_env({})
    plain = render_mysql_source(mappings, endpoints, settings, "mariadb").config
    assert DDL_FILTER not in plain  # nothing skipped: Debezium's default stays implicit
    skipping = render_mysql_source(mappings, endpoints, settings, "mariadb", [STATEMENT]).config
    assert skipping[DDL_FILTER] == rendered


def test_the_health_alert_names_the_statement_and_the_action() -> None:
    status = ConnectorStatus.from_json(
        {
            "name": "mps-mysql-source",
            "connector": {"state": "RUNNING"},
            "tasks": [{"id": 0, "state": "FAILED", "trace": TRACE}],
        }
    )
    message = HealthReport(statuses=(status,), unhealed=(status,)).message()
    header = message.partition("NOT HEALED ")[2].partition("\n")[0]
    assert 'Debezium cannot parse the DDL statement "CREATE TABLE w (id int' in header
    assert "action skip_ddl" in header


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ("use `legacy`; CREATE TABLE w (ip inet6)", ("legacy", "CREATE TABLE w (ip inet6)")),
        ("use `a``b`; DROP TABLE t", ("a`b", "DROP TABLE t")),
        ("CREATE TABLE other.w (ip inet6)", (None, "CREATE TABLE other.w (ip inet6)")),
    ],
)
def test_a_query_event_s_info_gives_its_database_and_statement(
    info: str, expected: tuple[str | None, str]
) -> None:
    assert split_use(info) == expected
