"""A hunt for reconcile's false negatives and false positives on real MariaDB and PostgreSQL,
beyond the injected changes of test_reconcile_matrix.py.

Two kinds of tests live here:

- The regression net (passing): tricky values that reconcile already gets right. Equal in
  meaning must not be drift (negative zero, decimals' trailing zeros, fractional seconds
  written with trailing zeros, CHAR padding, set order, JSON number forms and key order,
  instants written at other UTC offsets, zero dates under each ``values.zero_dates`` policy),
  and every one-sided change must be found with exactly its class and columns (NaN/Infinity,
  the last digit of a DECIMAL(65,30), 1 us at every fsp, unicode normalisation, a case-only
  change in a _ci column, trailing 0x00 bytes, the last character of a 100 KB text, strings
  forged from the row hash's separators and NULL marker, keys that differ only in case or a
  trailing space, swapped rows that a SUM of row hashes could cancel).
- Bugs found (all fixed since; docstrings begin "Fixed:"): keys of some types are looked up,
  printed or divided wrongly, so rows that differ are dropped (false negative), equal rows are
  drift for ever (false positive), or the table cannot be compared as soon as it has drift.

Every table is named ``hrc_*`` in the test's own databases (dropped after each test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync import dialects
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import ValuePolicy
from mysql_pg_sync.reconcile.bisect import BisectConfig
from mysql_pg_sync.reconcile.compare import CompareConfig, Comparison, PairSource, compare
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import (
    CompareColumn,
    ReconcileTable,
    canonical_kind,
    zero_date_text,
)
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.types.typemap import enum_values, parse_column_type

pytestmark = pytest.mark.integration

Row = dict[str, Any]
Found = dict[tuple[str | None, ...], tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Col:
    """One column of a table pair: MySQL's DDL type, PostgreSQL's, and how it is compared."""

    name: str
    mysql: str  # MySQL DDL type (may carry NULL, a character set or a collation)
    pg: str  # PostgreSQL DDL type, also the mapping's pg_type
    column_type: str = ""  # the mapping's COLUMN_TYPE when ``mysql`` says more than the type
    pg_cast: str = ""  # cast of PostgreSQL's insert placeholder (varbit, an enum type)
    zero_date: str | None = None  # CompareColumn.zero_date (values.zero_dates: sentinel)

    @property
    def mapped_type(self) -> str:
        return self.column_type or self.mysql

    def compared(self, double_digits: int) -> CompareColumn:
        kind, scale, digits = canonical_kind(
            self.mapped_type, self.pg, float_digits=6, double_digits=double_digits
        )
        base = parse_column_type(self.mapped_type).base
        members = enum_values(self.mapped_type) if base in ("enum", "set") else ()
        return CompareColumn(
            self.name, self.name, kind, self.pg, scale, digits, members, self.zero_date
        )


@dataclass
class Pair:
    """The test's MySQL and PostgreSQL databases: make table pairs there and compare them."""

    mysql: DatabaseEndpoint  # the sync user, as reconcile connects
    pg: DatabaseEndpoint
    admin: DatabaseEndpoint  # MySQL's admin on the test database (CREATE TABLE)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(4))

    def create(
        self,
        name: str,
        cols: Sequence[Col],
        mysql_rows: Sequence[Row],
        pg_rows: Sequence[Row],
        key: Sequence[str] = ("id",),
        double_digits: int = 17,
    ) -> ReconcileTable:
        keys = ", ".join(f"`{k}`" for k in key)
        mysql_cols = ", ".join(f"`{c.name}` {c.mysql}" for c in cols)
        pg_cols = ", ".join(f'"{c.name}" {c.pg}' for c in cols)
        pg_keys = ", ".join(f'"{k}"' for k in key)
        mysql_exec(self.admin, f"CREATE TABLE `{name}` ({mysql_cols}, PRIMARY KEY ({keys}))")
        pg_exec(self.pg, f'CREATE TABLE "{name}" ({pg_cols}, PRIMARY KEY ({pg_keys}))')
        self.insert_mysql(name, cols, mysql_rows)
        self.insert_pg(name, cols, pg_rows)
        return ReconcileTable(
            name,
            self.mysql.database,
            name,
            "public",
            name,
            tuple(c.compared(double_digits) for c in cols),
            tuple(key),
        )

    def insert_mysql(
        self, name: str, cols: Sequence[Col], rows: Sequence[Row], session: Sequence[str] = ()
    ) -> None:
        if not rows:
            return
        names = ", ".join(f"`{c.name}`" for c in cols)
        marks = ", ".join(["%s"] * len(cols))
        with mysql_connect(self.admin, autocommit=True) as conn:
            cur = conn.cursor()
            for statement in session:
                cur.execute(statement)
            cur.executemany(
                f"INSERT INTO `{name}` ({names}) VALUES ({marks})",
                [tuple(r.get(c.name) for c in cols) for r in rows],
            )

    def insert_pg(self, name: str, cols: Sequence[Col], rows: Sequence[Row]) -> None:
        if not rows:
            return
        names = ", ".join(f'"{c.name}"' for c in cols)
        marks = ", ".join(f"%s::{c.pg_cast}" if c.pg_cast else "%s" for c in cols)
        with pg_connect(self.pg, autocommit=True) as conn, conn.cursor() as cur:
            cur.executemany(
                f'INSERT INTO "{name}" ({names}) VALUES ({marks})',  # type: ignore[arg-type]
                [tuple(r.get(c.name) for c in cols) for r in rows],
            )

    def compare(
        self, table: ReconcileTable, threshold: int = 2, segment_rows: int = 4
    ) -> Comparison:
        """Compare as a reconcile run does (check_schema first, then the bisection)."""
        mysql_pool = ConnectionPool(lambda: mysql_connect(self.mysql), 2)
        pg_pool = ConnectionPool(
            lambda: pg_connect(self.pg), 2, dialects.postgres.compare_session_sql()
        )
        try:
            source = PairSource(
                TableSide("mysql", dialects.mysql, table, mysql_pool),
                TableSide("postgres", dialects.postgres, table, pg_pool),
                self.executor,
            )
            source.both(lambda side: side.check_schema())
            config = CompareConfig(
                segment_rows=segment_rows, bisect=BisectConfig(factor=2, threshold=threshold)
            )
            return compare(source, config, map)
        finally:
            mysql_pool.close()
            pg_pool.close()


