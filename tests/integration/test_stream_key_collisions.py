"""A PostgreSQL row that MySQL takes for another one (its key or a unique index compares them
equal: a _ci collation, trailing spaces) is a dead letter naming the clash. The applier's
upsert had written it over the other MySQL row, or dropped it and counted it applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, pipeline

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

MYSQL_ROWS = "SELECT code, n, email FROM coded ORDER BY n"


@pytest.fixture(params=["mysql_wins", "postgres_wins"])
def coded(
    request: pytest.FixtureRequest,
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    columns = [("code", "varchar(10)"), ("n", "int(11)"), ("email", "varchar(40)")]
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.coded",
            "target": "public.coded",
            "key": ["code"],
            "conflict": {"rule": request.param},
            "columns": [{"name": c, "column_type": t, "nullable": c != "code"} for c, t in columns],
        }
    )
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
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


def test_a_row_mysql_takes_for_another_is_a_dead_letter(coded: Pipeline) -> None:
    p = coded
    consumer = p.consumer()
    try:
        mysql_rows(p, "INSERT INTO coded VALUES ('ABC', 1, 'a@x.com'), ('x ', 2, 'x@x.com')")
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM coded")) == 2)
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
            assert "compares as equal" in error
    finally:
        consumer.close()
