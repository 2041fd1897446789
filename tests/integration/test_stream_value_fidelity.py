"""Values the stream must carry exactly, both ways, or dead-letter naming table, key and column.

Each test asserts the correct behaviour; the PostgreSQL tables come from ``ddl`` (with its CHECKs),
the MySQL ones are written by hand as a legacy schema would have them.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from tests.integration.stream_harness import (
    Pipeline,
    PipelineFactory,
    drive,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.ddl import create_table_sql
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

LETTERS = "SELECT key->>'id', error FROM mps_sync.dead_letters ORDER BY id"


def _pipeline(
    make_pipeline: PipelineFactory,
    db: str,
    table: str,
    columns: list[dict[str, Any]],
    mysql_ddl: str,
) -> AbstractContextManager[Pipeline]:
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "direction": "both",
            "conflict": {"rule": "postgres_wins"},
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, *columns],
        }
    )
    return make_pipeline([mapping], [mysql_ddl], create_table_sql(mapping))


def _letters(p: Pipeline) -> dict[str, str]:
    try:
        return {str(k): str(e) for k, e in pg_rows(p, LETTERS)}
    except Exception:  # the state schema does not exist before the first batch
        return {}


def _settle(p: Pipeline, consumer: Any, target_ids: Any, ids: Iterable[int]) -> None:
    """Drive until every id is in the target or a dead letter, then a little longer."""
    wanted = {str(i) for i in ids}
    drive(consumer, lambda: wanted <= ({str(i) for i in target_ids()} | set(_letters(p))))
    end = time.monotonic() + 2
    while time.monotonic() < end:
        consumer.run(max_seconds=0.5)


def _mysql_ids(p: Pipeline, table: str) -> Any:
    return lambda: [r[0] for r in mysql_rows(p, f"SELECT id FROM {table}")]


def _pg_ids(p: Pipeline, table: str) -> Any:
    return lambda: [r[0] for r in pg_rows(p, f"SELECT id FROM {table}")]


def _kept_or_lettered(
    p: Pipeline, got: dict[int, Any], expected: dict[int, Any], column: str
) -> list[str]:
    """Per id: the value arrived exactly, or its dead letter names the column. Returns failures."""
    letters = _letters(p)
    bad = []
    for i, want in expected.items():
        if str(i) in letters:
            if column not in letters[str(i)]:
                bad.append(f"id {i}: dead letter does not name {column!r}: {letters[str(i)]}")
            continue
        if i not in got:
            bad.append(f"id {i}: neither applied nor a dead letter")
        elif got[i] != want:
            bad.append(f"id {i}: silently changed: sent {want!r}, target holds {got[i]!r}")
    return bad


# -- PostgreSQL -> MySQL: an interval (or a time(6)) into a MySQL TIME(0) ------------------------


def test_pg_time_fractions_are_not_cut_by_mysql_time0(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_times"
    columns = [
        {"name": "tm", "column_type": "time", "pg_type": "interval"},
        {"name": "t0", "column_type": "time", "pg_type": "time(6)"},
    ]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, tm time NULL, t0 time NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            with p.pg() as conn:
                conn.execute(
                    f"INSERT INTO {table} VALUES (1, '01:00:00.5', NULL), "
                    "(2, NULL, '12:00:00.25'), (3, '02:00:00', '13:00:00')"
                )
            _settle(p, consumer, _mysql_ids(p, table), [1, 2, 3])
            got = {i: (tm, t0) for i, tm, t0 in mysql_rows(p, f"SELECT id, tm, t0 FROM {table}")}
            expected = {
                1: (dt.timedelta(hours=1, microseconds=500000), None),
                2: (None, dt.timedelta(hours=12, microseconds=250000)),
                3: (dt.timedelta(hours=2), dt.timedelta(hours=13)),
            }
            bad = _kept_or_lettered(p, got, {1: expected[1]}, "tm")
            bad += _kept_or_lettered(p, got, {2: expected[2]}, "t0")
            bad += _kept_or_lettered(p, got, {3: expected[3]}, "-")
            assert not bad, bad
        finally:
            consumer.close()


# -- PostgreSQL -> MySQL: trailing spaces into a MySQL CHAR --------------------------------------


def test_pg_trailing_spaces_are_not_dropped_by_mysql_char(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_chars"
    columns = [{"name": "c", "column_type": "char(5)", "charset": "utf8mb4"}]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, c char(5) NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            with p.pg() as conn, pytest.raises(psycopg.errors.CheckViolation, match="c_pad"):
                conn.execute(f"INSERT INTO {table} VALUES (1, 'ab  ')")
            with p.pg() as conn:  # a table from before that CHECK: the stream refuses the value
                conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_c_pad")
                conn.execute(f"INSERT INTO {table} VALUES (1, 'ab  '), (2, 'ab')")
            _settle(p, consumer, _mysql_ids(p, table), [1, 2])
            assert "MySQL's CHAR drops trailing spaces" in _letters(p)["1"]
            got = dict(mysql_rows(p, f"SELECT id, c FROM {table}"))
            bad = _kept_or_lettered(p, got, {1: "ab  "}, "c")
            bad += _kept_or_lettered(p, got, {2: "ab"}, "-")
            assert not bad, bad
        finally:
            consumer.close()


# -- MySQL -> PostgreSQL: a NOT NULL TIMESTAMP within the epoch's first second -------------------


def test_mysql_timestamp_in_the_epochs_first_second_is_not_a_zero_date(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_epoch"
    columns = [{"name": "ts", "column_type": "timestamp(1)", "nullable": False}]
    ddl = (
        f"CREATE TABLE {table} (id int PRIMARY KEY, "
        "ts timestamp(1) NOT NULL DEFAULT CURRENT_TIMESTAMP(1))"
    )
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            # p.mysql() sessions run at time_zone '+00:00'
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES (1, '1970-01-01 00:00:00.5'), "
                "(2, '2020-01-01 00:00:00.5')",
            )
            assert mysql_rows(p, f"SELECT UNIX_TIMESTAMP(ts) FROM {table} WHERE id = 1") == [
                (Decimal("0.5"),)
            ]
            _settle(p, consumer, _pg_ids(p, table), [1, 2])
            got = dict(pg_rows(p, f"SELECT id, ts FROM {table}"))
            bad = _kept_or_lettered(
                p,
                got,
                {
                    1: dt.datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC),
                    2: dt.datetime(2020, 1, 1, 0, 0, 0, 500000, tzinfo=dt.UTC),
                },
                "ts",
            )
            assert not bad, bad
        finally:
            consumer.close()


# -- latin1 (MySQL's cp1252) both ways ------------------------------------------------------------

LATIN1 = {1: "\u20ac", 2: "\u0081x", 3: "\u00e9\u009d", 4: "\u201c\u00ff"}


def test_latin1_text_arrives_exactly_both_ways(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_latin1"
    columns = [{"name": "l1", "column_type": "varchar(10)", "charset": "latin1"}]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, l1 varchar(10) CHARACTER SET latin1 NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            conn = p.mysql()
            try:
                cur = conn.cursor()
                for i, text in LATIN1.items():
                    cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, text))
            finally:
                conn.close()
            stored = dict(mysql_rows(p, f"SELECT id, l1 FROM {table}"))
            assert stored == LATIN1  # MySQL holds them all
            _settle(p, consumer, _pg_ids(p, table), LATIN1)
            got = dict(pg_rows(p, f"SELECT id, l1 FROM {table}"))
            bad = _kept_or_lettered(p, got, LATIN1, "l1")

            back = {10 + i: text for i, text in LATIN1.items()}
            with p.pg() as pgc:
                for i, text in back.items():
                    pgc.execute(f"INSERT INTO {table} VALUES (%s, %s)", (i, text))
            _settle(p, consumer, _mysql_ids(p, table), back)
            got_back = dict(mysql_rows(p, f"SELECT id, l1 FROM {table} WHERE id > 10"))
            bad += _kept_or_lettered(p, got_back, back, "l1")
            assert not bad, bad
        finally:
            consumer.close()


# -- MySQL -> PostgreSQL: negative and long TIMEs into an interval --------------------------------

TIMES = {
    1: "-00:00:00.500000",
    2: "-838:59:59",
    3: "100:00:00.250000",
    4: "-01:00:00",
    5: "-00:59:59.999999",
}


def _td(text: str) -> dt.timedelta:
    neg = text.startswith("-")
    h, m, s = text.lstrip("-").split(":")
    delta = dt.timedelta(hours=int(h), minutes=int(m), seconds=float(s))
    return -delta if neg else delta


def test_mysql_negative_and_long_times_reach_pg_interval(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_spans"
    columns = [{"name": "tm", "column_type": "time(6)", "pg_type": "interval"}]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, tm time(6) NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            values = ", ".join(f"({i}, '{t}')" for i, t in TIMES.items())
            mysql_rows(p, f"INSERT INTO {table} VALUES {values}")
            _settle(p, consumer, _pg_ids(p, table), TIMES)
            got = dict(pg_rows(p, f"SELECT id, tm FROM {table}"))
            bad = _kept_or_lettered(p, got, {i: _td(t) for i, t in TIMES.items()}, "tm")
            assert not bad, bad
        finally:
            consumer.close()


# -- BIT(12) both ways ----------------------------------------------------------------------------


def test_bits_wider_than_a_byte_both_ways(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_bits"
    columns = [{"name": "b", "column_type": "bit(12)"}]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, b bit(12) NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES (1, b'100000000001'), (2, b'000000000001'), "
                "(3, b'111111111110')",
            )
            _settle(p, consumer, _pg_ids(p, table), [1, 2, 3])
            got = dict(pg_rows(p, f"SELECT id, b::text FROM {table}"))
            bad = _kept_or_lettered(
                p, got, {1: "100000000001", 2: "000000000001", 3: "111111111110"}, "b"
            )
            # B'1' (one bit) is not B'000000000001', but MySQL's BIT(12) cannot tell them
            # apart, and Debezium sends the bits without their count: ddl's CHECK refuses it
            with p.pg() as pgc, pytest.raises(psycopg.errors.CheckViolation, match="b_length"):
                pgc.execute(f"INSERT INTO {table} VALUES (12, B'1')")
            with p.pg() as pgc:
                pgc.execute(f"INSERT INTO {table} VALUES (11, B'100000000000')")
            _settle(p, consumer, _mysql_ids(p, table), [11])
            got_back = dict(mysql_rows(p, f"SELECT id, BIN(b) FROM {table} WHERE id > 10"))
            bad += _kept_or_lettered(p, got_back, {11: "100000000000"}, "b")
            assert not bad, bad
        finally:
            consumer.close()


# -- numbers, JSON, sets, booleans both ways ------------------------------------------------------


def _f32(x: float) -> float:
    return float(struct.unpack("f", struct.pack("f", x))[0])


def test_numbers_json_sets_both_ways(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_misc"
    columns = [
        {"name": "u64", "column_type": "bigint(20) unsigned"},
        {"name": "f", "column_type": "float"},
        {"name": "d", "column_type": "double"},
        {"name": "j", "column_type": "json"},
        {"name": "s", "column_type": "set('a','b','c')", "values": ["a", "b", "c"]},
        {"name": "flag", "column_type": "tinyint(1)"},
    ]
    ddl = (
        f"CREATE TABLE {table} (id int PRIMARY KEY, u64 bigint unsigned NULL, f float NULL, "
        "d double NULL, j json NULL, s set('a','b','c') NULL, flag tinyint(1) NULL)"
    )
    big_json = (
        '{"n": 12345678901234567890123456789.123456789, "e": 1e-40, "i": 18446744073709551617}'
    )
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            conn = p.mysql()
            try:
                cur = conn.cursor()
                cur.execute(
                    f"INSERT INTO {table} VALUES "
                    "(1, 18446744073709551615, 0.1, 0.1, %s, 'c,a', 1), "
                    "(2, 9223372036854775808, 3.4028234e38, 1e308, '[1.0]', '', 0), "
                    "(3, 0, -0.0, 5e-324, 'null', 'b', 2)",
                    (big_json,),
                )
            finally:
                conn.close()
            _settle(p, consumer, _pg_ids(p, table), [1, 2, 3])
            got = {
                r[0]: r[1:]
                for r in pg_rows(p, f"SELECT id, u64, f::float8, d, j::text, s, flag FROM {table}")
            }
            bad = []
            row1 = got.get(1)
            if row1 is None:
                bad.append(f"id 1 missing: {_letters(p)}")
            else:
                assert row1[0] == Decimal("18446744073709551615")
                assert row1[1] == _f32(0.1)
                assert row1[2] == 0.1
                parsed = json.loads(row1[3], parse_float=Decimal, parse_int=int)
                if parsed["n"] != Decimal("12345678901234567890123456789.123456789"):
                    bad.append(f"json n changed: {row1[3]}")
                if parsed["i"] != 18446744073709551617:
                    bad.append(f"json i changed: {row1[3]}")
                assert row1[4] == ["a", "c"] or sorted(row1[4]) == ["a", "c"]
                assert row1[5] is True
            row2 = got.get(2)
            assert row2 is not None, _letters(p)
            assert row2[0] == Decimal("9223372036854775808")
            assert row2[1] == _f32(3.4028234e38)
            assert row2[2] == 1e308
            assert row2[4] == []
            # tinyint(1) = 2 has no boolean: a dead letter naming the column
            letters = _letters(p)
            if "3" not in letters or "flag" not in letters["3"]:
                bad.append(f"id 3 (flag=2): {got.get(3)} letters={letters}")

            with p.pg() as pgc:
                pgc.execute(
                    f"INSERT INTO {table} VALUES (11, 18446744073709551614, '0.1'::real, "
                    '0.1, \'{"n": 0.10000000000000000000000000000001, "big": 1e30}\', '
                    "'{b,a}', true)"
                )
            _settle(p, consumer, _mysql_ids(p, table), [11])
            back = mysql_rows(
                p,
                f"SELECT u64, CAST(f AS DOUBLE), d, j, s, flag FROM {table} WHERE id = 11",
            )
            assert back, _letters(p)
            u64, f, d, j, s, flag = back[0]
            assert u64 == 18446744073709551614
            assert f == _f32(0.1)
            assert d == 0.1
            parsed = json.loads(j, parse_float=Decimal)
            if parsed["n"] != Decimal("0.10000000000000000000000000000001"):
                bad.append(f"json to MySQL changed: {j}")
            assert s == "a,b"
            assert flag == 1
            assert not bad, bad
        finally:
            consumer.close()


# -- MySQL -> PostgreSQL: a real epoch in NOT NULL DATE / DATETIME (the ZeroDateAsNull path) -------


def test_mysql_real_epoch_dates_are_not_zero_dates(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_epoch_dates"
    columns = [
        {"name": "d", "column_type": "date", "nullable": False},
        {"name": "dt", "column_type": "datetime", "nullable": False},
    ]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, d date NOT NULL, dt datetime NOT NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES (1, '1970-01-01', '1970-01-01 00:00:00'), "
                "(2, '2020-01-01', '2020-01-01 00:00:00')",
            )
            _settle(p, consumer, _pg_ids(p, table), [1, 2])
            got = {i: (d, t) for i, d, t in pg_rows(p, f"SELECT id, d, dt FROM {table}")}
            bad = _kept_or_lettered(
                p,
                got,
                {
                    1: (dt.date(1970, 1, 1), dt.datetime(1970, 1, 1)),
                    2: (dt.date(2020, 1, 1), dt.datetime(2020, 1, 1)),
                },
                "d",
            )
            assert not bad, bad
        finally:
            consumer.close()


# -- MySQL -> PostgreSQL: TIME(6) into a time(0) column (as DATETIME(6) into timestamp(0)) --------


def test_mysql_time_fractions_are_not_rounded_by_pg_time0(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    table = "mps_test_rv_time_fsp"
    columns = [
        {"name": "t", "column_type": "time(6)", "pg_type": "time(0)"},
        {"name": "ts", "column_type": "datetime(6)", "pg_type": "timestamp(0)"},
    ]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, t time(6) NULL, ts datetime(6) NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES (1, '12:00:00.5', NULL), "
                "(2, NULL, '2020-01-01 12:00:00.5'), (3, '12:00:00', '2020-01-01 12:00:00')",
            )
            _settle(p, consumer, _pg_ids(p, table), [1, 2, 3])
            got = {i: (t, ts) for i, t, ts in pg_rows(p, f"SELECT id, t, ts FROM {table}")}
            bad = _kept_or_lettered(p, got, {1: (dt.time(12, 0, 0, 500000), None)}, "'t'")
            bad += _kept_or_lettered(
                p, got, {2: (None, dt.datetime(2020, 1, 1, 12, 0, 0, 500000))}, "'ts'"
            )
            bad += _kept_or_lettered(p, got, {3: (dt.time(12), dt.datetime(2020, 1, 1, 12))}, "-")
            assert not bad, bad
        finally:
            consumer.close()


# -- YEAR both ways ----------------------------------------------------------------------------


def test_years_both_ways(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> None:
    table = "mps_test_rv_years"
    columns = [{"name": "y", "column_type": "year(4)"}]
    ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, y year NULL)"
    with _pipeline(make_pipeline, mysql_db.database, table, columns, ddl) as p:
        consumer = p.consumer()
        try:
            mysql_rows(p, f"INSERT INTO {table} VALUES (1, 1901), (2, 2155), (3, 0), (4, 2000)")
            _settle(p, consumer, _pg_ids(p, table), [1, 2, 3, 4])
            got = dict(pg_rows(p, f"SELECT id, y FROM {table}"))
            bad = _kept_or_lettered(p, got, {1: 1901, 2: 2155, 3: 0, 4: 2000}, "y")
            with p.pg() as pgc:
                pgc.execute(f"INSERT INTO {table} VALUES (11, 0), (12, 1999), (13, 2155)")
            _settle(p, consumer, _mysql_ids(p, table), [11, 12, 13])
            back = {i: int(y) for i, y in mysql_rows(p, f"SELECT id, y FROM {table} WHERE id > 10")}
            bad += _kept_or_lettered(p, back, {11: 0, 12: 1999, 13: 2155}, "y")
            assert not bad, bad
        finally:
            consumer.close()
