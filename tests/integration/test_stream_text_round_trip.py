"""A PostgreSQL change is not thrown away as a conflict because a value of the row reads back
differently from MySQL than PostgreSQL sent it (a FLOAT MySQL prints to 6 digits, JSON whose
numbers jsonb prints in full): nothing changed in MySQL, so the change applies."""

from __future__ import annotations

from collections.abc import Iterator

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


@pytest.fixture
def odd_values(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> Iterator[Pipeline]:
    columns = [("id", "int(11)"), ("f", "float"), ("j", "json"), ("note", "varchar(20)")]
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.odd_values",
            "target": "public.odd_values",
            "key": ["id"],
            "conflict": {"rule": "mysql_wins"},
            "columns": [{"name": n, "column_type": t, "nullable": n != "id"} for n, t in columns],
        }
    )
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE odd_values (id int PRIMARY KEY, f float, j longtext "
            "CHECK (json_valid(j)), note varchar(20)) ENGINE=InnoDB"
        ],
        [
            "CREATE TABLE public.odd_values (id integer PRIMARY KEY, f real, j jsonb, "
            "note varchar(20))",
            "ALTER TABLE public.odd_values REPLICA IDENTITY FULL",
        ],
    ) as p:
        yield p


def test_a_postgres_edit_of_a_row_holding_such_values_reaches_mysql(odd_values: Pipeline) -> None:
    p = odd_values
    consumer = p.consumer()
    try:
        mysql_rows(
            p,
            "INSERT INTO odd_values VALUES (1, -3.4028234e38, "
            """'{"b":1,"n":12345678901234567890123,"f":1.0e400,"x":1.0}', 'mysql')""",
        )
        drive(consumer, lambda: pg_rows(p, "SELECT note FROM odd_values") == [("mysql",)])
        with p.pg() as conn:
            conn.execute("UPDATE odd_values SET note = 'pg edit' WHERE id = 1")
        drive(consumer, lambda: mysql_rows(p, "SELECT note FROM odd_values") == [("pg edit",)])
        assert pg_rows(p, "SELECT count(*) FROM mps_sync.conflicts") == [(0,)]
    finally:
        consumer.close()


def test_a_float_change_past_the_sixth_digit_streams_both_ways(odd_values: Pipeline) -> None:
    """MySQL prints a FLOAT with 6 digits: 123456.7 and 123456.8 both read as 123457, and the
    applier took the change for none."""
    p = odd_values
    consumer = p.consumer()
    try:
        mysql_rows(p, "INSERT INTO odd_values VALUES (2, 123456.7, NULL, 'a')")
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM odd_values")) == 1)
        mysql_rows(p, "UPDATE odd_values SET f = 123456.8 WHERE id = 2")
        drive(
            consumer,
            lambda: pg_rows(p, "SELECT f::float8 FROM odd_values") == [(123456.796875,)],
        )
        with p.pg() as conn:
            conn.execute("UPDATE odd_values SET f = 123456.9 WHERE id = 2")
        drive(
            consumer,
            lambda: (
                mysql_rows(p, "SELECT CAST(f AS DOUBLE) FROM odd_values") == [(123456.8984375,)]
            ),
        )
        assert pg_rows(p, "SELECT sum(skipped_same) FROM mps_sync.stream_metrics") == [(0,)]
    finally:
        consumer.close()