def mysql_exec(endpoint: DatabaseEndpoint, *statements: str) -> None:
    with mysql_connect(endpoint, autocommit=True) as conn:
        cur = conn.cursor()
        for statement in statements:
            cur.execute(statement)


def pg_exec(endpoint: DatabaseEndpoint, *statements: str) -> None:
    with pg_connect(endpoint, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)  # type: ignore[arg-type]


def found(result: Comparison) -> Found:
    return {d.key: (d.drift, d.columns) for d in result.diffs}


@pytest.fixture
def pair(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> Iterator[Pair]:
    p = Pair(mysql_db, pg_db, replace(mysql_admin, database=mysql_db.database))
    try:
        yield p
    finally:
        p.executor.shutdown()


# --- the regression net: one row per case over a wide table -----------------------------------

FSPS = range(7)
WIDE = [
    Col("id", "int", "integer"),
    Col("d", "double NULL", "double precision", "double"),
    Col("r", "float NULL", "real", "float"),
    Col("dec", "decimal(10,2) NULL", "numeric(10,2)", "decimal(10,2)"),
    Col("dec0", "decimal(5,0) NULL", "numeric(5,0)", "decimal(5,0)"),
    Col("dec30", "decimal(65,30) NULL", "numeric(65,30)", "decimal(65,30)"),
    *(Col(f"dt{n}", f"datetime({n}) NULL", f"timestamp({n})", f"datetime({n})") for n in FSPS),
    Col("ts6", "timestamp(6) NULL", "timestamptz(6)", "timestamp(6)"),
    Col("tm", "time(6) NULL", "interval", "time(6)"),
    Col("y", "year NULL", "smallint", "year"),
    Col("txt", "varchar(50) NULL", "varchar(50)", "varchar(50)"),  # utf8mb4_unicode_ci
    Col("ch", "char(10) NULL", "varchar(10)", "char(10)"),
    Col("vb", "varbinary(10) NULL", "bytea", "varbinary(10)"),
    Col("bl", "blob NULL", "bytea", "blob"),
    Col("lt", "mediumtext NULL", "text", "mediumtext"),
    Col("e", "enum('b','a','c') NULL", "text", "enum('b','a','c')"),
    Col("s", "set('z','y','x') NULL", "text[]", "set('z','y','x')"),
    Col("bt", "bit(5) NULL", "bit varying(5)", "bit(5)", pg_cast="varbit"),
    Col("ub", "bigint unsigned NULL", "numeric(20,0)", "bigint unsigned"),
    Col("t1", "text NULL", "text", "text"),
    Col("t2", "text NULL", "text", "text"),
    Col("j", "json NULL", "jsonb", "json"),
]
LONG = "x" * 100_000  # past TEXT's 64 KB
BASE: Row = {
    "d": 0.5,
    "r": 0.5,
    "dec": "1.50",
    "dec0": "7",
    "dec30": "1.100000000000000000000000000000",
    **{f"dt{n}": "2024-02-29 23:59:59" for n in FSPS},
    "ts6": "2021-03-28 01:30:00",
    "tm": "-01:00:00",
    "y": 2024,
    "txt": "café",
    "ch": "ab",
    "vb": b"a\x00",
    "bl": b"\x00",
    "lt": LONG,
    "e": "a",
    "s": "z,x",
    "bt": 5,
    "ub": 2**63,
    "t1": "a",
    "t2": "b",
    "j": '{"a": 1}',
}


def _pg_value(name: str, value: Any) -> Any:
    """A MySQL-side test value as PostgreSQL takes the same value."""
    if value is None:
        return None
    if name == "s" and isinstance(value, str):
        return [m for m in value.split(",") if m]
    if name == "bt" and isinstance(value, int):
        return format(value, "05b")
    if name == "ts6" and isinstance(value, str) and "+" not in value:
        return value + "+00"
    return value


# id -> (MySQL's changes to BASE, PostgreSQL's changes on top of them, columns reported)
WIDE_CASES: dict[int, tuple[Row, Row, tuple[str, ...]]] = {
    1: ({}, {}, ()),
    # -- equal in meaning: no drift --
    # MariaDB stores -0e0 as 0 (it has no negative zero), so a PostgreSQL -0 can only be the
    # same zero the stream carried over
    2: ({"d": 0.0, "r": 0.0}, {"d": -0.0, "r": -0.0}, ()),
    3: ({"dec": "-0.00", "dec0": "-0"}, {"dec": "0", "dec0": "0"}, ()),
    4: ({"dec": "1.5"}, {"dec": "1.500"}, ()),  # trailing zeros are the scale, not the value
    5: ({"dec": "99999999.99", "dec30": "0.000000000000000000000000000001"}, {}, ()),
    # fractional seconds written with and without trailing zeros
    6: (
        {f"dt{n}": "2020-01-01 00:00:00." + "1" + "0" * (n - 1) for n in range(1, 7)},
        {f"dt{n}": "2020-01-01 00:00:00.1" for n in range(1, 7)},
        (),
    ),
    7: (
        {f"dt{n}": "2020-01-01 00:00:00" for n in FSPS},
        {f"dt{n}": "2020-01-01 00:00:00.000000" for n in FSPS},
        (),
    ),
    8: ({"tm": "24:00:00"}, {"tm": "1 day"}, ()),
    9: ({"y": 0}, {}, ()),  # the zero year
    10: ({"ch": "ab"}, {"ch": "ab   "}, ()),  # CHAR padding in PostgreSQL's varchar
    11: ({"s": "z,x"}, {"s": ["x", "z"]}, ()),  # set members in another order
    12: ({"ub": 2**64 - 1}, {}, ()),
    13: (
        {"j": '{"b": [1, {"y": 2.50, "x": "\\u00e9"}], "a": 1e2, "c": -0}'},
        {"j": '{"a": 100, "c": 0, "b": [1.0, {"x": "é", "y": 2.5}]}'},
        (),
    ),
    14: ({"j": '"\\ud83d\\ude00"'}, {"j": '"\U0001f600"'}, ()),
    15: ({"t1": "N", "t2": "|"}, {}, ()),
    # -- one-sided changes: exactly the changed columns --
    20: ({}, {"d": float("nan")}, ("d",)),
    21: ({"d": 1.7976931348623157e308}, {"d": float("inf")}, ("d",)),
    22: ({"d": None}, {"d": float("-inf"), "r": float("nan")}, ("d", "r")),
    23: ({"dec": "99999999.99"}, {"dec": "99999999.98"}, ("dec",)),
    24: ({}, {"dec30": "1.100000000000000000000000000001"}, ("dec30",)),
    25: ({"dec0": "99999"}, {"dec0": "99998"}, ("dec0",)),
    # the smallest step of every fsp
    26: (
        {f"dt{n}": "2020-01-01 00:00:00" for n in FSPS},
        {
            "dt0": "2020-01-01 00:00:01",
            **{f"dt{n}": "2020-01-01 00:00:00." + "0" * (n - 1) + "1" for n in range(1, 7)},
        },
        tuple(f"dt{n}" for n in FSPS),
    ),
    27: ({}, {"ts6": "2021-03-28 01:30:00.000001+00"}, ("ts6",)),
    28: ({"tm": "-00:00:00.000001"}, {"tm": "00:00:00.000001"}, ("tm",)),
    29: ({"tm": "838:59:59"}, {"tm": "838:59:58"}, ("tm",)),
    30: ({"y": 2155}, {"y": 1901}, ("y",)),
    31: ({}, {"txt": "cafe\u0301"}, ("txt",)),  # decomposed: other bytes, same glyphs
    32: ({}, {"txt": "CAFÉ"}, ("txt",)),  # equal under MySQL's _ci collation, still a change
    33: ({}, {"txt": "café "}, ("txt",)),  # equal under PAD SPACE, still a change
    34: ({"txt": "ß"}, {"txt": "ss"}, ("txt",)),
    35: ({"txt": "a\u00a0"}, {"txt": "a"}, ("txt",)),
    36: ({}, {"ch": "Ab"}, ("ch",)),
    37: ({}, {"vb": b"a"}, ("vb",)),  # a trailing 0x00 dropped
    38: ({}, {"vb": b"a\x00\x00"}, ("vb",)),  # one added
    39: ({}, {"bl": b""}, ("bl",)),
    40: ({}, {"lt": LONG[:-1] + "y"}, ("lt",)),  # the 100,000th character
    41: ({}, {"e": "b"}, ("e",)),
    42: ({}, {"s": ["z", "y"]}, ("s",)),
    43: ({}, {"bt": "00100"}, ("bt",)),
    44: ({}, {"ub": 2**63 + 1}, ("ub",)),
    # strings forged from the row hash's own separator, length prefix and NULL marker
    45: ({"t1": "a|b", "t2": "c"}, {"t1": "a", "t2": "b|c"}, ("t1", "t2")),
    46: ({"t1": "1:a|1:b", "t2": None}, {"t1": "1:a", "t2": "1:b"}, ("t1", "t2")),
    47: ({"t1": None}, {"t1": "N"}, ("t1",)),
    48: ({"t1": ""}, {"t1": None}, ("t1",)),
    49: ({"t1": "", "t2": "1:"}, {"t1": "1:", "t2": ""}, ("t1", "t2")),
    # a swap between two columns of one row
    50: ({"t1": "x", "t2": "y"}, {"t1": "y", "t2": "x"}, ("t1", "t2")),
    # JSON by value: every change of a value, a key or an array's order
    51: ({"j": '{"a": "é"}'}, {"j": '{"a": "e\u0301"}'}, ("j",)),
    52: ({"j": '{"a": 0.1}'}, {"j": '{"a": 0.1000000000000000055511151231257827}'}, ("j",)),
    53: ({"j": '{"a": "1"}'}, {"j": '{"a": 1}'}, ("j",)),
    54: ({"j": '{"a": null}'}, {"j": "{}"}, ("j",)),
    55: ({"j": '{"a": 9007199254740993}'}, {"j": '{"a": 9007199254740992}'}, ("j",)),
    56: ({"j": "null"}, {"j": None}, ("j",)),  # JSON's null is not SQL's NULL
    57: ({"j": '{"a": true}'}, {"j": '{"a": 1}'}, ("j",)),
}


def _wide_rows() -> tuple[list[Row], list[Row], Found]:
    mysql_rows, pg_rows, expected = [], [], {}
    for key, (mine, theirs, columns) in WIDE_CASES.items():
        mysql_row = {**BASE, **mine, "id": key}
        pg_row = {**mysql_row, **theirs}
        mysql_rows.append(mysql_row)
        pg_rows.append({n: _pg_value(n, v) for n, v in pg_row.items()})
        if columns:
            expected[(str(key),)] = ("different", columns)
    return mysql_rows, pg_rows, expected


@pytest.mark.parametrize("threshold", [1, 1000])
def test_tricky_values_equal_in_meaning_are_not_drift_and_every_change_is_found(
    pair: Pair, threshold: int
) -> None:
    mysql_rows, pg_rows, expected = _wide_rows()
    table = pair.create("hrc_wide", WIDE, mysql_rows, pg_rows)
    result = pair.compare(table, threshold=threshold)
    assert found(result) == expected
    assert result.stats.rows_mysql == result.stats.rows_postgres == len(WIDE_CASES)


def test_instants_written_at_other_utc_offsets_are_equal_and_an_hour_off_is_found(
    pair: Pair,
) -> None:
    """A TIMESTAMP written in a +02:00 session around a DST change and a DATETIME mapped to
    timestamptz, against PostgreSQL values written with other offsets: reconcile reads both
    at UTC. An hour off (a DST mistake) and 1 us are changes."""
    cols = [
        Col("id", "int", "integer"),
        Col("ts", "timestamp(6) NULL", "timestamptz(6)", "timestamp(6)"),
        Col("dtz", "datetime(6) NULL", "timestamptz(6)", "datetime(6)"),
    ]
    table = pair.create("hrc_zones", cols, [], [])
    local = [  # MySQL, in a +02:00 session: UTC 00:30 on the nights clocks change in Europe
        {"id": 1, "ts": "2021-03-28 02:30:00", "dtz": "2021-03-28 00:30:00"},
        {"id": 2, "ts": "2021-10-31 02:30:00.000001", "dtz": "2021-10-31 00:30:00.000001"},
        {"id": 3, "ts": "2021-10-31 02:30:00", "dtz": "2021-10-31 00:30:00"},
        {"id": 4, "ts": "2038-01-19 05:14:07.999999", "dtz": "1000-01-01 00:00:00"},
        {"id": 5, "ts": "2021-10-31 02:30:00", "dtz": "2021-10-31 00:30:00"},
    ]
    pair.insert_mysql("hrc_zones", cols, local, session=["SET time_zone = '+02:00'"])
    theirs = [
        {"id": 1, "ts": "2021-03-27 20:30:00-04", "dtz": "2021-03-28 05:30:00+05"},
        {"id": 2, "ts": "2021-10-31 00:30:00.000001Z", "dtz": "2021-10-30 23:30:00.000001-01"},
        {"id": 3, "ts": "2021-10-31 01:30:00+00", "dtz": "2021-10-31 00:30:00.000001+00"},
        {"id": 4, "ts": "2038-01-19 03:14:07.999999+00", "dtz": "1000-01-01 00:00:00+00"},
        {"id": 5, "ts": "2021-10-31 00:30:00+00", "dtz": "2021-10-31 00:30:00+00"},
    ]
    pair.insert_pg("hrc_zones", cols, theirs)
    result = pair.compare(table)
    assert found(result) == {("3",): ("different", ("ts", "dtz"))}


@pytest.mark.parametrize(
    ("policy", "sentinel_pg"),
    [
        (ValuePolicy(zero_dates="null"), None),
        (ValuePolicy(zero_dates="sentinel"), "-infinity"),
        (ValuePolicy(zero_dates="sentinel", zero_date_sentinel="0001-01-01"), "0001-01-01"),
    ],
    ids=["null", "sentinel-infinity", "sentinel-0001"],
)
def test_zero_dates_follow_each_policy_in_date_datetime3_and_timestamp(
    pair: Pair, policy: ValuePolicy, sentinel_pg: str | None
) -> None:
    specs = [
        ("d", "date NULL", "date", "date", "date"),
        ("dt", "datetime(3) NULL", "timestamp(3)", "datetime(3)", "datetime"),
        ("ts", "timestamp NULL", "timestamptz(0)", "timestamp", "timestamp"),
    ]
    cols = [Col("id", "int", "integer")] + [
        Col(n, my, pg, ct, zero_date=zero_date_text(kind, policy)) for n, my, pg, ct, kind in specs
    ]
    zero = {"d": "0000-00-00", "dt": "0000-00-00 00:00:00.000", "ts": "0000-00-00 00:00:00"}
    real = {"d": "2000-01-01", "dt": "2000-01-01 00:00:00.100", "ts": "2000-01-01 00:00:00"}
    real_pg = {"d": "2000-01-01", "dt": "2000-01-01 00:00:00.1", "ts": "2000-01-01 00:00:00+00"}
    stored = None
    if sentinel_pg is not None:
        stored = {"d": sentinel_pg, "dt": sentinel_pg, "ts": sentinel_pg}
        if sentinel_pg[0].isdigit():
            stored["ts"] = sentinel_pg + " 00:00:00+00"
    nulls: Row = {"d": None, "dt": None, "ts": None}
    sentinel = stored or nulls
    rows = {  # id -> (MySQL, PostgreSQL, differs)
        1: (zero, sentinel, False),  # what the stream stores for the zero date
        2: (nulls, nulls, False),
        3: (real, real_pg, False),
        4: (zero, real_pg, True),
        5: (zero, nulls, stored is not None),  # the sentinel is missing
        6: (nulls, sentinel, stored is not None),  # a NULL is not the zero date
    }
    table = pair.create(
        "hrc_zero",
        cols,
        [{"id": k, **mine} for k, (mine, _, _) in rows.items()],
        [{"id": k, **theirs} for k, (_, theirs, _) in rows.items()],
    )
    result = pair.compare(table)
    assert found(result) == {
        (str(k),): ("different", ("d", "dt", "ts"))
        for k, (_, _, differs) in rows.items()
        if differs
    }


# --- keys -----------------------------------------------------------------------------------

# (MySQL key type, PostgreSQL key type, pg cast, MySQL key values, PostgreSQL's same values)
KEY_TYPES: list[tuple[str, str, str, list[Any], list[Any] | None]] = [
    ("enum('b','a','c')", "text", "", ["b", "a", "c"], None),
    ("time(6)", "interval", "", ["-838:59:59.999999", "-00:00:00.000001", "100:00:00.5"], None),
    ("time", "time", "", ["01:00:00", "00:00:01", "23:59:59"], None),
    ("date", "date", "", ["2020-01-01", "1000-01-01", "9999-12-31"], None),
    ("datetime(3)", "timestamp(3)", "", ["2020-01-01 00:00:00.5", "2020-01-01 00:00:00"], None),
    (
        "datetime(6)",
        "timestamp(6)",
        "",
        ["1000-01-01 00:00:00.000001", "9999-12-31 23:59:59.999999"],
        None,
    ),
    (
        "timestamp(6)",
        "timestamptz(6)",
        "",
        ["2021-03-28 01:00:00", "2020-01-01 00:00:00.000001"],
        ["2021-03-28 01:00:00+00", "2020-01-01 00:00:00.000001+00"],
    ),
    ("decimal(10,2)", "numeric(10,2)", "", ["1.50", "-1.00", "0.00"], None),
    ("binary(4)", "bytea", "", [b"ab\x00\x00", b"\x00" * 4, b"\xff" * 4], None),
    ("varbinary(4)", "bytea", "", [b"ab", b"ab\x00", b""], None),
    ("year", "smallint", "", [2000, 1901, 2155], None),
    ("varchar(10)", "varchar(10)", "", ["a", "B", "é"], None),
    ("char(4)", "varchar(4)", "", ["a", "B", "é"], None),
    ("bigint unsigned", "numeric(20,0)", "", [0, 2**63, 2**64 - 1], None),
    ("double", "double precision", "", [0.1, 1e-300, 123456789.123], None),
]


@pytest.mark.parametrize(
    ("mysql_type", "pg_type", "cast", "values", "pg_values"),
    KEY_TYPES,
    ids=[k[0] for k in KEY_TYPES],
)
def test_a_key_of_each_type_finds_every_changed_row(
    pair: Pair,
    mysql_type: str,
    pg_type: str,
    cast: str,
    values: list[Any],
    pg_values: list[Any] | None,
) -> None:
    """Rows are looked up by the other side's driver values: every changed row is reported."""
    cols = [Col("k", mysql_type, pg_type, pg_cast=cast), Col("v", "int", "integer")]
    table = pair.create(
        "hrc_key",
        cols,
        [{"k": k, "v": 1} for k in values],
        [{"k": k, "v": 2} for k in pg_values or values],
        key=("k",),
    )
    result = pair.compare(table, threshold=1000)
    assert [(d.drift, d.columns) for d in result.diffs] == [("different", ("v",))] * len(values)


def test_string_keys_that_differ_only_in_case_or_a_trailing_space_are_missing_and_extra(
    pair: Pair,
) -> None:
    """Under utf8mb4_unicode_ci (PAD SPACE) MySQL takes 'Abc' = 'abc' and 'x' = 'x ', but they
    are other keys: each is reported on its own side; a composite key alike."""
    cols = [Col("k", "varchar(20)", "varchar(20)"), Col("v", "int", "integer")]
    table = pair.create(
        "hrc_skey",
        cols,
        [{"k": k, "v": 1} for k in ("Abc", "x", "t ", "same")],
        [{"k": k, "v": 1} for k in ("abc", "x ", "t", "same", "SAME")],
        key=("k",),
    )
    assert found(pair.compare(table)) == {
        ("Abc",): ("missing", ()),
        ("abc",): ("extra", ()),
        ("x",): ("missing", ()),
        ("x ",): ("extra", ()),
        ("t ",): ("missing", ()),
        ("t",): ("extra", ()),
        ("SAME",): ("extra", ()),
    }
    composite = [
        Col("k1", "varchar(5)", "varchar(5)"),
        Col("k2", "char(3)", "varchar(3)"),
        Col("v", "int", "integer"),
    ]
    table = pair.create(
        "hrc_ckey",
        composite,
        [{"k1": "a", "k2": "b", "v": 1}, {"k1": "a", "k2": "c", "v": 1}],
        [{"k1": "a", "k2": "B", "v": 1}, {"k1": "a", "k2": "c", "v": 2}],
        key=("k1", "k2"),
    )
    assert found(pair.compare(table)) == {
        ("a", "b"): ("missing", ()),
        ("a", "B"): ("extra", ()),
        ("a", "c"): ("different", ("v",)),
    }


# --- checksums: differences a SUM of row hashes could cancel ---------------------------------


@pytest.mark.parametrize("key_type", ["int", "varchar(10)"])
def test_swapped_and_repeated_differences_do_not_cancel_in_the_segment_sums(
    pair: Pair, key_type: str
) -> None:
    """Values swapped between two rows of one segment or of two segments, the same change in
    two segments, and a row moved to another key in one segment (same count, the same values
    under another key): all reported, with the default segment sizes."""
    integer = key_type == "int"

    def key(i: int) -> Any:
        return i if integer else f"k{i:05d}"

    cols = [
        Col("k", key_type, "integer" if integer else "varchar(10)"),
        Col("a", "varchar(20)", "varchar(20)"),
        Col("b", "int", "integer"),
    ]
    mysql_rows = [{"k": key(i), "a": f"row {i}", "b": i % 7} for i in range(1, 3001)]
    theirs = {r["k"]: dict(r) for r in mysql_rows}
    for x, y in ((400, 401), (5, 2990)):  # one segment; two segments
        theirs[key(x)]["a"], theirs[key(y)]["a"] = theirs[key(y)]["a"], theirs[key(x)]["a"]
    for i in (50, 1500):  # the same change twice
        theirs[key(i)]["b"] += 1
    moved = theirs.pop(key(700))  # same segment, same values, another key
    theirs[key(3700 if integer else 700_00)] = {**moved, "k": key(3700 if integer else 700_00)}
    table = pair.create(
        f"hrc_sums_{'i' if integer else 's'}", cols, mysql_rows, list(theirs.values()), ("k",)
    )
    result = pair.compare(table, threshold=1000, segment_rows=500)
    moved_to = str(key(3700 if integer else 700_00))
    assert found(result) == {
        (str(key(400)),): ("different", ("a",)),
        (str(key(401)),): ("different", ("a",)),
        (str(key(5)),): ("different", ("a",)),
        (str(key(2990)),): ("different", ("a",)),
        (str(key(50)),): ("different", ("b",)),
        (str(key(1500)),): ("different", ("b",)),
        (str(key(700)),): ("missing", ()),
        (moved_to,): ("extra", ()),
    }


# --- bugs ---------------------------------------------------------------------------------------


def test_rows_with_a_float_key_that_differ_are_reported(pair: Pair) -> None:
    """FALSE NEGATIVE. mysqlclient reads a FLOAT key as the 6-digit number MySQL prints
    (0.001) and psycopg reads a real the same way, so the look-up of the suspects' rows by
    those values (``WHERE k IN (0.001)``) finds nothing on either side: the FLOAT's value is
    0.0010000000474974513. ``classify`` takes two absent rows for 'deleted on both sides
    meanwhile' and drops them; the run says in_sync."""
    cols = [Col("k", "float", "real"), Col("v", "int", "integer")]
    keys = [0.5, 0.001, 0.1, 3.0]
    table = pair.create(
        "hrc_float_key",
        cols,
        [{"k": k, "v": 1} for k in keys],
        [{"k": k, "v": 2 if k in (0.001, 0.1) else 1} for k in keys],
        key=("k",),
    )
    result = pair.compare(table, threshold=1000)
    assert result.suspects == 2  # the row hashes did see both rows differ ...
    # ... and both are lost in the look-up
    assert [(d.drift, d.columns) for d in result.diffs] == [("different", ("v",))] * 2


def test_a_reconcile_run_reports_a_float_key_table_in_sync_while_rows_differ(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    """The same false negative through a whole run from a mapping, as the DAG runs it."""
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        "CREATE TABLE hrc_readings (k float PRIMARY KEY, note varchar(20))",
        "INSERT INTO hrc_readings VALUES (0.5, 'same'), (0.1, 'mysql'), (0.2, 'mysql')",
    )
    pg_exec(
        pg_db,
        "CREATE TABLE hrc_readings (k real PRIMARY KEY, note varchar(20))",
        "INSERT INTO hrc_readings VALUES (0.5, 'same'), (0.1, 'postgres'), (0.2, 'postgres')",
    )
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping = {
        "source": f"{mysql_db.database}.hrc_readings",
        "target": "public.hrc_readings",
        "key": ["k"],
        "columns": [
            {"name": "k", "column_type": "float", "nullable": False},
            {"name": "note", "column_type": "varchar(20)", "nullable": True},
        ],
    }
    (folder / "tables.yaml").write_text(yaml.safe_dump([mapping]))
    ends = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0)
    run, json_path, _ = reconcile_all(ends, params, folder=tmp_path / "reports")
    (table,) = run["tables"]
    assert json.loads(json_path.read_text())["run_id"] == run["run_id"]
    assert table["status"] == "drift", table
    assert table["drift"] == {"missing": 0, "extra": 0, "different": 2}


