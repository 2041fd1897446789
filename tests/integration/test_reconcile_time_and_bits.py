"""A MySQL TIME mapped to a PostgreSQL interval and a BIT(n) mapped to bit varying(n) print the
same canonical text on both servers, negative and fractional times, days in the interval and
64-bit values with the top bit set included (zero false positives), and a one-sided change to
such a value is still found."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest

from mysql_pg_sync import dialects
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.bisect import BisectConfig
from mysql_pg_sync.reconcile.compare import CompareConfig, Comparison, PairSource, compare
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable, canonical_kind
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint

# (name, MySQL type, PostgreSQL type)
COLUMNS = [
    ("tm", "time", "interval"),
    ("tm1", "time(1)", "interval"),
    ("tm2", "time(2)", "interval"),
    ("tm3", "time(3)", "interval"),
    ("tm4", "time(4)", "interval(4)"),
    ("tm5", "time(5)", "interval"),
    ("tm6", "time(6)", "interval(6)"),
    ("b2", "bit(2)", "bit varying(2)"),
    ("b63", "bit(63)", "bit varying(63)"),
    ("b64", "bit(64)", "bit varying(64)"),
]
WIDTH = {"b2": 2, "b63": 63, "b64": 64}
TOP = 2**63
MAX64 = 2**64 - 1

# id -> MySQL values (TIME as text, BIT as an integer); PostgreSQL gets the same unless PG_ONLY
# says otherwise
ROWS: dict[int, dict[str, Any]] = {
    1: {},  # every column NULL
    2: {
        "tm": "-838:59:59",
        "tm1": "-838:59:59.9",
        "tm2": "-00:00:00.01",
        "tm3": "-00:00:00.001",
        "tm4": "-838:59:59.9999",
        "tm5": "-00:00:00.00001",
        "tm6": "-00:00:00.000001",
        "b2": 3,
        "b63": 2**63 - 1,
        "b64": MAX64,
    },
    3: {
        "tm": "838:59:59",
        "tm1": "838:59:59.9",
        "tm2": "838:59:59.99",
        "tm3": "838:59:59.999",
        "tm4": "00:00:00.0001",
        "tm5": "838:59:59.99999",
        "tm6": "838:59:59.999999",
        "b2": 0,
        "b63": 2**62,
        "b64": TOP,
    },
    4: {
        "tm": "-00:00:01",
        "tm1": "-00:00:00.1",
        "tm2": "-12:00:00.50",
        "tm3": "00:00:00.5",
        "tm4": "-00:00:01.0001",
        "tm5": "99:59:59.12345",
        "tm6": "-00:00:00.500000",
        "b2": 1,
        "b63": 0,
        "b64": TOP - 1,
    },
    5: {
        "tm": "00:00:00",
        "tm1": "00:00:00.0",
        "tm3": "-12:34:56.789",
        "tm6": "-838:59:59.999999",
        "b2": 2,
        "b63": 1,
        "b64": 0,
    },
    6: {"tm": "100:00:00", "tm1": "-26:00:00", "tm6": "05:04:03.000120", "b64": 1},
    7: {"tm": "-00:00:00", "tm6": "-00:00:00.000000", "b64": TOP + 1},
    # equal values written with days, as psycopg writes a timedelta
    8: {"tm": "-838:59:59", "tm1": "22:00:00", "tm6": "838:59:59.999999"},
    9: {"tm": "24:00:00", "tm6": "-24:00:00.000001"},
}
PG_ONLY: dict[int, dict[str, Any]] = {
    8: {"tm": "-35 days +01:00:01", "tm1": "1 day -02:00:00", "tm6": "34 days 22:59:59.999999"},
    9: {"tm": "1 day", "tm6": "-1 day -00:00:00.000001"},
}
# id -> (MySQL values, PostgreSQL's one-sided change, the columns that must be reported)
CHANGES: dict[int, tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = {
    100: ({"tm": "-838:59:59"}, {"tm": "-838:59:58"}, ("tm",)),
    101: ({"tm6": "-00:00:00.000001"}, {"tm6": "00:00:00.000001"}, ("tm6",)),  # the sign only
    102: ({"tm1": "-00:00:00.5"}, {"tm1": "00:00:00.5"}, ("tm1",)),
    103: ({"tm3": "00:00:00"}, {"tm3": "1 mon"}, ("tm3",)),  # a month is no MySQL TIME
    104: ({"tm": "00:00:00"}, {"tm": "1 day"}, ("tm",)),
    105: ({"b64": MAX64}, {"b64": MAX64 - 1}, ("b64",)),
    106: ({"b64": TOP, "b63": 2**62}, {"b64": 0, "b63": 2**62 + 1}, ("b63", "b64")),
}


def _bits(name: str, value: int | None) -> str | None:
    return None if value is None else format(value, f"0{WIDTH[name]}b")


def _create(mysql: DatabaseEndpoint, pg: DatabaseEndpoint) -> None:
    with mysql_connect(mysql, autocommit=True) as conn:
        cols = ", ".join(f"`{n}` {t}" for n, t, _ in COLUMNS)
        conn.cursor().execute(f"CREATE TABLE tb (id int PRIMARY KEY, {cols})")
    with pg_connect(pg, autocommit=True) as conn:
        cols = ", ".join(f'"{n}" {t}' for n, _, t in COLUMNS)
        conn.execute(f"CREATE TABLE tb (id integer PRIMARY KEY, {cols})")  # type: ignore[arg-type]


def _load(
    mysql: DatabaseEndpoint, pg: DatabaseEndpoint, rows: dict[int, tuple[dict, dict]]
) -> None:
    names = [n for n, _, _ in COLUMNS]
    with mysql_connect(mysql, autocommit=True) as conn:
        marks = ", ".join(["%s"] * (len(names) + 1))
        conn.cursor().executemany(
            f"INSERT INTO tb (id, {', '.join(names)}) VALUES ({marks})",
            [(i, *(mine.get(n) for n in names)) for i, (mine, _) in rows.items()],
        )
    with pg_connect(pg, autocommit=True) as conn, conn.cursor() as cur:
        casts = ", ".join("%s::varbit" if n in WIDTH else "%s::interval" for n in names)
        cur.executemany(
            f"INSERT INTO tb (id, {', '.join(names)}) VALUES (%s, {casts})",  # type: ignore[arg-type]
            [
                (i, *(_bits(n, theirs.get(n)) if n in WIDTH else theirs.get(n) for n in names))
                for i, (_, theirs) in rows.items()
            ],
        )


def _table(mysql: DatabaseEndpoint) -> ReconcileTable:
    columns = [CompareColumn("id", "id", "int", "integer")]
    for name, mysql_type, pg_type in COLUMNS:
        kind, scale, digits = canonical_kind(mysql_type, pg_type)
        columns.append(CompareColumn(name, name, kind, pg_type, scale, digits))
    return ReconcileTable("tb", mysql.database, "tb", "public", "tb", tuple(columns), ("id",))


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


def _compare(
    mysql: DatabaseEndpoint, pg: DatabaseEndpoint, executor: ThreadPoolExecutor, threshold: int
) -> tuple[Comparison, PairSource]:
    table = _table(mysql)
    source = PairSource(
        TableSide("mysql", dialects.mysql, table, ConnectionPool(lambda: mysql_connect(mysql), 2)),
        TableSide("postgres", dialects.postgres, table, ConnectionPool(lambda: pg_connect(pg), 2)),
        executor,
    )
    source.both(lambda side: side.check_schema())  # learns the stored types (interval)
    config = CompareConfig(segment_rows=4, bisect=BisectConfig(factor=2, threshold=threshold))
    return compare(source, config, map), source


@pytest.fixture
def equal(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> tuple[DatabaseEndpoint, DatabaseEndpoint]:
    admin = replace(mysql_admin, database=mysql_db.database)
    _create(admin, pg_db)
    _load(admin, pg_db, {i: (row, {**row, **PG_ONLY.get(i, {})}) for i, row in ROWS.items()})
    return mysql_db, pg_db


@pytest.mark.parametrize("threshold", [1, 1000])
def test_equal_times_and_bits_are_in_sync(equal, executor, threshold: int) -> None:
    mysql, pg = equal
    result, _ = _compare(mysql, pg, executor, threshold)
    assert result.diffs == []
    assert result.hash_only == 0  # the row hashes agree, not only the row comparison
    assert result.stats.rows_mysql == result.stats.rows_postgres == len(ROWS)


def test_both_servers_print_mysql_s_text_byte_for_byte(equal, executor) -> None:
    mysql, pg = equal
    _, source = _compare(mysql, pg, executor, 1000)
    left, right = source.canonical_rows([(i,) for i in ROWS])
    assert {k: dict(v.texts) for k, v in right.items()} == {
        k: dict(v.texts) for k, v in left.items()
    }
    texts = {k[0]: v.texts for k, v in right.items()}
    assert texts["2"]["tm"] == "-838:59:59.000000"
    assert texts["2"]["tm3"] == "-00:00:00.001000"
    assert texts["2"]["tm6"] == "-00:00:00.000001"
    assert texts["2"]["tm5"] == "-00:00:00.000010"
    assert texts["2"]["tm4"] == "-838:59:59.999900"
    assert texts["4"]["tm6"] == "-00:00:00.500000"
    assert texts["5"]["tm"] == "00:00:00.000000"
    assert texts["7"]["tm"] == "00:00:00.000000"  # MySQL reads '-00:00:00' as 0
    assert texts["8"]["tm"] == "-838:59:59.000000"  # '-35 days +01:00:01'
    assert texts["9"]["tm"] == "24:00:00.000000"  # '1 day', not wrapped into days
    assert texts["2"]["b64"] == str(MAX64)
    assert texts["3"]["b64"] == str(TOP)
    assert texts["7"]["b64"] == str(TOP + 1)
    assert texts["2"]["b63"] == str(2**63 - 1)
    assert texts["1"] == dict.fromkeys(texts["1"]) | {"id": "1"}


@pytest.mark.parametrize("threshold", [1, 1000])
def test_a_one_sided_change_is_found(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    executor: ThreadPoolExecutor,
    threshold: int,
) -> None:
    admin = replace(mysql_admin, database=mysql_db.database)
    _create(admin, pg_db)
    rows = {i: (row, {**row, **PG_ONLY.get(i, {})}) for i, row in ROWS.items()}
    rows |= {i: (mine, {**mine, **theirs}) for i, (mine, theirs, _) in CHANGES.items()}
    _load(admin, pg_db, rows)
    result, _ = _compare(mysql_db, pg_db, executor, threshold)
    assert {d.key[0]: (d.drift, d.columns) for d in result.diffs} == {
        str(i): ("different", columns) for i, (_, _, columns) in CHANGES.items()
    }
