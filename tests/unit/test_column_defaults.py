"""Column defaults: MySQL's information_schema text -> the mapping -> PostgreSQL's DEFAULT.

Table-driven: one case lists the MySQL column and default and the DEFAULT the DDL must write
(None: no DEFAULT clause), the way the MySQL value itself would reach PostgreSQL in a row.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.ddl import ZERO_DATE_NULLABLE, plan_ddl, plan_default
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.dialects.column_default import ColumnDefault
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.generate import generate
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveIndex, LiveTable
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings

NOW = "CURRENT_TIMESTAMP"


def table(*columns: dict[str, Any], **kw: Any) -> TableMapping:
    data: dict[str, Any] = {
        "source": "legacy.t",
        "target": "public.t",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, *columns],
        **kw,
    }
    return TableMapping.model_validate(data)


def default_of(column_type: str, default: Any, **column: Any) -> str | None:
    m = table({"name": "c", "column_type": column_type, "default": default, **column})
    return plan_default(m, m.column("c")).sql


# --- parsing MariaDB 10.2.7+'s COLUMN_DEFAULT ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NULL", ColumnDefault("null")),
        ("null", ColumnDefault("null")),
        ("''", ColumnDefault("string", "")),
        ("'abc'", ColumnDefault("string", "abc")),
        ("'it''s'", ColumnDefault("string", "it's")),
        ("'back\\\\slash'", ColumnDefault("string", "back\\slash")),  # MariaDB doubles a \
        ("'a\\nb\\r\\0\\tc'", ColumnDefault("string", "a\nb\r\x00\tc")),
        ("'it\\'s'", ColumnDefault("string", "it's")),
        ("'100%\\_'", ColumnDefault("string", "100%\\_")),  # \_ keeps its backslash in MySQL
        ("'NULL'", ColumnDefault("string", "NULL")),  # the string, not NULL
        ("'0000-00-00 00:00:00'", ColumnDefault("string", "0000-00-00 00:00:00")),
        ("0", ColumnDefault("number", "0")),
        ("-12", ColumnDefault("number", "-12")),
        ("+3.50", ColumnDefault("number", "3.50")),
        ("1.5e3", ColumnDefault("number", "1.5e3")),
        ("TRUE", ColumnDefault("number", "1")),
        ("b'101'", ColumnDefault("bits", "101")),
        ("0b11", ColumnDefault("bits", "11")),
        ("current_timestamp()", ColumnDefault("now")),
        ("current_timestamp(6)", ColumnDefault("now", precision=6)),
        ("CURRENT_TIMESTAMP", ColumnDefault("now")),
        ("now(3)", ColumnDefault("now", precision=3)),
        ("localtimestamp", ColumnDefault("now")),
        ("curdate()", ColumnDefault("today")),
        ("current_date", ColumnDefault("today")),
        ("uuid()", ColumnDefault("expression", "uuid()")),
        ("concat('a)','b')", ColumnDefault("expression", "concat('a)','b')")),
        ("`a` + 1", ColumnDefault("expression", "`a` + 1")),
    ],
)
def test_mariadb_defaults_parse(text: str, expected: ColumnDefault) -> None:
    assert my.parse_default(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("'abc", "quote is not closed"),
        ("'it's'", "quote is not closed"),
        ("hello", "unquoted word"),
        ("concat('a'", "'(' is not closed"),
        ("1)", "')' has no '('"),
    ],
)
def test_unparseable_defaults_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=re.escape(why)):
        my.parse_default(text)


@pytest.mark.parametrize(
    ("column_default", "extra", "column_type", "quoted", "expected"),
    [
        # MariaDB 10.2.7+: already the mapping's form; NULL the word means DEFAULT NULL
        ("'abc'", "", "varchar(5)", True, "'abc'"),
        ("NULL", "", "varchar(5)", True, None),
        ("'NULL'", "", "varchar(5)", True, "'NULL'"),
        (
            "current_timestamp()",
            "on update current_timestamp()",
            "timestamp",
            True,
            "current_timestamp()",
        ),
        (None, "", "int(11)", True, None),
        # MySQL 8 (and MariaDB before 10.2.7): literals unquoted, expressions flagged
        ("abc", "", "varchar(5)", False, "'abc'"),
        ("it's \\", "", "varchar(9)", False, "'it''s \\\\'"),
        ("", "", "varchar(5)", False, "''"),
        ("0", "", "int", False, "0"),
        ("0.00", "", "decimal(10,2)", False, "0.00"),
        ("0", "", "varchar(5)", False, "'0'"),
        ("b'1'", "", "bit(1)", False, "b'1'"),
        ("CURRENT_TIMESTAMP", "DEFAULT_GENERATED", "timestamp", False, "CURRENT_TIMESTAMP"),
        # MySQL 5.7: CURRENT_TIMESTAMP on a date and time column is the function
        (
            "CURRENT_TIMESTAMP",
            "on update CURRENT_TIMESTAMP",
            "timestamp",
            False,
            "CURRENT_TIMESTAMP",
        ),
        ("CURRENT_TIMESTAMP", "", "varchar(20)", False, "'CURRENT_TIMESTAMP'"),
        ("uuid()", "DEFAULT_GENERATED", "char(36)", False, "uuid()"),
        ("_utf8mb4\\'{}\\'", "DEFAULT_GENERATED", "json", False, "_utf8mb4'{}'"),
        (None, "", "varchar(5)", False, None),
    ],
)
def test_information_schema_defaults_in_the_mappings_form(
    column_default: str | None, extra: str, column_type: str, quoted: bool, expected: str | None
) -> None:
    got = my.default_from_information_schema(column_default, extra, column_type, quoted=quoted)
    assert got == expected
    if got is not None:
        my.parse_default(got)  # whatever the server, the mapping's form parses


def test_server_versions_and_on_update() -> None:
    assert my.quotes_defaults("10.11.6-MariaDB-0+deb12u1")
    assert my.quotes_defaults("10.2.7-MariaDB")
    assert not my.quotes_defaults("10.2.6-MariaDB")
    assert not my.quotes_defaults("8.0.36")
    assert my.on_update_of("on update current_timestamp(6)") == "current_timestamp(6)"
    assert my.on_update_of("DEFAULT_GENERATED on update CURRENT_TIMESTAMP") == "CURRENT_TIMESTAMP"
    assert my.on_update_of("auto_increment") is None


# --- what plan_ddl writes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column_type", "default", "expected"),
    [
        ("varchar(255)", "''", "''"),
        ("varchar(255)", "'it''s'", "'it''s'"),
        ("varchar(10)", "'back\\\\slash'", "'back\\slash'"),  # standard_conforming_strings
        ("char(5)", "'ab  '", "'ab'"),  # MySQL never returns CHAR's trailing spaces
        ("text", "'x'", "'x'"),
        ("varchar(5)", "5", "'5'"),
        ("tinyint(1)", "0", "false"),
        ("tinyint(1)", "'1'", "true"),
        ("tinyint(4)", "-3", "-3"),
        ("int(11)", "0", "0"),
        ("int(10) unsigned", "4294967295", "4294967295"),
        ("bigint(20) unsigned", "18446744073709551615", "18446744073709551615"),
        ("decimal(10,2)", "0.00", "0.00"),
        ("decimal(10,2)", "-12.5", "-12.5"),
        ("decimal(5,2)", "999.994", "999.99"),  # rounded to the column's scale, as MySQL stores it
        ("float", "0.1", "0.1"),
        ("double", "1.5e3", "1500.0"),
        ("year(4)", "2024", "2024"),
        ("bit(1)", "b'1'", "true"),
        ("bit(1)", "b'0'", "false"),
        ("bit(8)", "b'101'", "'00000101'"),
        ("bit(8)", "5", "'00000101'"),
        ("enum('a','b c')", "'b c'", "'b c'"),  # text + CHECK when pg_type is text
        ("set('a','b')", "''", "'{}'::text[]"),
        ("set('a','b')", "'a,b'", "ARRAY['a', 'b']::text[]"),
        ("json", "'{}'", "'{}'"),
        ("json", "NULL", None),
        ("date", "'2024-02-29'", "'2024-02-29'"),
        ("datetime", "'2020-01-02 03:04:05'", "'2020-01-02 03:04:05'"),
        ("datetime(6)", "'2020-01-02 03:04:05.500000'", "'2020-01-02 03:04:05.500000'"),
        ("timestamp", "'2020-01-02 03:04:05'", "'2020-01-02 03:04:05+00:00'"),  # read at UTC
        ("time", "'12:30:00'", "'12:30:00'"),
        ("binary(4)", "'ab'", "'\\x61620000'::bytea"),  # MySQL pads BINARY(n) with zero bytes
        ("varbinary(4)", "'ab'", "'\\x6162'::bytea"),
        ("datetime", "current_timestamp()", f"date_trunc('second', {NOW})"),
        ("datetime", "CURRENT_TIMESTAMP", f"date_trunc('second', {NOW})"),
        ("timestamp", "current_timestamp()", f"date_trunc('second', {NOW})"),
        ("datetime(6)", "current_timestamp(6)", NOW),
        ("timestamp(3)", "current_timestamp(3)", f"date_trunc('milliseconds', {NOW})"),
        ("datetime(6)", "now()", f"date_trunc('second', {NOW})"),  # NOW() has no fraction
        ("datetime(2)", "current_timestamp(2)", pg.current_timestamp_sql(2)),
        ("date", "curdate()", "CURRENT_DATE"),
        ("date", "current_timestamp()", "CURRENT_DATE"),
        ("char(36)", "uuid()", None),
        ("int(11)", "NULL", None),
    ],
)
def test_defaults_become_what_the_mysql_value_becomes(
    column_type: str, default: str, expected: str | None
) -> None:
    assert default_of(column_type, default) == expected


def test_enums_are_cast_to_their_type_and_yaml_numbers_are_accepted() -> None:
    m = table(
        {
            "name": "st",
            "column_type": "enum('new','it''s')",
            "pg_type": "t_st",
            "default": "'it''s'",
        },
        {"name": "n", "column_type": "int(11)", "default": 7},  # YAML: default: 7
        {"name": "f", "column_type": "tinyint(1)", "default": True},  # YAML: default: true
    )
    sql = "\n".join(plan_ddl(MappingSet((m,))))
    assert '"st" "public"."t_st" DEFAULT \'it\'\'s\'::"public"."t_st"' in sql
    assert '"n" integer DEFAULT 7,' in sql
    assert '"f" boolean DEFAULT true,' in sql


def test_a_boolean_mapped_to_an_integer_type_by_hand_gets_a_number() -> None:
    assert default_of("tinyint(1)", "1", pg_type="smallint", converter="int") == "1"
    assert default_of("bit(1)", "b'1'", pg_type="smallint", converter="int") == "1"


def test_zero_date_defaults() -> None:
    """Under zero_dates: null the zero date is NULL in PostgreSQL: a NOT NULL MySQL column is
    NULLable there, and no default (NULL) is exact; a NULLable one says what it loses. Under
    sentinel the default is the sentinel."""
    columns = (
        {"name": "z", "column_type": "datetime", "nullable": False, "default": "'0000-00-00'"},
        {"name": "zd", "column_type": "date", "nullable": False, "default": "'0000-00-00'"},
        {"name": "zn", "column_type": "datetime", "default": "'0000-00-00 00:00:00'"},
    )
    m = table(*columns)
    sql = "\n".join(plan_ddl(MappingSet((m,))))
    # NULLable, and the comment says why: the DDL no longer looks like it lost the NOT NULL
    assert f'"z" timestamp(0),  -- {ZERO_DATE_NULLABLE}\n' in sql
    assert f'"zd" date,  -- {ZERO_DATE_NULLABLE}\n' in sql
    assert '"zn" timestamp(0),  -- ' in sql
    assert "(a zero date) is NULL here" in plan_default(m, m.column("zn")).notices[0]
    assert plan_default(m, m.column("z")).notices == ()
    sentinel = table(*columns, values={"zero_dates": "sentinel"})
    sql = "\n".join(plan_ddl(MappingSet((sentinel,))))
    assert "\"z\" timestamp(0) DEFAULT '-infinity' NOT NULL" in sql
    assert "\"zn\" timestamp(0) DEFAULT '-infinity'," in sql


def test_what_is_not_carried_is_a_comment_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    m = table(
        {
            "name": "modified",
            "column_type": "timestamp",
            "nullable": False,
            "default": "current_timestamp()",
            "on_update": "current_timestamp()",
        },
        {"name": "token", "column_type": "char(36)", "nullable": False, "default": "uuid()"},
        {"name": "late", "column_type": "varchar(30)", "default": "current_timestamp()"},
    )
    with caplog.at_level(logging.WARNING, logger="mysql_pg_sync.ddl"):
        create = next(s for s in plan_ddl(MappingSet((m,))) if s.startswith("CREATE TABLE"))
    lines = create.splitlines()
    modified = next(line for line in lines if line.startswith('  "modified"'))
    assert modified.startswith(f"  \"modified\" timestamptz(0) DEFAULT date_trunc('second', {NOW})")
    assert "-- MySQL ON UPDATE current_timestamp() not carried" in modified
    token = next(line for line in lines if line.startswith('  "token"'))
    assert token.startswith('  "token" varchar(36) NOT NULL,  -- MySQL default uuid() not carried')
    late = next(line for line in lines if line.startswith('  "late"'))
    assert "current time is carried only into a date or timestamp column" in late
    warned = [r.getMessage() for r in caplog.records]
    assert any(w.startswith("legacy.t.modified: MySQL ON UPDATE") for w in warned)
    assert any(w.startswith("legacy.t.token: MySQL default uuid() not carried") for w in warned)


def test_a_default_with_a_newline_keeps_the_comment_on_one_line() -> None:
    m = table({"name": "c", "column_type": "varchar(9)", "default": "concat('a\nb')"})
    create = next(s for s in plan_ddl(MappingSet((m,))) if s.startswith("CREATE TABLE"))
    assert "-- MySQL default concat('a b') not carried" in create


@pytest.mark.parametrize(
    ("column", "why"),
    [
        ({"column_type": "tinyint(1)", "default": "2"}, "boolean holds only 0 and 1, not 2"),
        ({"column_type": "int(11)", "default": "1.5"}, "not a whole number"),
        ({"column_type": "int(11)", "default": "'abc'"}, "'abc' is not a number"),
        (
            {"column_type": "int(11)", "pg_type": "smallint", "default": "40000"},
            "40000 is outside what PostgreSQL smallint holds",
        ),
        (
            {"column_type": "int(10) unsigned", "default": "-1"},
            r"-1 is outside what MySQL int\(10\) unsigned holds",
        ),
        (
            {"column_type": "decimal(5,2)", "default": "1234.5"},
            r"outside what PostgreSQL numeric\(5,2\) holds",
        ),
        ({"column_type": "decimal(5,2)", "default": "999.995"}, "1000.00 is outside"),
        ({"column_type": "year(4)", "default": "1900"}, "1900 is not a MySQL YEAR"),
        (
            {"column_type": "varchar(10)", "pg_type": "varchar(3)", "default": "'abcd'"},
            r"4 characters do not fit varchar\(3\)",
        ),
        ({"column_type": "enum('a','b')", "default": "'c'"}, "'c' is not one of the enum"),
        ({"column_type": "json", "default": "'{oops'"}, "Expecting property name"),
        ({"column_type": "time", "default": "'838:59:59'"}, "outside 00:00-24:00"),
        ({"column_type": "bit(2)", "default": "b'111'"}, r"3 bits do not fit bit varying\(2\)"),
        ({"column_type": "datetime", "default": "'yesterday'"}, "Invalid isoformat"),
    ],
)
def test_a_default_postgresql_cannot_hold_is_an_error_naming_table_column_and_fix(
    column: dict[str, Any], why: str
) -> None:
    m = table({"name": "c", **column})
    with pytest.raises(MappingError, match=why) as raised:
        plan_ddl(MappingSet((m,)))
    message = str(raised.value)
    assert message.startswith(f"legacy.t: column 'c': MySQL default {column['default']} cannot")
    assert "edit the column's `default` in its mapping file" in message


def test_a_partial_zero_date_under_the_sentinel_policy_is_an_error() -> None:
    m = table(
        {"name": "c", "column_type": "date", "default": "'2020-00-15'"},
        values={"zero_dates": "sentinel"},
    )
    with pytest.raises(MappingError, match="partial zero date cannot be kept with a sentinel"):
        plan_ddl(MappingSet((m,)))


def test_every_bad_default_is_listed_at_once_before_any_sql() -> None:
    m = table(
        {"name": "a", "column_type": "tinyint(1)", "default": "2"},
        {"name": "b", "column_type": "enum('x')", "default": "'y'"},
    )
    with pytest.raises(MappingError, match="2 column defaults cannot be carried") as raised:
        plan_ddl(MappingSet((m,)))
    assert "column 'a'" in str(raised.value)
    assert "column 'b'" in str(raised.value)


def test_auto_increment_and_generated_columns_take_no_default() -> None:
    m = table(
        {"name": "n", "column_type": "bigint(20) unsigned", "auto_increment": True},
        {"name": "g", "column_type": "int(11)", "generated": True, "exclude": True},
    )
    sql = "\n".join(plan_ddl(MappingSet((m.model_copy(update={"key": ("id",)}),))))
    assert "DEFAULT nextval(" in sql
    assert sql.count("DEFAULT") == 1


# --- the mapping file ---------------------------------------------------------------------------


def test_validation_refuses_a_default_it_cannot_parse_naming_file_table_column(
    tmp_path: Path,
) -> None:
    path = tmp_path / "legacy.t.yaml"
    path.write_text(
        "source: legacy.t\ntarget: public.t\nkey: [id]\ncolumns:\n"
        "- {name: id, column_type: int(11)}\n"
        "- {name: status, column_type: varchar(9), default: new}\n"
        '- {name: note, column_type: varchar(9), default: "\'open"}\n'
    )
    with pytest.raises(MappingError) as raised:
        load_mappings(path)
    message = str(raised.value)
    assert (
        f"{path}: table legacy.t: field columns[1 'status'].default: cannot parse the default "
        "'new': new is an unquoted word; quote a string as MariaDB shows it ('new')"
    ) in message
    assert "columns[2 'note'].default: cannot parse the default \"'open\"" in message


# --- the generator: records MySQL's default, keeps a hand edit ----------------------------------


def live(default: str | None, extra: str = "") -> LiveTable:
    return LiveTable(
        "legacy",
        "t",
        columns=[
            LiveColumn("id", "int(11)", False, None, "auto_increment"),
            LiveColumn("flag", "tinyint(1)", False, default, extra),
        ],
        indexes=[LiveIndex("PRIMARY", ("id",), True, False)],
    )


def flag(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return entries["legacy.t"]["columns"][1]


def test_generate_records_the_default_and_on_update() -> None:
    entries, _ = generate([live("0")], {}, ["legacy"])
    assert flag(entries) == {
        "name": "flag",
        "column_type": "tinyint(1)",
        "pg_type": "boolean",
        "nullable": False,
        "default": "0",
    }
    assert "default" not in entries["legacy.t"]["columns"][0]  # auto_increment: none
    stamped = LiveColumn(
        "at", "timestamp", False, "current_timestamp()", "on update current_timestamp()"
    )
    entries, _ = generate([LiveTable("legacy", "s", columns=[stamped])], {}, ["legacy"])
    column = entries["legacy.s"]["columns"][0]
    assert column["default"] == "current_timestamp()"
    assert column["on_update"] == "current_timestamp()"


def test_generate_keeps_a_hand_edited_default_and_reports_mysqls_once() -> None:
    first, _ = generate([live("0")], {}, ["legacy"])
    edited = {
        "legacy.t": {
            **first["legacy.t"],
            "columns": [dict(c) for c in first["legacy.t"]["columns"]],
        }
    }
    flag(edited)["default"] = 1  # YAML: default: 1
    again, drift = generate([live("0")], edited, ["legacy"])
    assert flag(again)["default"] == 1  # kept as written
    assert flag(again)["mysql_default"] == "0"
    assert drift.changed_defaults == [
        "legacy.t.flag: MySQL 0, the mapping 1 (ddl uses the mapping's; set default to MySQL's "
        "to follow it)"
    ]
    assert drift.has_drift
    TableMapping.model_validate(again["legacy.t"])
    third, drift = generate([live("0")], again, ["legacy"])  # nothing new: no drift
    assert flag(third) == flag(again)
    assert not drift.has_drift
    fourth, drift = generate([live("1")], third, ["legacy"])  # MySQL now agrees
    assert flag(fourth)["default"] == 1
    assert "mysql_default" not in flag(fourth)
    fifth, drift = generate([live(None)], fourth, ["legacy"])  # MySQL drops it: reported
    assert flag(fifth)["default"] == 1
    assert flag(fifth)["mysql_default"] is None
    assert drift.changed_defaults[0].startswith("legacy.t.flag: MySQL none, the mapping 1")


def test_generate_fills_a_default_an_older_entry_lacks_and_keeps_an_explicit_null() -> None:
    fresh, _ = generate([live(None)], {}, ["legacy"])
    assert "default" not in flag(fresh)
    later, drift = generate([live("0")], fresh, ["legacy"])  # written before defaults were kept
    assert flag(later)["default"] == "0"
    assert not drift.has_drift
    flag(later)["default"] = None  # `default: null`: no default in PostgreSQL, by hand
    kept, drift = generate([live("0")], later, ["legacy"])
    assert flag(kept)["default"] is None
    assert flag(kept)["mysql_default"] == "0"
    assert drift.changed_defaults
    m = TableMapping.model_validate(kept["legacy.t"])
    assert plan_default(m, m.column("flag")).sql is None