def test_a_double_key_both_engines_print_differently_is_not_drift(pair: Pair) -> None:
    """FALSE POSITIVE. The key text of a DOUBLE is each engine's own shortest digits, and they
    disagree (PostgreSQL prints the double 1e23 as 9.999999999999999e+22, MariaDB as 1e23):
    the same row has two key texts, so it is reported missing and extra on every run (and a
    repair would delete PostgreSQL's row and insert MySQL's). Its real change (2e23) must be
    reported as different, once."""
    cols = [Col("k", "double", "double precision"), Col("v", "int", "integer")]
    keys = [1e23, 2e23, 0.5]
    table = pair.create(
        "hrc_double_key",
        cols,
        [{"k": k, "v": 1} for k in keys],
        [{"k": k, "v": 2 if k == 2e23 else 1} for k in keys],
        key=("k",),
    )
    result = pair.compare(table, threshold=1000)
    assert [(d.drift, d.columns) for d in result.diffs] == [("different", ("v",))]


def test_identical_doubles_are_not_drift_when_the_database_sets_extra_float_digits(
    pair: Pair,
) -> None:
    """FALSE POSITIVE. reconcile's PostgreSQL sessions pin TimeZone and DateStyle but not
    extra_float_digits: under a database (or role, or server) default of 0, PostgreSQL prints
    and psycopg reads a double with 15 significant digits, so at double_digits 17 (exact) the
    same 0.30000000000000004 on both sides reads as 0.3 on one and is reported different."""
    pg_exec(pair.pg, f'ALTER DATABASE "{pair.pg.database}" SET extra_float_digits = 0')
    cols = [Col("id", "int", "integer"), Col("d", "double", "double precision")]
    rows = [{"id": 1, "d": 0.1 + 0.2}, {"id": 2, "d": 1 / 3}, {"id": 3, "d": 1.0}]
    table = pair.create("hrc_efd", cols, rows, rows)
    assert found(pair.compare(table)) == {}


