"""Years 0001-0099 stream as they are: Debezium's time adjuster read them as two-digit years
(0001-02-03 arrived in PostgreSQL as 2001-02-03, 0050 as 2050) until the MySQL source set
enable.time.adjuster=false."""

from __future__ import annotations

import datetime as dt
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

ROWS = "SELECT id, d, dt, dt6, d_nn FROM old_dates ORDER BY id"


@pytest.fixture
def old_dates(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> Iterator[Pipeline]:
    columns = [
        ("id", "int(11)", False),
        ("d", "date", True),
        ("dt", "datetime", True),
        ("dt6", "datetime(6)", True),
        ("d_nn", "date", False),
    ]
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.old_dates",
            "target": "public.old_dates",
            "key": ["id"],
            "columns": [{"name": n, "column_type": t, "nullable": nl} for n, t, nl in columns],
        }
    )
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE old_dates (id int PRIMARY KEY, d date NULL, dt datetime NULL, "
            "dt6 datetime(6) NULL, d_nn date NOT NULL) ENGINE=InnoDB"
        ],
        [
            "CREATE TABLE public.old_dates (id integer PRIMARY KEY, d date, dt timestamp(0), "
            "dt6 timestamp(6), d_nn date NOT NULL)"
        ],
    ) as p:
        yield p


def test_years_before_100_arrive_unchanged_both_ways(old_dates: Pipeline) -> None:
    p = old_dates
    consumer = p.consumer()
    try:
        mysql_rows(
            p,
            "INSERT INTO old_dates VALUES "
            "(1, '0001-02-03', '0050-06-15 10:00:00', '0001-01-01 00:00:00.000001', '0069-12-31'),"
            "(2, '0099-12-31', '0070-01-01 00:00:00', '0010-10-10 10:10:10.5', '1969-12-31')",
        )
        drive(consumer, lambda: len(pg_rows(p, ROWS)) == 2)
        assert pg_rows(p, ROWS) == [
            (
                1,
                dt.date(1, 2, 3),
                dt.datetime(50, 6, 15, 10),
                dt.datetime(1, 1, 1, 0, 0, 0, 1),
                dt.date(69, 12, 31),
            ),
            (
                2,
                dt.date(99, 12, 31),
                dt.datetime(70, 1, 1),
                dt.datetime(10, 10, 10, 10, 10, 10, 500000),
                dt.date(1969, 12, 31),
            ),
        ]
        with p.pg() as conn:
            conn.execute("UPDATE old_dates SET d = '0042-04-02', dt6 = '0007-07-07' WHERE id = 1")
        drive(
            consumer,
            lambda: (
                mysql_rows(p, "SELECT d, dt6 FROM old_dates WHERE id = 1")
                == [(dt.date(42, 4, 2), dt.datetime(7, 7, 7))]
            ),
        )
    finally:
        consumer.close()
