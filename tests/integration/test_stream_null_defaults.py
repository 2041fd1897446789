"""A NULL in a nullable column that has a DEFAULT stays NULL through the stream, both ways.

Debezium puts each column's DEFAULT in the field's schema, and Kafka Connect converters read a
null field as its schema default (JsonConverter's ``replace.null.with.default``, the Apicurio
Avro converter always): the row arrived with the default instead of its NULL, with no error
anywhere. The DropSchemaDefaults transform (stack/java) drops the defaults from the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing

import pytest
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, pipeline

from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

MYSQL_DDL = """CREATE TABLE flags (
  id int PRIMARY KEY,
  status varchar(10) NULL DEFAULT 'new',
  qty int NULL DEFAULT 7,
  seen date NULL DEFAULT '2000-01-01',
  note varchar(10) NULL)"""
PG_DDL = """CREATE TABLE public.flags (
  id integer PRIMARY KEY,
  status varchar(10) DEFAULT 'new',
  qty integer DEFAULT 7,
  seen date DEFAULT '2000-01-01',
  note varchar(10))"""
ROWS = "SELECT id, status, qty, seen, note FROM flags ORDER BY id"


@pytest.fixture(params=["json", "avro"])
def flags(
    request: pytest.FixtureRequest,
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    mapping = TableMapping.model_validate(
        {
            "source": f"{mysql_db.database}.flags",
            "target": "public.flags",
            "key": ["id"],
            "conflict": {"rule": "mysql_wins"},
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "status", "column_type": "varchar(10)", "default": "'new'"},
                {"name": "qty", "column_type": "int(11)", "default": "7"},
                {"name": "seen", "column_type": "date", "default": "'2000-01-01'"},
                {"name": "note", "column_type": "varchar(10)"},
            ],
        }
    )
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [mapping],
        [MYSQL_DDL],
        [PG_DDL, "ALTER TABLE public.flags REPLICA IDENTITY FULL"],
        converter=request.param,
    ) as p:
        yield p


def test_nulls_in_columns_with_defaults_stay_null_both_ways(flags: Pipeline) -> None:
    with closing(flags.consumer()) as consumer:
        m = flags.mysql()
        cur = m.cursor()
        cur.execute("INSERT INTO flags VALUES (1, NULL, NULL, NULL, 'mysql')")
        cur.execute("INSERT INTO flags (id, note) VALUES (2, 'defaults')")  # the defaults
        cur.execute("INSERT INTO flags VALUES (3, 'x', 1, '2020-05-06', NULL)")
        cur.execute("UPDATE flags SET status = NULL, qty = NULL WHERE id = 3")
        expected = [
            (1, None, None, None, "mysql"),
            (2, "new", 7, "2000-01-01", "defaults"),
            (3, None, None, "2020-05-06", None),
        ]

        def in_pg() -> bool:
            return [(*r[:3], r[3] and str(r[3]), r[4]) for r in pg_rows(flags, ROWS)] == expected

        try:
            drive(consumer, in_pg)  # 90 s: the first change waits for its topic to be made, found
        except AssertionError:
            raise AssertionError(f"PostgreSQL has {pg_rows(flags, ROWS)}") from None
        with flags.pg() as pg:
            pg.execute("INSERT INTO flags VALUES (10, NULL, NULL, NULL, 'pg')")
            pg.execute("UPDATE flags SET seen = NULL WHERE id = 2")
        expected[1] = (2, "new", 7, None, "defaults")
        expected.append((10, None, None, None, "pg"))

        def in_mysql() -> bool:
            rows = mysql_rows(flags, ROWS)
            return [(*r[:3], r[3] and str(r[3]), r[4]) for r in rows] == expected

        drive(consumer, in_mysql)
        assert in_pg()
