"""Partial zero dates in the stream: Debezium sends '2020-00-15' as null, like NULL and MySQL's
zero date, so the consumer looks the value up in MySQL and makes the change a dead letter that
names the column, instead of writing NULL (or the sentinel). MySQL's zero date streams as before,
and the other rows of the batch apply."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, PipelineFactory, drive, mysql_lax, pg_rows

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

COLUMNS = [
    ("id", "int(11)", False),
    ("d", "date", True),
    ("dt", "datetime(6)", True),
    ("d_nn", "date", False),
    ("dt_nn", "datetime", False),
    ("note", "varchar(20)", True),
]
ROWS = "SELECT id, d::text, dt::text, d_nn::text, dt_nn::text, note FROM dates ORDER BY id"
LETTERS = "SELECT key->>'id', error FROM mps_sync.dead_letters ORDER BY (key->>'id')::int, id"


@pytest.fixture(params=["null", "sentinel"])
def dates(
    request: pytest.FixtureRequest, make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> Iterator[Pipeline]:
    policy = request.param
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.dates",
            "target": "public.dates",
            "key": ["id"],
            # one way: only MySQL holds partial zero dates
            "direction": "mysql_to_pg",
            "values": {"zero_dates": policy},
            "columns": [{"name": n, "column_type": t, "nullable": nl} for n, t, nl in COLUMNS],
        }
    )
    not_null = "NOT NULL" if policy == "sentinel" else ""  # as `ddl` makes them
    with make_pipeline(
        [mapping],
        [
            "CREATE TABLE dates (id int PRIMARY KEY, d date NULL, dt datetime(6) NULL, "
            "d_nn date NOT NULL, dt_nn datetime NOT NULL, note varchar(20) NULL)"
        ],
        [
            f"CREATE TABLE public.dates (id integer PRIMARY KEY, d date, dt timestamp(6), "
            f"d_nn date {not_null}, dt_nn timestamp(0) {not_null}, note varchar(20))"
        ],
    ) as p:
        yield p


def _letters(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(p, LETTERS)


def test_partial_zero_dates_are_dead_letters_and_the_zero_date_streams_as_before(
    dates: Pipeline,
) -> None:
    p = dates
    zero = "-infinity" if p.mappings.tables[0].values.zero_dates == "sentinel" else None
    consumer = p.consumer()
    try:
        mysql_lax(
            p,
            "INSERT INTO dates VALUES "
            "(1, '2020-01-02', '2020-01-02 03:04:05.5', '1970-01-01', '1970-01-01', 'real'),"
            "(2, NULL, '0000-00-00 00:00:00', '0000-00-00', '0000-00-00 00:00:00', 'zero'),"
            "(3, '2020-00-15', NULL, '2020-01-01', '2020-01-01 00:00:00', 'd'),"
            "(4, NULL, '2020-05-00 10:00:00', '2020-01-01', '2020-01-01 00:00:00', 'dt'),"
            "(5, NULL, NULL, '2020-05-00', '2020-01-01 00:00:00', 'd_nn'),"
            "(6, NULL, NULL, '2020-01-01', '2021-00-00 10:00:00', 'dt_nn'),"
            "(7, NULL, NULL, '0000-05-10', '2020-01-01 00:00:00', 'year 0')",
            "INSERT INTO dates VALUES (8, NULL, NULL, '2020-01-01', '2020-01-01', 'after')",
        )
        drive(consumer, lambda: len(_letters(p)) == 5 and len(pg_rows(p, ROWS)) == 3)
        assert pg_rows(p, ROWS) == [
            (1, "2020-01-02", "2020-01-02 03:04:05.5", "1970-01-01", "1970-01-01 00:00:00", "real"),
            (2, None, None, zero, zero, "zero"),  # MySQL's zero date, as the policy says
            (8, None, None, "2020-01-01", "2020-01-01 00:00:00", "after"),
        ]
        letters = _letters(p)
        assert [(k, _column(e)) for k, e in letters] == [
            ("3", "d"),
            ("4", "dt"),
            ("5", "d_nn"),
            ("6", "dt_nn"),
            ("7", "d_nn"),
        ]
        error = letters[0][1]
        assert "dates key (id=3)" in error
        assert "'2020-00-15'" in error
        assert "fix the value in MySQL" in error
        assert "NO_ZERO_IN_DATE" in error

        # an update to a partial zero date leaves PostgreSQL's row as it was, not NULL
        mysql_lax(
            p,
            "UPDATE dates SET d = '2020-00-01', note = 'upd' WHERE id = 1",
            "UPDATE dates SET dt_nn = '0000-00-00 00:00:00', note = 'zero upd' WHERE id = 8",
        )
        drive(consumer, lambda: len(_letters(p)) == 6 and pg_rows(p, ROWS)[-1][-1] == "zero upd")
        assert pg_rows(p, ROWS) == [
            (1, "2020-01-02", "2020-01-02 03:04:05.5", "1970-01-01", "1970-01-01 00:00:00", "real"),
            (2, None, None, zero, zero, "zero"),
            (8, None, None, "2020-01-01", zero, "zero upd"),
        ]
        key, error = _letters(p)[0]  # ordered by key
        assert (key, _column(error)) == ("1", "d")
        assert "'2020-00-01'" in error

        # cleaned in MySQL, the row streams over
        mysql_lax(p, "UPDATE dates SET d = '2020-01-15' WHERE id = 3")
        drive(consumer, lambda: len(pg_rows(p, ROWS)) == 4)
        assert pg_rows(p, "SELECT d::text FROM dates WHERE id = 3") == [("2020-01-15",)]
    finally:
        consumer.close()


def _column(error: str) -> str:
    """The column a dead letter's error names."""
    return error.split("column '", 1)[1].split("'", 1)[0]