@pytest.mark.parametrize(
    ("mysql_type", "pg_type", "cast", "mysql_values", "pg_values"),
    [
        ("bit(8)", "bit varying(8)", "varbit", [1, 5, 255], ["00000001", "00000101", "11111111"]),
        ("tinyint(1)", "boolean", "", [0, 1], [False, True]),
        ("bit(1)", "boolean", "", [0, 1], [False, True]),
    ],
    ids=["bit8", "tinyint1", "bit1"],
)
def test_a_bit_or_boolean_key_with_drift_can_be_compared(
    pair: Pair,
    mysql_type: str,
    pg_type: str,
    cast: str,
    mysql_values: list[Any],
    pg_values: list[Any],
) -> None:
    """FAILS THE TABLE. The suspects' rows are looked up on each side with the other driver's
    key values, which ``key_param`` passes through unchanged for these kinds: PostgreSQL
    refuses ``bit varying = bytea`` (mysqlclient reads a BIT as bytes), ``boolean =
    smallint`` (a tinyint(1)) and ``boolean = bytea`` (a BIT(1)), so any drift in such a table
    (the key alone, or a part of a composite key) ends the comparison with an error."""
    cols = [
        Col("id", "int", "integer"),
        Col("flag", mysql_type, pg_type, pg_cast=cast),
        Col("v", "int", "integer"),
    ]
    table = pair.create(
        "hrc_flag_key",
        cols,
        [{"id": 1, "flag": f, "v": 1} for f in mysql_values],
        [{"id": 1, "flag": f, "v": 2 if i == 1 else 1} for i, f in enumerate(pg_values)],
        key=("id", "flag"),
    )
    result = pair.compare(table)
    assert [(d.drift, d.columns) for d in result.diffs] == [("different", ("v",))]


