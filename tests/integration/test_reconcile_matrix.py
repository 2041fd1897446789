"""The canonical text of every type in the type map is equal on MariaDB and PostgreSQL for the same
values (zero false positives), and every injected change is found (zero false negatives)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from mysql_pg_sync import dialects
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.bisect import BisectConfig
from mysql_pg_sync.reconcile.compare import CompareConfig, PairSource, compare
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable, canonical_kind
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint

# (name, MySQL type, PostgreSQL type)
COLUMNS = [
    ("id", "bigint", "bigint"),
    ("c_tinyint", "tinyint", "smallint"),
    ("c_bool", "tinyint(1)", "boolean"),
    ("c_smallint_u", "smallint unsigned", "integer"),
    ("c_mediumint", "mediumint", "integer"),
    ("c_int", "int", "integer"),
    ("c_int_u", "int unsigned", "bigint"),
    ("c_bigint", "bigint", "bigint"),
    ("c_bigint_u", "bigint unsigned", "numeric(20,0)"),
    ("c_dec", "decimal(12,2)", "numeric(12,2)"),
    ("c_dec65", "decimal(65,30)", "numeric(65,30)"),
    ("c_float", "float", "real"),
    ("c_double", "double", "double precision"),
    ("c_date", "date", "date"),
    ("c_dt6", "datetime(6)", "timestamp(6)"),
    ("c_dt0", "datetime", "timestamp(0)"),
    ("c_ts", "timestamp(6) NULL", "timestamptz(6)"),
    ("c_time", "time(6)", "time(6)"),
    ("c_year", "year", "smallint"),
    ("c_char", "char(10)", "varchar(10)"),
    ("c_varchar", "varchar(100)", "varchar(100)"),
    ("c_text", "text", "text"),
    ("c_enum", "enum('a','b','c d')", "mps_matrix_enum"),
    ("c_set", "set('x','y','z')", "text[]"),
    ("c_json", "json", "jsonb"),
    ("c_bin", "binary(4)", "bytea"),
    ("c_varbin", "varbinary(16)", "bytea"),
    ("c_blob", "blob", "bytea"),
    ("c_bit", "bit(8)", "bit varying(8)"),
    ("c_bit1", "bit(1)", "boolean"),
    ("c_uuid", "binary(16)", "uuid"),
    ("c_latin1", "varchar(20) CHARACTER SET latin1", "varchar(20)"),
]
U = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")

# One dict per row, MySQL-side values; PostgreSQL values are derived by _pg_value.
ROWS: list[dict[str, Any]] = [
    {"id": 1},  # every other column NULL
    {
        "id": 2,
        "c_tinyint": -128,
        "c_bool": 1,
        "c_smallint_u": 65535,
        "c_mediumint": -8388608,
        "c_int": -2147483648,
        "c_int_u": 4294967295,
        "c_bigint": -9223372036854775808,
        "c_bigint_u": 18446744073709551615,
        "c_dec": Decimal("-9999999999.99"),
        "c_dec65": Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
        "c_float": 0.1,
        "c_double": 0.1 + 0.2,
        "c_date": dt.date(1000, 1, 1),
        "c_dt6": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
        "c_dt0": dt.datetime(1999, 12, 31, 23, 59, 59),
        "c_ts": dt.datetime(2038, 1, 19, 3, 14, 7, 1),
        "c_time": dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=999999),
        "c_year": 2155,
        "c_char": "ab",
        "c_varchar": "",
        "c_text": "",
        "c_enum": "c d",
        "c_set": "x,z",
        "c_json": '{"b": 1, "a": [1, 2.5, "\u00e9\U0001f600"], "c": {"z": null, "y": true}}',
        "c_bin": b"a\x00\x00\x00",
        "c_varbin": b"\x00\x01\x00\x00",
        "c_blob": b"",
        "c_bit": 255,
        "c_bit1": 1,
        "c_uuid": U.bytes,
        "c_latin1": "café ß",
    },
    {
        "id": 3,
        "c_tinyint": 127,
        "c_bool": 0,
        "c_smallint_u": 0,
        "c_mediumint": 8388607,
        "c_int": 2147483647,
        "c_int_u": 0,
        "c_bigint": 9223372036854775807,
        "c_bigint_u": 0,
        "c_dec": Decimal("0.01"),
        "c_dec65": Decimal("-0.000000000000000000000000000001"),
        "c_float": -3.4028234663852886e38,
        "c_double": 1.7976931348623157e308,
        "c_date": dt.date(9999, 12, 31),
        "c_dt6": dt.datetime(1000, 1, 1, 0, 0, 0, 1),
        "c_dt0": dt.datetime(2000, 1, 1),
        "c_ts": dt.datetime(1970, 1, 1, 0, 0, 1),
        "c_time": dt.timedelta(0),
        "c_year": 1901,
        "c_char": "tab\there",
        "c_varchar": "trailing space ",
        "c_text": "emoji \U0001f600\U0001f9d1\u200d\U0001f4bb and \\ backslash\nnewline",
        "c_enum": "a",
        "c_set": "",
        "c_json": "[]",
        "c_bin": b"\xff\xff\xff\xff",
        "c_varbin": b"",
        "c_blob": bytes(range(256)),
        "c_bit": 0,
        "c_bit1": 0,
        "c_uuid": bytes(16),
    },
    {
        "id": 4,
        "c_double": 5e-324,
        "c_float": 1.17549435e-38,
        "c_dec": Decimal("123.40"),
        "c_varchar": "N",
        "c_text": "|",
        "c_char": "\U0001f600",
        "c_json": '{"a":"x","b":{"d":1,"c":[{"f":2,"e":3}]}}',
        "c_set": "z,y,x",
        "c_enum": "b",
        "c_bit": 1,
    },
    {
        "id": 5,
        "c_double": 123456789012345678.0,
        "c_float": 16777216.0,
        "c_json": '"plain"',
        "c_text": "'quoted' \"double\"",
    },
    {"id": 6, "c_double": -1.5e-7, "c_float": 1e-10, "c_json": "1.0", "c_varchar": "2:ab"},
    {"id": 7, "c_double": 1e23, "c_float": 3.0, "c_json": '{"k": 1e2}'},
    {"id": 8, "c_double": 1 / 3, "c_float": 0.3, "c_json": '{"\u00e9": "\\u00e9"}'},
]


def _pg_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name in ("c_bool", "c_bit1"):
        return bool(value)
    if name == "c_set":
        return [m for m in value.split(",") if m]
    if name == "c_bit":
        return format(value, "08b")
    if name == "c_uuid":
        return uuid.UUID(bytes=value)
    if name == "c_ts":
        return value.replace(tzinfo=dt.UTC)
    return value


def _create(mysql: DatabaseEndpoint, pg: DatabaseEndpoint, table: str) -> None:
    cols = ", ".join(f"`{n}` {t}" for n, t, _ in COLUMNS)
    with mysql_connect(mysql, autocommit=True) as conn:
        conn.cursor().execute(f"CREATE TABLE `{table}` ({cols}, PRIMARY KEY (id))")
    with pg_connect(pg, autocommit=True) as conn:
        conn.execute("CREATE TYPE mps_matrix_enum AS ENUM ('a', 'b', 'c d')")
        pg_cols = ", ".join(f'"{n}" {t}' for n, _, t in COLUMNS)
        conn.execute(f'CREATE TABLE "{table}" ({pg_cols}, PRIMARY KEY (id))')  # type: ignore[arg-type]


def _load(
    mysql: DatabaseEndpoint | None,
    pg: DatabaseEndpoint | None,
    table: str,
    rows: list[dict[str, Any]],
) -> None:
    names = [n for n, _, _ in COLUMNS]
    if mysql is not None:
        _load_mysql(mysql, table, rows, names)
    if pg is not None:
        _load_pg(pg, table, rows, names)


def _load_mysql(
    mysql: DatabaseEndpoint, table: str, rows: list[dict[str, Any]], names: list[str]
) -> None:
    with mysql_connect(mysql, autocommit=True) as conn:
        cols, marks = ", ".join(f"`{n}`" for n in names), ", ".join(["%s"] * len(names))
        conn.cursor().executemany(
            f"INSERT INTO `{table}` ({cols}) VALUES ({marks})",
            [tuple(r.get(n) for n in names) for r in rows],
        )


def _load_pg(
    pg: DatabaseEndpoint, table: str, rows: list[dict[str, Any]], names: list[str]
) -> None:
    with pg_connect(pg, autocommit=True) as conn, conn.cursor() as cur:
        placeholders = ", ".join(
            "%s::mps_matrix_enum" if n == "c_enum" else "%s::varbit" if n == "c_bit" else "%s"
            for n in names
        )
        cols = ", ".join(f'"{n}"' for n in names)
        cur.executemany(
            f'INSERT INTO "{table}" ({cols}) VALUES ({placeholders})',  # type: ignore[arg-type]
            [tuple(_pg_value(n, r.get(n)) for n in names) for r in rows],
        )


def _table(
    mysql: DatabaseEndpoint, pg: DatabaseEndpoint, name: str, double_digits: int = 17
) -> ReconcileTable:
    columns = []
    for n, mysql_type, pg_type in COLUMNS:
        kind, scale, digits = canonical_kind(
            mysql_type.replace(" NULL", "").replace(" CHARACTER SET latin1", ""),
            pg_type,
            float_digits=6,
            double_digits=double_digits,
        )
        members = ("a", "b", "c d") if n == "c_enum" else ("x", "y", "z") if n == "c_set" else ()
        columns.append(CompareColumn(n, n, kind, pg_type, scale, digits, members))
    return ReconcileTable(name, mysql.database, name, "public", name, tuple(columns), ("id",))


@pytest.fixture
def pair(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> Iterator[tuple[DatabaseEndpoint, DatabaseEndpoint]]:
    admin = replace(mysql_admin, database=mysql_db.database)
    _create(admin, pg_db, "matrix")
    _load(admin, pg_db, "matrix", ROWS)
    return mysql_db, pg_db


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


def _compare(mysql, pg, table: ReconcileTable, executor: ThreadPoolExecutor, threshold: int = 2):
    source = PairSource(
        TableSide("mysql", dialects.mysql, table, ConnectionPool(lambda: mysql_connect(mysql), 2)),
        TableSide("postgres", dialects.postgres, table, ConnectionPool(lambda: pg_connect(pg), 2)),
        executor,
    )
    source.both(lambda side: side.check_schema())  # learns the MySQL character sets
    config = CompareConfig(segment_rows=4, bisect=BisectConfig(factor=2, threshold=threshold))
    return compare(source, config, map), source


def test_every_type_has_the_same_canonical_text_on_both_sides(pair, executor) -> None:
    mysql, pg = pair
    table = _table(mysql, pg, "matrix")
    result, source = _compare(mysql, pg, table, executor)
    keys = [(r["id"],) for r in ROWS]
    left, right = source.canonical_rows(keys)
    texts_differ = {
        (k, col): (left[k].texts[col], right[k].texts[col])
        for k in left
        for col in left[k].texts
        if col != "c_json" and left[k].texts[col] != right[k].texts[col]
    }
    assert texts_differ == {}
    assert len(left) == len(right) == len(ROWS)
    assert result.diffs == []
    # id 7 holds 1e23, which PostgreSQL prints as 9.999999999999999e+22: same double, so only the
    # hash differs and the row-level comparison on the doubles clears it
    assert result.hash_only == 1
    assert result.stats.rows_mysql == result.stats.rows_postgres == len(ROWS)


def _variants() -> tuple[
    list[dict[str, Any]], list[dict[str, Any]], dict[str, tuple[str, tuple[str, ...]]]
]:
    """MySQL rows, PostgreSQL rows with injected changes, and the differences expected."""
    base2, base3 = ROWS[1], ROWS[2]
    changes: list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
        (base2, {"c_dt6": base2["c_dt6"] - dt.timedelta(microseconds=1)}, ("c_dt6",)),
        (base2, {"c_ts": base2["c_ts"] + dt.timedelta(microseconds=1)}, ("c_ts",)),
        (base3, {"c_dec": base3["c_dec"] + Decimal("0.01")}, ("c_dec",)),
        (base2, {"c_int": None}, ("c_int",)),
        (base2, {"c_varchar": None}, ("c_varchar",)),  # '' -> NULL
        (base3, {"c_varchar": "trailing space  "}, ("c_varchar",)),
        (base3, {"c_text": base3["c_text"].replace("\U0001f600", "\U0001f601")}, ("c_text",)),
        # re-ordered keys *and* a changed value: a difference
        (
            base2,
            {"c_json": '{"c": {"y": true, "z": null}, "a": [1, 2.5, "\u00e9\U0001f601"], "b": 1}'},
            ("c_json",),
        ),
        # a true/1 swap keeps every byte count: still a difference
        (
            base2,
            {"c_json": '{"b": 1, "a": [1, 2.5, "\u00e9\U0001f600"], "c": {"z": null, "y": 1}}'},
            ("c_json",),
        ),
        (
            base2,
            {"c_double": 0.30000000000000004 + 5.551115123125783e-17},
            ("c_double",),
        ),  # last bit
        (base2, {"c_varbin": b"\x00\x01\x00"}, ("c_varbin",)),  # a trailing zero byte dropped
        (base2, {"c_bin": b"b\x00\x00\x00"}, ("c_bin",)),
        (base2, {"c_enum": "b", "c_set": "x,y,z"}, ("c_enum", "c_set")),
        (base2, {"c_bigint_u": 18446744073709551614, "c_bit": 254}, ("c_bigint_u", "c_bit")),
        (base2, {"c_bool": 0, "c_bit1": 0, "c_year": 2154}, ("c_bool", "c_year", "c_bit1")),
        (
            base2,
            {
                "c_dec65": Decimal(
                    "12345678901234567890123456789012345.123456789012345678901234567891"
                )
            },
            ("c_dec65",),
        ),
        (base2, {"c_float": 0.100001}, ("c_float",)),  # the 6th significant digit of a FLOAT
        (
            base3,
            {"c_time": dt.timedelta(microseconds=1), "c_date": dt.date(9999, 12, 30)},
            ("c_date", "c_time"),
        ),
        (base3, {"c_char": "tab\there!"}, ("c_char",)),
        (base2, {"c_latin1": "cafe ß"}, ("c_latin1",)),
    ]
    equal_in_meaning: list[tuple[dict[str, Any], dict[str, Any]]] = [
        (
            base2,
            {
                "c_json": '{"c": {"y": true, "z": null}, "b": 1.0, '
                '"a": [1, 2.50, "\u00e9\U0001f600"]}'
            },
        ),
        (base2, {"c_set": "z,x"}),  # set members in another order in text[]
        (base2, {"c_char": "ab   "}),  # CHAR padding in a PostgreSQL varchar
        (base2, {"c_double": 0.30000000000000004}),
        (base2, {"c_float": 0.10000001}),  # another float4, equal at FLOAT's 6 declared digits
    ]
    mysql_rows, pg_rows, expected = [dict(r) for r in ROWS], [dict(r) for r in ROWS], {}
    for i, (base, change, cols) in enumerate(changes):
        key = 100 + i
        mysql_rows.append({**base, "id": key})
        pg_rows.append({**base, **change, "id": key})
        expected[str(key)] = ("different", cols)
    for i, (base, change) in enumerate(equal_in_meaning):
        mysql_rows.append({**base, "id": 200 + i})
        pg_rows.append({**base, **change, "id": 200 + i})
    mysql_rows.append({**base3, "id": 300})  # deleted in PostgreSQL
    expected["300"] = ("missing", ())
    pg_rows.append({**base3, "id": 301})  # inserted in PostgreSQL only
    expected["301"] = ("extra", ())
    return mysql_rows, pg_rows, expected


@pytest.fixture
def injected(mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint):
    admin = replace(mysql_admin, database=mysql_db.database)
    mysql_rows, pg_rows, expected = _variants()
    _create(admin, pg_db, "matrix")
    _load(admin, None, "matrix", mysql_rows)
    _load(None, pg_db, "matrix", pg_rows)
    return mysql_db, pg_db, expected


@pytest.mark.parametrize("threshold", [1, 1000])
def test_every_injected_change_is_found_and_nothing_else(injected, executor, threshold) -> None:
    mysql, pg, expected = injected
    result, _ = _compare(mysql, pg, _table(mysql, pg, "matrix"), executor, threshold)
    found = {d.key[0]: (d.drift, d.columns) for d in result.diffs}
    assert found == expected


def test_a_last_bit_double_change_is_not_drift_at_15_digits(injected, executor) -> None:
    mysql, pg, expected = injected
    result, _ = _compare(mysql, pg, _table(mysql, pg, "matrix", double_digits=15), executor)
    found = {d.key[0]: (d.drift, d.columns) for d in result.diffs}
    last_bit = next(k for k, v in expected.items() if v == ("different", ("c_double",)))
    assert last_bit not in found
    assert len(found) == len(expected) - 1


def test_string_keys_and_json_by_value(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, executor
) -> None:
    """A composite string key (hash-bucket segments) with JSON compared client-side."""
    docs = {
        ("a", "x"): ('{"k": 1, "j": [1, 2]}', '{"j": [1, 2], "k": 1}'),  # reordered: equal
        ("b", "x"): ('{"k": 1}', '{"k": 2}'),
        ("d", "x"): ('{"k": "é"}', '{"k": "\\u00e9"}'),  # escaped: equal
        ("c", "y"): ("[1, 2]", "[2, 1]"),
    }
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE docs (k1 varchar(5), k2 char(1), doc json, PRIMARY KEY (k1, k2))")
        cur.executemany(
            "INSERT INTO docs VALUES (%s, %s, %s)", [(*k, v[0]) for k, v in docs.items()]
        )
    with pg_connect(pg_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE docs (k1 varchar(5), k2 varchar(1), doc jsonb, PRIMARY KEY (k1, k2))"
        )
        cur.executemany(
            "INSERT INTO docs VALUES (%s, %s, %s)", [(*k, v[1]) for k, v in docs.items()]
        )
    table = ReconcileTable(
        "docs",
        mysql_db.database,
        "docs",
        "public",
        "docs",
        (
            CompareColumn("k1", "k1", "text", "varchar(5)"),
            CompareColumn("k2", "k2", "char", "varchar(1)"),
            CompareColumn("doc", "doc", "json", "jsonb"),
        ),
        ("k1", "k2"),
    )
    result, _ = _compare(mysql_db, pg_db, table, executor)
    assert table.ordinal == "hash"
    assert {d.key: (d.drift, d.columns) for d in result.diffs} == {
        ("b", "x"): ("different", ("doc",)),
        ("c", "y"): ("different", ("doc",)),
    }


def test_a_binary16_key_mapped_to_uuid_finds_and_names_each_difference(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    executor: ThreadPoolExecutor,
) -> None:
    """MySQL keeps a UUID key as binary(16), PostgreSQL as uuid: hash-bucket segments and the
    row comparison must see the same key on both sides, and report it as the key's hex."""
    keys = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128)) for i in range(1, 61)]
    rows = {k: f"row {i}" for i, k in enumerate(keys)}
    missing, changed, extra = keys[7], keys[31], uuid.UUID(int=1 << 127)
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE ukeys (id binary(16) PRIMARY KEY, label varchar(20))")
        cur.executemany(
            "INSERT INTO ukeys VALUES (%s, %s)", [(k.bytes, v) for k, v in rows.items()]
        )
    pg_rows = {k: v for k, v in rows.items() if k != missing} | {changed: "changed", extra: "new"}
    with pg_connect(pg_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE ukeys (id uuid PRIMARY KEY, label varchar(20))")
        cur.executemany("INSERT INTO ukeys VALUES (%s, %s)", list(pg_rows.items()))
    kind, _, _ = canonical_kind("binary(16)", "uuid")
    table = ReconcileTable(
        "ukeys",
        mysql_db.database,
        "ukeys",
        "public",
        "ukeys",
        (
            CompareColumn("id", "id", kind, "uuid"),
            CompareColumn("label", "label", "text", "varchar(20)"),
        ),
        ("id",),
    )
    result, _ = _compare(mysql_db, pg_db, table, executor)
    assert table.ordinal == "hash"
    assert {d.key: (d.drift, d.columns) for d in result.diffs} == {
        (missing.hex.upper(),): ("missing", ()),
        (changed.hex.upper(),): ("different", ("label",)),
        (extra.hex.upper(),): ("extra", ()),
    }
    assert result.stats.rows_mysql == len(rows)
    assert result.stats.rows_postgres == len(pg_rows)
