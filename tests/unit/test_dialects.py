"""Dialect basics: identifiers are always quoted, whatever they are called."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from mysql_pg_sync.dialects import for_side, mysql, postgres

NAMES = ["order", "user", "group", "MixedCase", "with space", 'q"uote', "back`tick", "ünï"]


@pytest.mark.parametrize("name", NAMES)
def test_quote_ident(name: str) -> None:
    assert mysql.quote_ident(name) == "`" + name.replace("`", "``") + "`"
    assert postgres.quote_ident(name) == '"' + name.replace('"', '""') + '"'


def test_qualified_and_literals() -> None:
    assert mysql.qualified("legacy", "order") == "`legacy`.`order`"
    assert postgres.qualified("public", "Order") == '"public"."Order"'
    assert postgres.quote_literal("it's \\ ok") == "'it''s \\ ok'"
    assert mysql.quote_literal("it's \\ ok") == "'it''s \\\\ ok'"


def test_nul_in_identifier_rejected_and_side_lookup() -> None:
    with pytest.raises(ValueError, match="NUL"):
        postgres.quote_ident("a\x00b")
    assert for_side("mysql") is mysql
    assert for_side("postgres") is postgres
    with pytest.raises(ValueError, match="unknown side"):
        for_side("oracle")


def test_postgres_divides_integer_ordinals_as_bigint_and_others_as_numeric() -> None:
    from mysql_pg_sync.dialects import postgres

    assert "::bigint /" in postgres.floor_div_sql("k - %s", "%s", bigint=True)
    assert "div(" in postgres.floor_div_sql("k - %s", "%s")  # e.g. numeric(20) = BIGINT UNSIGNED


def test_a_uuid_key_is_bound_in_each_drivers_own_form() -> None:
    key = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    assert mysql.key_param("uuid", key) == key.bytes
    assert mysql.key_param("uuid", key.bytes) == key.bytes
    assert postgres.key_param("uuid", key.bytes) == key
    assert postgres.key_param("uuid", key) == key
    assert postgres.key_param("binary", key.bytes) == key.bytes  # only a uuid column converts
    assert mysql.key_param("integer", 7) == 7


def test_a_zoned_timestamp_key_is_bound_to_mysql_as_naive_utc() -> None:
    zoned = dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert mysql.key_param("timestamp", zoned) == dt.datetime(2026, 5, 1, 10, 0)
    naive = dt.datetime(2026, 5, 1, 10, 0)
    assert mysql.key_param("datetime", naive) is naive
    assert postgres.key_param("timestamp", zoned) is zoned


def test_zerofill_and_year_print_their_number_not_the_padding() -> None:
    """CAST(42 AS CHAR) of an INT ZEROFILL is '00000000042', of YEAR 0 '0000': PostgreSQL
    prints 42 and 0, so reconcile saw every such row as different."""
    from mysql_pg_sync.dialects.stored_type import StoredType

    zerofill = StoredType.from_row("int zerofill", None, None)
    assert (zerofill.data_type, zerofill.zerofill, zerofill.is_integer) == ("int", True, True)
    assert StoredType.from_row("double precision", None, None).data_type == "double precision"
    text = mysql.canonical_text_sql
    assert text("c", "int", stored=zerofill) == "CAST((c + 0) AS CHAR)"
    assert text("c", "int", stored=StoredType("year")) == "CAST((c + 0) AS CHAR)"
    assert text("c", "int", stored=StoredType("int")) == "CAST(c AS CHAR)"
    assert text("c", "int", stored=StoredType("int"), implicit=True) == "c"
    decimal = StoredType.from_row("decimal zerofill", 2, None)
    assert text("c", "decimal", scale=2, stored=decimal) == "CAST(ROUND(c, 2) AS CHAR)"
    double = StoredType.from_row("double zerofill", None, None)
    assert "CAST(c AS DOUBLE)" in text("c", "float", stored=double)