def test_a_set_key_part_with_drift_can_be_compared(pair: Pair) -> None:
    """FAILS THE TABLE. psycopg reads a text[] key part as a list, and the suspects' raw keys
    are de-duplicated in a dict (``compare._distinct_raw_keys``): TypeError, unhashable type
    'list'. The backfill supports such keys (test_backfill_enum_keys.py)."""
    cols = [
        Col("tags", "set('x','y','z')", "text[]"),
        Col("id", "int", "integer"),
        Col("v", "int", "integer"),
    ]
    table = pair.create(
        "hrc_set_key",
        cols,
        [{"tags": "x,y", "id": 1, "v": 1}, {"tags": "z", "id": 1, "v": 1}],
        [{"tags": ["x", "y"], "id": 1, "v": 2}, {"tags": ["z"], "id": 1, "v": 1}],
        key=("tags", "id"),
    )
    assert found(pair.compare(table)) == {("x,y", "1"): ("different", ("v",))}


def test_bigint_keys_spanning_more_than_2_63_can_be_bisected(pair: Pair) -> None:
    """FAILS THE TABLE. A segment is split by ``(key - lo) / width`` in bigint (PostgreSQL) or
    signed BIGINT (MySQL): over a span of more than 2^63 the subtraction overflows ("bigint
    out of range"). Here a key at each end of the range, and 1,201 rows PostgreSQL holds alone
    in between: with the default segment sizes the one first-level segment must be bisected."""
    cols = [Col("id", "bigint", "bigint"), Col("v", "int", "integer")]
    ends_rows = [{"id": -(2**63), "v": 1}, {"id": 2**63 - 1, "v": 1}]
    extra = [{"id": i, "v": 1} for i in range(-600, 601)]
    table = pair.create("hrc_wide_span", cols, ends_rows, ends_rows + extra)
    result = pair.compare(table, threshold=1000, segment_rows=500)
    assert len(result.diffs) == len(extra)
    assert {d.drift for d in result.diffs} == {"extra"}


