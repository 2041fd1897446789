"""PostgreSQL's +-infinity in the stream to MySQL: under ``values.zero_dates: sentinel`` the
sentinel ('-infinity') that MySQL's zero date became comes back through the PostgreSQL connector
as MySQL's zero date again. It used to be a dead letter (OverflowError) on every PostgreSQL
change of such a row. Any other infinity is a dead letter that names the column and says why."""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, PipelineFactory, drive, mysql_lax, pg_rows

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

PG_ROWS = "SELECT id, d::text, dt::text, note FROM dates ORDER BY id"
LETTERS = "SELECT key->>'id', error FROM mps_sync.dead_letters ORDER BY (key->>'id')::int, id"


def _mapping(db: str, policy: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.dates",
            "target": "public.dates",
            "key": ["id"],
            "direction": "both",
            "conflict": {"rule": "postgres_wins"},
            "values": {"zero_dates": policy},
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "d", "column_type": "date", "nullable": False},
                {"name": "dt", "column_type": "datetime(6)", "nullable": False},
                {"name": "note", "column_type": "varchar(20)", "nullable": True},
            ],
        }
    )


def _mysql_rows(p: Pipeline) -> list[tuple[Any, ...]]:
    conn = p.mysql()
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, CAST(d AS CHAR), CAST(dt AS CHAR), note FROM dates ORDER BY id")
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


MYSQL_DDL = [
    "CREATE TABLE dates (id int PRIMARY KEY, d date NOT NULL, dt datetime(6) NOT NULL, "
    "note varchar(20) NULL)"
]


def test_the_zero_date_sentinel_round_trips_through_postgres(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    pg_ddl = [
        "CREATE TABLE public.dates (id integer PRIMARY KEY, d date NOT NULL, "
        "dt timestamp(6) NOT NULL, note varchar(20))"
    ]
    with make_pipeline([_mapping(mysql_db.database, "sentinel")], MYSQL_DDL, pg_ddl) as p:
        consumer = p.consumer()
        try:
            mysql_lax(
                p, "INSERT INTO dates VALUES (1, '0000-00-00', '0000-00-00 00:00:00', 'zero')"
            )
            drive(consumer, lambda: len(pg_rows(p, PG_ROWS)) == 1)
            assert pg_rows(p, PG_ROWS) == [(1, "-infinity", "-infinity", "zero")]

            pg_rows(p, "UPDATE dates SET note = 'pg edit' WHERE id = 1 RETURNING id")
            pg_rows(
                p, "INSERT INTO dates VALUES (2, '-infinity', '-infinity', 'pg new') RETURNING id"
            )
            drive(consumer, lambda: len(_mysql_rows(p)) == 2 and _mysql_rows(p)[0][3] == "pg edit")
            assert _mysql_rows(p) == [
                (1, "0000-00-00", "0000-00-00 00:00:00.000000", "pg edit"),
                (2, "0000-00-00", "0000-00-00 00:00:00.000000", "pg new"),
            ]
            assert pg_rows(p, LETTERS) == []
        finally:
            consumer.close()


def test_an_infinity_mysql_cannot_hold_is_a_dead_letter_naming_the_column(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    pg_ddl = [
        "CREATE TABLE public.dates (id integer PRIMARY KEY, d date NOT NULL, "
        "dt timestamp(6) NOT NULL, note varchar(20))"
    ]
    with make_pipeline([_mapping(mysql_db.database, "null")], MYSQL_DDL, pg_ddl) as p:
        consumer = p.consumer()
        try:
            pg_rows(
                p,
                "INSERT INTO dates VALUES (1, 'infinity', '2020-01-01', 'inf d'), "
                "(2, '2020-01-01', '-infinity', 'inf dt'), (3, '2020-01-01', '2020-01-01', 'ok') "
                "RETURNING id",
            )
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 2 and len(_mysql_rows(p)) == 1)
            assert _mysql_rows(p) == [(3, "2020-01-01", "2020-01-01 00:00:00.000000", "ok")]
            (k1, e1), (k2, e2) = pg_rows(p, LETTERS)
            assert (k1, k2) == ("1", "2")
            assert "column 'd' (date -> date): date cannot be stored in MySQL: 'infinity'" in e1
            assert "column 'dt'" in e2
            assert "'-infinity'" in e2
            assert "fix the row in PostgreSQL" in e2
        finally:
            consumer.close()
