"""A PostgreSQL row that MySQL takes for another one (its key or a unique index compares them
equal: a _ci collation, trailing spaces) is a dead letter naming the clash. The applier's
upsert had written it over the other MySQL row, or dropped it and counted it applied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.stream_harness import (
    Pipeline,
    PipelineFactory,
    drive,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

MYSQL_ROWS = "SELECT code, n, email FROM coded ORDER BY n"


@pytest.fixture(params=["mysql_wins", "postgres_wins", "pg_to_mysql"])
def coded(
    request: pytest.FixtureRequest, make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> Iterator[Pipeline]:
    columns = [("code", "varchar(10)"), ("n", "int(11)"), ("email", "varchar(40)")]
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.coded",
            "target": "public.coded",
            "key": ["code"],
            **(
                {"direction": "pg_to_mysql"}
                if request.param == "pg_to_mysql"
                else {"conflict": {"rule": request.param}}
            ),
            "columns": [{"name": c, "column_type": t, "nullable": c != "code"} for c, t in columns],
        }
    )
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE coded (code varchar(10) COLLATE utf8mb4_general_ci PRIMARY KEY, n int, "
            "email varchar(40) COLLATE utf8mb4_general_ci UNIQUE) "
            "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        ],
        [
            "CREATE TABLE public.coded (code varchar(10) PRIMARY KEY, n integer, "
            "email varchar(40) UNIQUE)",
            "ALTER TABLE public.coded REPLICA IDENTITY FULL",
        ],
    ) as p:
        yield p


def _first_rows(p: Pipeline, consumer: Any) -> None:
    """'ABC' and 'x ' on both sides, written where the table's direction starts."""
    if p.mappings.tables[0].replicates_to_pg():
        mysql_rows(p, "INSERT INTO coded VALUES ('ABC', 1, 'a@x.com'), ('x ', 2, 'x@x.com')")
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM coded")) == 2)
    else:
        with p.pg() as conn:
            conn.execute("INSERT INTO coded VALUES ('ABC', 1, 'a@x.com'), ('x ', 2, 'x@x.com')")
        drive(consumer, lambda: len(mysql_rows(p, MYSQL_ROWS)) == 2)


def test_a_row_mysql_takes_for_another_is_a_dead_letter(coded: Pipeline) -> None:
    p = coded
    consumer = p.consumer()
    try:
        _first_rows(p, consumer)
        with p.pg() as conn:
            conn.execute("INSERT INTO coded VALUES ('abc', 10, 'abc@x.com')")  # key: case
            conn.execute("INSERT INTO coded VALUES ('x', 20, 'x2@x.com')")  # key: trailing space
            conn.execute("INSERT INTO coded VALUES ('new', 30, 'A@X.com')")  # unique: case
            conn.execute("INSERT INTO coded VALUES ('fine', 40, 'f@x.com')")
        drive(consumer, lambda: len(mysql_rows(p, MYSQL_ROWS)) == 3)
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM mps_sync.dead_letters")) == 3)
        # MySQL's rows are as they were, beside the one that fits
        assert mysql_rows(p, MYSQL_ROWS) == [
            ("ABC", 1, "a@x.com"),
            ("x ", 2, "x@x.com"),
            ("fine", 40, "f@x.com"),
        ]
        letters = pg_rows(
            p, "SELECT key->>'code', error FROM mps_sync.dead_letters ORDER BY key->>'code'"
        )
        assert [code for code, _ in letters] == ["abc", "new", "x"]
        for _, error in letters:
            assert "Duplicate entry" in error
            assert "MySQL already holds a row with that value" in error
    finally:
        consumer.close()


def test_a_row_deleted_and_one_like_it_inserted_in_one_batch_both_apply(coded: Pipeline) -> None:
    """The batch's deletes go first: 'abc' waited behind the 'ABC' it replaces, and the insert
    was dead-lettered as a clash."""
    p = coded
    consumer = p.consumer()
    try:
        _first_rows(p, consumer)
        with p.pg() as conn:
            conn.execute("DELETE FROM coded WHERE code = 'ABC'")
            conn.execute("INSERT INTO coded VALUES ('abc', 5, 'A@x.com')")
        drive(consumer, lambda: ("abc", 5, "A@x.com") in mysql_rows(p, MYSQL_ROWS))
        assert mysql_rows(p, MYSQL_ROWS) == [("x ", 2, "x@x.com"), ("abc", 5, "A@x.com")]
        assert pg_rows(p, "SELECT count(*) FROM mps_sync.dead_letters") == [(0,)]
    finally:
        consumer.close()
