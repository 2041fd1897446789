"""A MySQL TIME kept as a PostgreSQL interval streams back from PostgreSQL whatever form the
app wrote it in ('-1 day -2 hours' is -26:00:00); it was dead-lettered as "not a MySQL TIME"."""

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

pytestmark = pytest.mark.integration


@pytest.fixture
def spans(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> Iterator[Pipeline]:
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.spans",
            "target": "public.spans",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "tm", "column_type": "time(6)", "pg_type": "interval"},
            ],
        }
    )
    with make_pipeline(
        [mapping],
        ["CREATE TABLE spans (id int PRIMARY KEY, tm time(6)) ENGINE=InnoDB"],
        ["CREATE TABLE public.spans (id integer PRIMARY KEY, tm interval)"],
    ) as p:
        yield p


def test_intervals_written_in_postgres_reach_mysql_as_times(spans: Pipeline) -> None:
    p = spans
    consumer = p.consumer()
    try:
        with p.pg() as conn:
            conn.execute(
                "INSERT INTO spans VALUES (1, '-1 day -2 hours'), (2, '36:00:00.123456'), "
                "(3, '-34 days -22:59:59.999999'), (4, '1 mon')"
            )
        drive(consumer, lambda: len(mysql_rows(p, "SELECT id FROM spans")) == 3)
        assert mysql_rows(p, "SELECT id, tm FROM spans ORDER BY id") == [
            (1, -dt.timedelta(hours=26)),
            (2, dt.timedelta(hours=36, microseconds=123456)),
            (3, -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=999999)),
        ]
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM mps_sync.dead_letters")) == 1)
        ((key, error),) = pg_rows(p, "SELECT key->>'id', error FROM mps_sync.dead_letters")
        assert key == "4"
        assert "column 'tm'" in error
        assert "month(s), which a MySQL TIME cannot hold" in error
    finally:
        consumer.close()
