"""The type map: pgloader-like defaults, one row per MySQL type of the issue's table."""

from __future__ import annotations

import pytest

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.types.typemap import (
    KINDS,
    TYPE_MAP,
    default_pg_type,
    kind_of,
    parse_column_type,
)

CASES = [
    ("tinyint(1)", "boolean", "bool"),
    ("tinyint(4)", "smallint", "int"),
    ("tinyint(3) unsigned", "smallint", "int"),
    ("smallint(6)", "smallint", "int"),
    ("smallint(5) unsigned", "integer", "int"),
    ("mediumint(8) unsigned", "integer", "int"),
    ("int(11)", "integer", "int"),
    ("int(10) unsigned", "bigint", "int"),
    ("int unsigned", "bigint", "int"),
    ("bigint(20)", "bigint", "int"),
    ("bigint(20) unsigned", "numeric(20,0)", "uint64"),
    ("bigint unsigned zerofill", "numeric(20,0)", "uint64"),
    ("decimal(65,30)", "numeric(65,30)", "decimal"),
    ("decimal(10,0) unsigned", "numeric(10,0)", "decimal"),
    ("float", "real", "float32"),
    ("double", "double precision", "float64"),
    ("double precision", "double precision", "float64"),
    ("char(10)", "varchar(10)", "text"),
    ("varchar(191)", "varchar(191)", "text"),
    ("longtext", "text", "text"),
    ("enum('a','b')", "text", "enum"),
    ("set('x','y')", "text[]", "set"),
    ("json", "jsonb", "json"),
    ("binary(16)", "bytea", "bytes"),
    ("varbinary(255)", "bytea", "bytes"),
    ("longblob", "bytea", "bytes"),
    ("bit(1)", "boolean", "bit1"),
    ("bit(64)", "bit varying(64)", "bits"),
    ("year(4)", "smallint", "year"),
    ("year", "smallint", "year"),
    ("date", "date", "date"),
    ("datetime", "timestamp(0)", "datetime"),
    ("datetime(6)", "timestamp(6)", "datetime"),
    ("timestamp(3)", "timestamptz(3)", "timestamp"),
    ("time", "time(0)", "time"),
    ("time(6)", "time(6)", "time"),
    ("geometry", "bytea", "geometry"),
    ("point", "bytea", "geometry"),
    ("uuid", "uuid", "native_uuid"),
    ("inet6", "inet", "inet"),
]


@pytest.mark.parametrize(("mysql", "pg", "kind"), CASES)
def test_default_types(mysql: str, pg: str, kind: str) -> None:
    assert default_pg_type(mysql) == pg
    assert kind_of(mysql, pg) == kind


def test_overrides_refine_the_kind() -> None:
    assert kind_of("time(6)", "interval") == "interval"
    assert kind_of("binary(16)", "uuid") == "uuid"
    assert kind_of("json", "json") == "json"
    assert kind_of("varchar(10)", "text", converter="native_uuid") == "native_uuid"


def test_enum_members_keep_quotes_commas_and_backslashes() -> None:
    parsed = parse_column_type("enum('a,b','it''s','back\\\\slash','')")
    assert parsed.values == ("a,b", "it's", "back\\slash", "")


@pytest.mark.parametrize("bad", ["", "int(x)", "weird_type", "int(11) unsigned; drop"])
def test_unknown_or_malformed_types_fail_with_the_fix(bad: str) -> None:
    with pytest.raises(MappingError, match=r"cannot parse|not in the type map"):
        default_pg_type(bad)


def test_every_kind_converts_both_ways_and_in_arrow() -> None:
    from mysql_pg_sync.types.arrow import _ARROW
    from mysql_pg_sync.types.arrow_reverse import _REVERSE
    from mysql_pg_sync.types.convert import CONVERTERS

    assert set(CONVERTERS) == set(KINDS)
    assert set(_ARROW) == set(KINDS)
    assert set(_REVERSE) == set(KINDS)
    assert {rule.kind for rule in TYPE_MAP} | {"uuid", "interval"} == set(KINDS)
