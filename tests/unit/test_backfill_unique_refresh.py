"""The pure parts of a chunk's refresh of rows its unique values collide with."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from mysql_pg_sync.backfill.keys import MemberNumber
from mysql_pg_sync.backfill.plan import PlanError, mysql_key_predicate
from mysql_pg_sync.backfill.source_rows import mysql_key_value
from mysql_pg_sync.backfill.unique_refresh import (
    GEN_COLUMN,
    Pair,
    Refreshed,
    UniqueIndex,
    duplicate_message,
    key_text,
    pair_from_row,
    pairs_sql,
    with_gen,
)
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg


def test_key_predicate_selects_exactly_the_keys_on_mysql() -> None:
    assert mysql_key_predicate(["id"], [(5,), (7,)], my.quote_ident) == "`id` IN (5, 7)"
    assert mysql_key_predicate(["id"], [], my.quote_ident) == "1=0"
    assert mysql_key_predicate(["a", "b"], [(1, "x"), (2, "y")], my.quote_ident) == (
        "((`a` = 1 AND `b` = _utf8mb4 X'78') OR (`a` = 2 AND `b` = _utf8mb4 X'79'))"
    )
    # an ENUM key given by member number compares by it, as the chunk predicates do
    enum_key = [(1, MemberNumber("enum", 2))]
    assert mysql_key_predicate(["k", "e"], enum_key, my.quote_ident) == "((`k` = 1 AND `e` = 2))"
    with pytest.raises(PlanError, match="2 columns"):
        mysql_key_predicate(["a", "b"], [(1,)], my.quote_ident)


@pytest.mark.parametrize(
    ("kind", "fetched", "bound"),
    [
        ("int", 5, 5),
        ("enum", b"small", "small"),  # ADBC returns an enum label as its bytes
        ("decimal", "1.50", Decimal("1.50")),  # and a numeric as text
        # a bigint unsigned past 2^53: as a string MySQL compared it as a double (neighbours too)
        ("uint64", "18446744073709551615", 18446744073709551615),
        ("uuid", uuid.UUID(int=1), uuid.UUID(int=1).bytes),  # binary(16) in MySQL
        (
            "timestamp",
            dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2024, 1, 2, 1, 4, 5),  # the readers' sessions run at UTC
        ),
        ("bytes", b"\x00\x01", b"\x00\x01"),
    ],
)
def test_a_key_fetched_from_postgresql_is_bound_as_mysql_compares_it(
    kind: str, fetched: object, bound: object
) -> None:
    value = mysql_key_value(kind, fetched)
    assert value == bound
    assert type(value) is type(bound)


def test_key_text_names_each_key_column() -> None:
    assert key_text(["id"], ["5"]) == "id=5"
    assert key_text(["a", "b"], ["1", None]) == "(a=1, b=NULL)"


def test_a_pairs_row_becomes_a_pair() -> None:
    row = ("users_email", True, "5", "150", "a@x", True)
    assert pair_from_row(row, ["id"]) == Pair("users_email", True, "id=5", "id=150", "a@x", True)
    row2 = ("u", False, "1", "x", "2", "y", "v", False)
    assert pair_from_row(row2, ["a", "b"]) == Pair(
        "u", False, "(a=1, b=x)", "(a=2, b=y)", "v", False
    )


def test_the_duplicate_error_names_table_index_both_rows_and_the_fix() -> None:
    pairs = [Pair("users_email", True, "id=10", "id=150", "dup@x", True)]
    text = duplicate_message("db.users #1", '"public"."users"', pairs)
    assert text.startswith(
        "db.users #1: rows id=10 and id=150 both give (dup@x) in unique index users_email of "
        '"public"."users"'
    )
    assert "Fix: make the values distinct in MySQL" in text
    many = [Pair("i", True, f"id={n}", f"id={n + 1}", "v", True) for n in range(7)]
    assert "(and 2 more pairs)" in duplicate_message("t #0", "t", many)


def test_a_refreshed_row_says_what_happened_to_it() -> None:
    assert (
        Refreshed("users_email", "id=5", "id=150", True)
        .describe("t")
        .endswith("refreshed to MySQL's current row")
    )
    assert "MySQL has it no more" in Refreshed("i", "id=8", "id=170", False).describe("t")


def test_with_gen_appends_the_read_number() -> None:
    batch = pa.RecordBatch.from_pydict({"id": [1, 2], "email": ["a", "b"]})
    marked = with_gen(batch, 3)
    assert marked.schema.names == ["id", "email", GEN_COLUMN]
    assert marked.column(GEN_COLUMN).to_pylist() == [3, 3]
    assert with_gen(batch.slice(0, 0), 0).num_rows == 0


def test_pairs_sql_checks_each_index_against_the_target_and_within_the_stage() -> None:
    indexes = [UniqueIndex("u_email", ("email",)), UniqueIndex("u_lower", ("lower(name)",))]
    sql = pairs_sql(indexes, '"public"."users"', "pg_temp.stage", ["id"])
    assert sql.count(" UNION ALL ") == 3
    assert "'u_email'::text AS mps_index, False AS mps_within" in sql
    assert "'u_lower'::text AS mps_index, True AS mps_within" in sql
    assert "(lower(name)) AS mps_u0" in sql


def test_unique_pairs_sql_follows_the_index_definition() -> None:
    sql = pg.unique_pairs_sql(
        "u", "t", "s", ["a", "b"], ["x", "y"], "deleted_at IS NULL", nulls_not_distinct=True
    )
    assert sql.count("WHERE deleted_at IS NULL") == 2  # a partial index: both sides
    assert "l.mps_u0 IS NOT DISTINCT FROM r.mps_u0 AND l.mps_u1 IS NOT DISTINCT FROM" in sql
    assert "false AS mps_same_read" in sql
    assert "mps_row" not in sql
    assert "array_to_string(ARRAY[l.mps_u0::text, l.mps_u1::text], ', ', 'NULL')" in sql
    within = pg.unique_pairs_sql("u", "s", "s", ["id"], ["email"], same_table=True)
    assert "l.mps_u0 = r.mps_u0 AND l.mps_row < r.mps_row" in within  # each pair once
    assert "l.mps_gen = r.mps_gen AS mps_same_read" in within


def test_dollar_placeholders() -> None:
    assert pg.dollar_placeholders("SELECT f(%s, %s)") == "SELECT f($1, $2)"
    assert pg.dollar_placeholders("SELECT 1") == "SELECT 1"
