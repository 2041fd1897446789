"""The type matrix on the real servers: every value goes MySQL -> PostgreSQL -> MySQL unchanged.

One MySQL table holds one column per case and one row per edge value. The mapping is generated
from its information_schema, the PostgreSQL table is created by the DDL planner, rows cross with
the per-value converters, and a copy of the table comes back to MySQL and must equal the source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.ddl import apply_ddl, plan_ddl
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.generate import GenerateOptions, generate
from mysql_pg_sync.mapping.introspect import read_tables
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, TargetTable
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.arrow import select_list, to_pg_table
from mysql_pg_sync.types.arrow_reverse import select_list as reverse_select_list
from mysql_pg_sync.types.arrow_reverse import to_mysql_table
from mysql_pg_sync.types.convert import Stats, row_to_mysql, row_to_pg
from mysql_pg_sync.types.drivers import mysql_conv, register_pg_loaders


@dataclass(frozen=True)
class Case:
    column: str
    column_type: str
    values: tuple[str, ...]  # MySQL SQL literals, one row each
    pg_type: str = ""  # override of the type map's default
    compare: str = "exact"  # exact | json (semantic JSON equality)


CASES = (
    Case("b", "tinyint(1)", ("0", "1")),
    Case("ti", "tinyint(3) unsigned", ("0", "255")),
    Case("si", "smallint(5) unsigned", ("65535",)),
    Case("mi", "mediumint(9)", ("-8388608", "8388607")),
    Case("i", "int(11)", ("-2147483648", "2147483647")),
    Case("ui", "int(10) unsigned", ("4294967295",)),
    Case("bi", "bigint(20)", ("-9223372036854775808", "9223372036854775807")),
    Case("ub", "bigint(20) unsigned", ("18446744073709551615", "0")),
    Case(
        "d65",
        "decimal(65,30)",
        (
            "'12345678901234567890123456789012345.123456789012345678901234567890'",
            "'-0.000000000000000000000000000001'",
        ),
    ),
    Case("d", "decimal(12,2)", ("12.34", "-9999999999.99")),
    Case(  # more digits than connectorx's 96-bit decimal holds, below decimal128's 38
        "d38",
        "decimal(38,10)",
        ("'-1234567890123456789012345678.1234567891'", "'0.0000000001'"),
    ),
    Case("f", "float", ("0.1", "-3.40282e38", "1.17549e-38")),
    Case("dbl", "double", ("0.1", "1.7976931348623157e308", "-2.2250738585072014e-308")),
    Case("ch", "char(5)", ("'ab'", "''")),
    Case(
        "vc",
        "varchar(50)",
        ("''", "NULL", "'tab\\tnl\\nbs\\\\ cr\\r'", "'😀🎉 ü'", "'it''s \"q\"'"),
    ),
    Case("tx", "text", ("REPEAT('x😀', 5000)", "'\\\\N'", "'NULL'")),
    Case("e", "enum('a','b c','it''s')", ("'b c'", "'it''s'", "'a'")),
    Case("st", "set('x','y','z')", ("'x,z'", "''", "'x,y,z'")),
    Case(
        "j",
        "json",
        (
            '\'{"b": [1, [2, [3, []]]], "a": "ü😀", "z": {"y": null, "x": 1.5}}\'',
            "'[]'",
            "'\"\\\\u00e9 text\"'",
        ),
        compare="json",
    ),
    Case("jt", "json", ('\'{"b":1,  "a":[2,{"c":"ü"}]}\'',), pg_type="json"),
    Case("bin", "binary(4)", ("X'61620000'", "X'00000000'")),
    Case("vb", "varbinary(10)", ("X'00FF00'", "X''")),
    Case("bl", "blob", ("X'00'", "X'DEADBEEF00'")),
    Case("u16", "binary(16)", ("X'123E4567E89B12D3A456426614174000'",), pg_type="uuid"),
    Case("b64", "bit(64)", ("b'" + "1" * 64 + "'", "b'0'", "b'1" + "0" * 63 + "'")),
    Case("b10", "bit(10)", ("b'1000000001'",)),
    Case("b1", "bit(1)", ("b'1'", "b'0'")),
    Case("y", "year(4)", ("0", "2155", "1901")),
    Case("dd", "date", ("'0000-00-00'", "'2024-02-29'", "'1000-01-01'", "'9999-12-31'")),
    Case(
        "dt",
        "datetime(6)",
        ("'2020-01-02 03:04:05.123456'", "'0000-00-00 00:00:00'", "'9999-12-31 23:59:59.999999'"),
    ),
    Case("dt0", "datetime", ("'1000-01-01 00:00:00'",)),
    Case("ts", "timestamp(3) NULL", ("'2020-01-01 00:00:00.123'", "'2038-01-19 03:14:07.999'")),
    Case("tm", "time", ("'23:59:59'", "'00:00:00'")),
    Case(
        "tv",
        "time(6)",
        ("'838:59:59'", "'-12:00:00'", "'-838:59:59'", "'-00:00:00.5'"),
        pg_type="interval",
    ),
    Case("uu", "uuid", ("'123e4567-e89b-12d3-a456-426614174000'",)),
    Case("et", "enum('x','y y')", ("'y y'", "'x'"), pg_type="text"),  # text + CHECK
    Case(
        "g",  # excluded by default; opted in here: WKB bytea
        "geometry",
        ("ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('LINESTRING(0 0,1 1.5,-2 3)')"),
    ),
)
OPTED_IN = {"g"}
ROWS = max(len(c.values) for c in CASES)


def _create_source(admin: DatabaseEndpoint) -> None:
    columns = ",\n".join(f"{my.quote_ident(c.column)} {c.column_type}" for c in CASES)
    ddl = f"CREATE TABLE src (id int PRIMARY KEY,\n{columns})"
    conn = mysql_connect(admin, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(ddl)
        cur.execute("CREATE TABLE back LIKE src")
        for row in range(ROWS):
            values = [c.values[row] if row < len(c.values) else "NULL" for c in CASES]
            cur.execute(f"INSERT INTO src VALUES ({row}, {', '.join(values)})")
    finally:
        conn.close()


def _mapping(endpoint: DatabaseEndpoint, **policy: Any) -> TableMapping:
    live = [t for t in read_tables(endpoint, [endpoint.database]) if t.name == "src"]
    entries, _ = generate(live, {}, [endpoint.database], GenerateOptions(target_schema="matrix"))
    entry = entries[f"{endpoint.database}.src"]
    overrides = {c.column: c.pg_type for c in CASES if c.pg_type}
    for column in entry["columns"]:
        if column["name"] in overrides:
            column["pg_type"] = overrides[column["name"]]
        if column["name"] in OPTED_IN:
            column["exclude"] = False
            column.pop("exclude_reason", None)
    entry["values"] = {"zero_dates": "sentinel", **policy}
    return TableMapping.model_validate(entry)


def _mysql_rows(endpoint: DatabaseEndpoint, table: str) -> list[dict[str, Any]]:
    conn = mysql_connect(endpoint, conv=mysql_conv())
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT * FROM {my.quote_ident(table)} ORDER BY id")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        conn.close()


def _copy_to_pg(
    mapping: TableMapping, rows: list[dict[str, Any]], endpoint: DatabaseEndpoint
) -> Stats:
    stats = Stats()
    pg_rows = [row_to_pg(mapping, row, stats) for row in rows]
    names = list(pg_rows[0])
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    sql = f"INSERT INTO {table} ({pg.column_list(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    with pg_connect(endpoint) as conn:
        conn.cursor().executemany(sql.encode(), [[r[n] for n in names] for r in pg_rows])
    return stats


def _pg_rows(mapping: TableMapping, endpoint: DatabaseEndpoint) -> list[dict[str, Any]]:
    table = pg.qualified(mapping.target.schema, mapping.target.table)
    with pg_connect(endpoint) as conn:
        register_pg_loaders(conn)
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY id".encode())
        names = [d.name for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _copy_back_to_mysql(
    mapping: TableMapping, rows: list[dict[str, Any]], endpoint: DatabaseEndpoint
) -> None:
    my_rows = [row_to_mysql(mapping, row) for row in rows]
    names = list(my_rows[0])
    sql = f"INSERT INTO back ({my.column_list(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    conn = mysql_connect(endpoint)
    try:
        conn.cursor().executemany(sql, [[r[n] for n in names] for r in my_rows])
        conn.commit()
    finally:
        conn.close()


@pytest.fixture
def matrix(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint
) -> tuple[DatabaseEndpoint, DatabaseEndpoint]:
    _create_source(replace(mysql_admin, database=mysql_db.database))
    return mysql_db, pg_db


def test_every_type_round_trips_mysql_pg_mysql(
    matrix: tuple[DatabaseEndpoint, DatabaseEndpoint],
) -> None:
    mysql_ep, pg_ep = matrix
    mapping = _mapping(mysql_ep)
    with pg_connect(pg_ep) as conn:
        apply_ddl(conn, plan_ddl(MappingSet((mapping,))))
    source = _mysql_rows(mysql_ep, "src")
    stats = _copy_to_pg(mapping, source, pg_ep)
    assert stats.zero_dates == 2  # kept as the -infinity sentinel, counted
    _copy_back_to_mysql(mapping, _pg_rows(mapping, pg_ep), mysql_ep)
    back = _mysql_rows(mysql_ep, "back")
    assert len(back) == len(source) == ROWS
    compare = {c.column: c.compare for c in CASES}
    for before, after in zip(source, back, strict=True):
        for name, value in before.items():
            if compare.get(name) == "json" and value is not None:
                assert json.loads(after[name]) == json.loads(value), (before["id"], name)
            else:
                assert after[name] == value, (before["id"], name, value, after[name])


def test_postgres_holds_the_mapped_types(matrix: tuple[DatabaseEndpoint, DatabaseEndpoint]) -> None:
    mysql_ep, pg_ep = matrix
    mapping = _mapping(mysql_ep)
    with pg_connect(pg_ep) as conn:
        apply_ddl(conn, plan_ddl(MappingSet((mapping,))))
    _copy_to_pg(mapping, _mysql_rows(mysql_ep, "src"), pg_ep)
    with pg_connect(pg_ep) as conn:
        one = conn.execute(
            "SELECT ub::text, d65::text, b64::text, e::text, st, dd::text, dt::text, tv::text, "
            "jt::text, u16::text, b, y FROM matrix.src WHERE id = 0"
        ).fetchone()
        types = dict(
            conn.execute(
                "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = 'matrix.src'::regclass AND attnum > 0"
            ).fetchall()
        )
    assert one == (
        "18446744073709551615",
        "12345678901234567890123456789012345.123456789012345678901234567890",
        "1" * 64,
        "b c",
        ["x", "z"],
        "-infinity",
        "2020-01-02 03:04:05.123456",
        "838:59:59",
        '{"b":1,  "a":[2,{"c":"ü"}]}',
        "123e4567-e89b-12d3-a456-426614174000",
        False,
        0,
    )
    assert types["ub"] == "numeric(20,0)"
    assert types["b64"] == "bit varying(64)"
    assert types["ts"] == "timestamp(3) with time zone"
    assert types["e"] == "matrix.src_e"
    assert types["j"] == "jsonb"


def test_nul_bytes_fail_naming_the_row_or_are_stripped_and_counted(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint
) -> None:
    admin = replace(mysql_admin, database=mysql_db.database)
    conn = mysql_connect(admin, autocommit=True)
    conn.cursor().execute("CREATE TABLE src (id int PRIMARY KEY, t text, d date)")
    conn.cursor().execute("INSERT INTO src VALUES (41, CONCAT('a', CHAR(0), 'b'), '0000-00-00')")
    conn.close()
    rows = _mysql_rows(mysql_db, "src")
    assert rows[0]["t"] == "a\x00b"
    strict = _mapping(mysql_db, nul_bytes="fail", zero_dates="null")
    with pytest.raises(ConversionError, match=r"key \(id=41\): column 't'.*NUL bytes"):
        row_to_pg(strict, rows[0])
    stripping = _mapping(mysql_db, nul_bytes="strip", zero_dates="null")
    with pg_connect(pg_db) as pconn:
        apply_ddl(pconn, plan_ddl(MappingSet((stripping,))))
    stats = _copy_to_pg(stripping, rows, pg_db)
    assert (stats.nul_bytes_stripped, stats.zero_dates) == (1, 1)
    with pg_connect(pg_db) as pconn:
        assert pconn.execute("SELECT t, d FROM matrix.src").fetchone() == ("ab", None)


def _read_arrow(mapping: TableMapping, endpoint: DatabaseEndpoint) -> Any:
    import connectorx as cx

    url = (
        f"mysql://{endpoint.user}:{endpoint.password}@{endpoint.host}:{endpoint.port}/"
        f"{endpoint.database}"
    )
    sql = f"SELECT {select_list(mapping)} FROM src ORDER BY id"
    return cx.read_sql(url, sql, return_type="arrow")


def _ingest(table: Any, schema: str, name: str, endpoint: DatabaseEndpoint) -> None:
    from adbc_driver_postgresql import dbapi

    uri = (
        f"postgresql://{endpoint.user}:{endpoint.password}@{endpoint.host}:{endpoint.port}/"
        f"{endpoint.database}"
    )
    with dbapi.connect(uri) as conn, conn.cursor() as cur:
        cur.adbc_ingest(name, table, mode="append", db_schema_name=schema)
        conn.commit()


def test_arrow_path_writes_the_same_rows_as_the_row_path(
    matrix: tuple[DatabaseEndpoint, DatabaseEndpoint],
) -> None:
    mysql_ep, pg_ep = matrix
    row_mapping = _mapping(mysql_ep, zero_dates="null")
    arrow_mapping = row_mapping.model_copy(update={"target": TargetTable("matrix", "src_arrow")})
    with pg_connect(pg_ep) as conn:
        apply_ddl(conn, plan_ddl(MappingSet((row_mapping, arrow_mapping))))
    _copy_to_pg(row_mapping, _mysql_rows(mysql_ep, "src"), pg_ep)
    stats = Stats()
    converted = to_pg_table(arrow_mapping, _read_arrow(arrow_mapping, mysql_ep), stats)
    _ingest(converted, "matrix", "src_arrow", pg_ep)
    assert stats.zero_dates == 2
    with pg_connect(pg_ep) as conn:
        assert conn.execute("SELECT count(*) FROM matrix.src_arrow").fetchone() == (ROWS,)
        for a, b in (("src", "src_arrow"), ("src_arrow", "src")):
            diff = conn.execute(
                f"SELECT r::text FROM matrix.{a} r EXCEPT SELECT r::text FROM matrix.{b} r"
            ).fetchall()
            assert diff == [], (a, b, diff)


def test_arrow_reverse_path_brings_every_value_back_to_mysql(
    matrix: tuple[DatabaseEndpoint, DatabaseEndpoint],
) -> None:
    from adbc_driver_postgresql import dbapi

    mysql_ep, pg_ep = matrix
    mapping = _mapping(mysql_ep, zero_dates="null")
    with pg_connect(pg_ep) as conn:
        apply_ddl(conn, plan_ddl(MappingSet((mapping,))))
    source = _mysql_rows(mysql_ep, "src")
    _copy_to_pg(mapping, source, pg_ep)
    uri = f"postgresql://{pg_ep.user}:{pg_ep.password}@{pg_ep.host}:{pg_ep.port}/{pg_ep.database}"
    with dbapi.connect(uri) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT {reverse_select_list(mapping)} FROM matrix.src ORDER BY id")
        table = to_mysql_table(mapping, cur.fetch_arrow_table())
    rows = table.to_pylist()
    names = table.column_names
    sql = f"INSERT INTO back ({my.column_list(names)}) VALUES ({', '.join(['%s'] * len(names))})"
    conn = mysql_connect(mysql_ep)
    try:
        conn.cursor().executemany(sql, [[r[n] for n in names] for r in rows])
        conn.commit()
    finally:
        conn.close()
    back = _mysql_rows(mysql_ep, "back")
    zero_dates = {("dd", 0), ("dt", 1)}  # the null policy: zero dates come back as NULL
    compare = {c.column: c.compare for c in CASES}
    for before, after in zip(source, back, strict=True):
        for name, value in before.items():
            if (name, before["id"]) in zero_dates:
                assert after[name] is None
            elif compare.get(name) == "json" and value is not None:
                assert json.loads(after[name]) == json.loads(value), (before["id"], name)
            else:
                assert after[name] == value, (before["id"], name, value, after[name])