def test_rows_a_char_key_text_merges_are_not_lost(pair: Pair) -> None:
    """FALSE NEGATIVE. A MySQL CHAR key maps to a PostgreSQL varchar, and the canonical text
    of a CHAR drops trailing spaces, so PostgreSQL's 'cd' and 'cd  ' (possible on a one-way
    table, which gets no CHECK against trailing spaces) have one key text. ``row_hashes``
    keeps one of them in a dict: the other row is never compared, the counts differ (1 row
    against 2) and the table is in sync. A fix may report the row, or refuse the table naming
    the key: either is acceptable here, silence is not."""
    cols = [Col("k", "char(5)", "varchar(5)"), Col("v", "int", "integer")]
    table = pair.create(
        "hrc_char_key",
        cols,
        [{"k": "cd", "v": 1}],
        [{"k": "cd", "v": 1}, {"k": "cd  ", "v": 1}],
        key=("k",),
    )
    try:
        result = pair.compare(table)
    except ReconcileError as exc:
        refused = str(exc)
    else:
        assert (result.stats.rows_mysql, result.stats.rows_postgres) == (1, 2)
        assert result.diffs, "PostgreSQL's second row 'cd  ' is reported nowhere"
        return
    assert "cd" in refused


def test_a_latin1_key_with_a_postgres_only_value_outside_latin1_can_be_compared(
    pair: Pair,
) -> None:
    """FAILS THE TABLE. A PostgreSQL-only key is looked up in MySQL by its value: 'Ω' against
    a latin1 column raises "Illegal mix of collations" (1267 for one key, 1271 for an IN
    list), so the row is never reported (a one-way table gets no character-set CHECK in
    PostgreSQL, so it can hold such a key)."""
    cols = [
        Col("k", "varchar(5) CHARACTER SET latin1", "varchar(5)", "varchar(5)"),
        Col("v", "int", "integer"),
    ]
    table = pair.create(
        "hrc_latin1_key",
        cols,
        [{"k": "é", "v": 1}, {"k": "x", "v": 1}],
        [{"k": "é", "v": 1}, {"k": "x", "v": 1}, {"k": "Ω", "v": 1}],
        key=("k",),
    )
    assert found(pair.compare(table)) == {("Ω",): ("extra", ())}
