"""Edge values through a real backfill, on both readers, compared value by value.

The rule: no value is silently lost or changed. A value that cannot be converted fails its chunk
naming table, key, column and value (or is a reject under ``on_bad_value: reject``). Each test
builds a MariaDB table, generates its mapping from information_schema as ``mappings generate``
does, runs the backfill (connectorx, or the mysqlclient fallback forced with
``MPS_BACKFILL_READER``) and reads both sides back: MySQL through an exact form of each value
(``CAST(f AS DOUBLE)`` for a FLOAT, ``UNIX_TIMESTAMP`` for a TIMESTAMP, ...), PostgreSQL as
stored.

The first part is the regression net (values that cross exactly, values that fail loudly); the
tests after ``# --- bugs found`` were written failing, each docstring names the cause that was
fixed; they now guard the fixes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_backfill import make_backfill, mysql_admin_exec, run_all

from mysql_pg_sync.backfill import readers
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConversionError, SyncError
from mysql_pg_sync.mapping.generate import GenerateOptions, generate
from mysql_pg_sync.mapping.introspect import read_tables
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.types.drivers import mysql_conv, register_pg_loaders

LAX = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"  # zero dates, invalid enum values
Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(params=[readers.FAST, readers.FALLBACK])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(readers.READER_ENV, request.param)
    return str(request.param)


def _generated(
    mysql_db: DatabaseEndpoint, table: str, edit: Edit | None = None, **entry: Any
) -> TableMapping:
    """The table's mapping as ``mappings generate`` writes it, with ``entry`` and ``edit``
    applied (one-way by default: a two-way table's range CHECKs would refuse some values
    before the converters see them)."""
    live = [t for t in read_tables(mysql_db, [mysql_db.database]) if t.name == table]
    entries, _ = generate(live, {}, [mysql_db.database], GenerateOptions())
    raw = entries[f"{mysql_db.database}.{table}"]
    raw.update({"direction": "mysql_to_pg", **entry})
    if edit is not None:
        edit(raw)
    return TableMapping.model_validate(raw)


def _set_column(name: str, **fields: Any) -> Edit:
    def edit(raw: dict[str, Any]) -> None:
        for column in raw["columns"]:
            if column["name"] == name:
                column.update(fields)
                column.pop("exclude_reason", None)

    return edit


def _backfill(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mapping: TableMapping,
    tmp_path: Path,
    **options: Any,
) -> dict[str, Any]:
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    return run_all(bf, RunOptions(**options))


def _mysql(endpoint: DatabaseEndpoint, sql: str) -> list[tuple[Any, ...]]:
    conn = mysql_connect(endpoint, conv=mysql_conv())
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def _pg(endpoint: DatabaseEndpoint, sql: str) -> list[tuple[Any, ...]]:
    with pg_connect(endpoint) as conn:
        register_pg_loaders(conn)
        return conn.execute(sql.encode()).fetchall()


def _error_of(call: Callable[[], Any]) -> Exception | None:
    try:
        call()
    except Exception as exc:
        return exc
    return None


def _names_key(message: str, key: int) -> bool:
    """The error names the row's key (explain's and the column converters' forms)."""
    return f"key {{'id': {key}}}" in message or f"key (id={key})" in message


def _readers_used(pg_db: DatabaseEndpoint) -> set[str]:
    return {r[0] for r in _pg(pg_db, "SELECT reader FROM mps_sync.backfill_chunks")}


# --- every edge value crosses exactly ------------------------------------------------------


def _decimal(v: Any) -> Any:
    return None if v is None else Decimal(v)


def _set_members(v: Any) -> Any:
    if isinstance(v, str):
        return [] if v == "" else v.split(",")
    return v


def _json(v: Any) -> Any:
    return None if v is None else json.loads(v)


def _iso(v: Any) -> Any:
    return None if v is None else dt.datetime.fromisoformat(v)


def _bits(v: Any) -> Any:
    return None if v is None else int(v, 2)


def _same(v: Any) -> Any:
    return v


# column, MySQL type, one literal per row (3 rows), MySQL's exact form, PostgreSQL's form, and
# how both forms become comparable Python values (None: as they are)
EDGE_COLUMNS: tuple[tuple[str, str, tuple[str, str, str], str, str, Callable[[Any], Any]], ...] = (
    (
        "dbl",
        "double",
        ("1.7976931348623157e308", "5e-324", "-2.2250738585072014e-308"),
        "{c}",
        "{c}",
        _same,
    ),
    ("f", "float", ("0.1", "-3.5", "1.5e-10"), "CAST({c} AS DOUBLE)", "{c}::float8", _same),
    (
        "f73",
        "float(7,3)",
        ("1234.567", "-1234.567", "0.001"),
        "CAST({c} AS DOUBLE)",
        "{c}::float8",
        _same,
    ),
    (
        "d65",
        "decimal(65,30)",
        (
            "'99999999999999999999999999999999999.999999999999999999999999999999'",
            "'-99999999999999999999999999999999999.999999999999999999999999999999'",
            "'-0.000000000000000000000000000001'",
        ),
        "CAST({c} AS CHAR)",
        "{c}::text",
        _decimal,
    ),
    (
        "d38",
        "decimal(38,0)",
        ("'" + "9" * 38 + "'", "'-" + "9" * 38 + "'", "0"),
        "CAST({c} AS CHAR)",
        "{c}::text",
        _decimal,
    ),
    (
        "dn",
        "decimal(12,2)",
        ("-9999999999.99", "-0.01", "0.5"),
        "CAST({c} AS CHAR)",
        "{c}::text",
        _decimal,
    ),
    (
        "ub",
        "bigint unsigned",
        ("18446744073709551615", "9223372036854775808", "9007199254740993"),
        "CAST({c} AS CHAR)",
        "{c}::text",
        _decimal,
    ),
    (
        "tb",
        "tinyint(1)",
        ("1", "0", "NULL"),
        "{c} <> 0",
        "{c}",
        lambda v: None if v is None else bool(v),
    ),
    (
        "b1",
        "bit(1)",
        ("b'1'", "b'0'", "NULL"),
        "{c} + 0 <> 0",
        "{c}",
        lambda v: None if v is None else bool(v),
    ),
    (
        "b64",
        "bit(64)",
        ("b'" + "1" * 64 + "'", "b'1" + "0" * 62 + "1'", "b'0'"),
        "BIN({c})",
        "{c}::text",
        _bits,
    ),
    ("y", "year", ("0", "1901", "2155"), "{c} + 0", "{c}", _same),
    (
        "dt6",
        "datetime(6)",
        (
            "'9999-12-31 23:59:59.999999'",
            "'1000-01-01 00:00:00.000001'",
            "'1969-12-31 23:59:59.999999'",
        ),
        "CAST({c} AS CHAR)",
        "{c}::text",
        _iso,
    ),
    (  # inserted in a +05:00 session: 1970-01-01 00:00:01 UTC is MySQL's first TIMESTAMP(0)
        "ts",
        "timestamp NULL",
        ("'1970-01-01 05:00:01'", "'2038-01-19 08:14:07'", "'2020-06-01 05:00:00'"),
        "UNIX_TIMESTAMP({c})",
        "extract(epoch FROM {c})",
        _decimal,
    ),
    (
        "ts6",
        "timestamp(6) NULL",
        ("'1970-01-01 05:00:00.000001'", "'2038-01-19 08:14:07.999999'", "NULL"),
        "UNIX_TIMESTAMP({c})",
        "extract(epoch FROM {c})",
        _decimal,
    ),
    (
        "tm",
        "time(6)",
        ("'-838:59:59'", "'838:59:59.000000'", "'-00:00:00.5'"),
        "TIME_TO_SEC({c})",
        "extract(epoch FROM {c})",
        _decimal,
    ),
    ("e", "enum('a','b c','it''s')", ("'it''s'", "'b c'", "NULL"), "{c}", "{c}::text", _same),
    ("st", "set('x','y','z')", ("'x,y,z'", "''", "'z'"), "{c}", "{c}", _set_members),
    (
        "j",
        "json",
        (
            '\'{"big": 9223372036854775809, "one": 1.0, "e": "😀"}\'',
            "'[1.5, -0.000001, null]'",
            "'\"\\\\u00e9\"'",
        ),
        "{c}",
        "{c}::text",
        _json,
    ),
    ("c10", "char(10)", ("'ab   '", "'  lead'", "''"), "{c}", "{c}", _same),
    ("vc", "varchar(20)", ("'ab   '", "' '", "'tab\\tnl\\n'"), "{c}", "{c}", _same),
    ("tx", "text", ("'😀🎉𝄞 4-byte'", "'\\\\N'", "'NULL'"), "{c}", "{c}", _same),
    (
        "l1",
        "varchar(20) CHARACTER SET latin1",
        ("'café €‰ Œ ÿ'", "'\\\\'", "''"),
        "{c}",
        "{c}",
        _same,
    ),
    ("u3", "varchar(20) CHARACTER SET utf8mb3", ("'naïve ✓ ü'", "''", "NULL"), "{c}", "{c}", _same),
    ("vb", "varbinary(10)", ("X'00FF00'", "X''", "X'00'"), "{c}", "{c}", _same),
    ("bn", "binary(4)", ("X'61'", "X'00000000'", "NULL"), "{c}", "{c}", _same),
    ("bl", "mediumblob", ("REPEAT(X'00AB', 524288)", "X''", "NULL"), "MD5({c})", "md5({c})", _same),
)


@pytest.fixture
def edges(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    columns = ", ".join(f"`{name}` {mysql_type}" for name, mysql_type, *_ in EDGE_COLUMNS)
    rows = [
        f"({row}, " + ", ".join(case[2][row] for case in EDGE_COLUMNS) + ")" for row in range(3)
    ]
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        f"CREATE TABLE v (id int PRIMARY KEY, {columns})",
        "SET time_zone = '+05:00'",  # the application's session: not the sync's UTC
        f"INSERT INTO v VALUES {', '.join(rows)}",
    )
    return mysql_db


def test_edge_values_cross_exactly(
    endpoints: Endpoints,
    edges: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    mapping = _generated(edges, "v", _set_column("tm", pg_type="interval"))
    _backfill(endpoints, edges, pg_db, mapping, tmp_path, strict_counts=True)
    assert _readers_used(pg_db) == {reader}  # connectorx read every value itself
    my_sql = ", ".join(case[3].format(c=f"`{case[0]}`") for case in EDGE_COLUMNS)
    pg_sql = ", ".join(case[4].format(c=f'"{case[0]}"') for case in EDGE_COLUMNS)
    source = _mysql(edges, f"SELECT id, {my_sql} FROM v ORDER BY id")
    target = _pg(pg_db, f"SELECT id, {pg_sql} FROM public.v ORDER BY id")
    assert [r[0] for r in target] == [r[0] for r in source] == [0, 1, 2]
    differences = [
        (my_row[0], case[0], my_value, pg_value)
        for my_row, pg_row in zip(source, target, strict=True)
        for case, my_value, pg_value in zip(EDGE_COLUMNS, my_row[1:], pg_row[1:], strict=True)
        if case[5](my_value) != case[5](pg_value)
    ]
    assert differences == []


def test_null_rows_before_the_first_value_do_not_type_the_column(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    """Batches of 1000 rows: the first batch holds NULL in every column (an Arrow null type for
    the fallback's inferred decimals), row 1001 and the last row hold values."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE n (id int PRIMARY KEY, d decimal(12,2), w decimal(65,30), "
        "u bigint unsigned, b bit(9), s set('x','y'), j json, dt datetime(6), t text)",
        "INSERT INTO n (id) SELECT seq FROM seq_1_to_2500",
        "UPDATE n SET d = -12.34, w = '-1.5', u = 18446744073709551615, b = b'100000001', "
        "s = 'x,y', j = '[1]', dt = '2024-02-29 12:00:00.000001', t = 'é' "
        "WHERE id IN (1001, 2500)",
    )
    mapping = _generated(mysql_db, "n")
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, batch_rows=1000, strict_counts=True)
    rows = _pg(
        pg_db,
        "SELECT id, d::text, w::text, u::text, b::text, s, j::text, dt::text, t FROM public.n "
        "WHERE d IS NOT NULL OR w IS NOT NULL OR u IS NOT NULL OR b IS NOT NULL "
        "OR s IS NOT NULL OR j IS NOT NULL OR dt IS NOT NULL OR t IS NOT NULL ORDER BY id",
    )
    values = (
        "-12.34",
        "-1.500000000000000000000000000000",
        "18446744073709551615",
        "100000001",
        ["x", "y"],
        "[1]",
        "2024-02-29 12:00:00.000001",
        "é",
    )
    assert rows == [(1001, *values), (2500, *values)]


def test_a_decimal_wider_than_connectorx_holds_falls_back_and_stays_exact(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """connectorx rescales a DECIMAL of up to 28 digits to scale 10 in 96 bits: a value with
    more than 18 integer digits does not fit ("decimal scale is not equal to expected scale"),
    and the chunk is read again by the fallback."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE w (id int PRIMARY KEY, a decimal(28,0), b decimal(20,0), c decimal(28,10))",
        "INSERT INTO w VALUES "
        "(1, REPEAT('9', 28), REPEAT('9', 20), '999999999999999999.9999999999'), "
        "(2, CONCAT('-', REPEAT('9', 28)), '-1', '-0.0000000001')",
    )
    mapping = _generated(mysql_db, "w")
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, strict_counts=True)
    assert _readers_used(pg_db) == {readers.FALLBACK}
    sql = "SELECT id, CAST(a AS CHAR), CAST(b AS CHAR), CAST(c AS CHAR) FROM w ORDER BY id"
    assert _pg(pg_db, "SELECT id, a::text, b::text, c::text FROM public.w ORDER BY id") == _mysql(
        mysql_db, sql
    )


def test_a_zero_date_mid_chunk_re_reads_the_whole_chunk_losing_no_row(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """connectorx panics on the zero date of row 2500 after 24 batches went into the COPY:
    those are rolled back and the chunk is read again by the fallback."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE z (id int PRIMARY KEY, d date, v varchar(10))",
        "INSERT INTO z SELECT seq, '2020-01-01', CONCAT('v', seq) FROM seq_1_to_3000",
        "UPDATE z SET d = '0000-00-00' WHERE id = 2500",
    )
    mapping = _generated(mysql_db, "z")
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, batch_rows=100, strict_counts=True)
    assert _readers_used(pg_db) == {readers.FALLBACK}
    assert _pg(pg_db, "SELECT count(*), count(d), count(DISTINCT v) FROM public.z") == [
        (3000, 2999, 3000)
    ]
    assert _pg(pg_db, "SELECT d FROM public.z WHERE id IN (2499, 2500) ORDER BY id") == [
        (dt.date(2020, 1, 1),),
        (None,),  # values.zero_dates: null
    ]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"zero_dates": "null"}, (None, None, None)),
        (
            {"zero_dates": "sentinel", "zero_date_sentinel": "0001-01-01"},
            ("0001-01-01", "0001-01-01 00:00:00", "0001-01-01 00:00:00+00"),
        ),
    ],
)
def test_the_zero_date_follows_the_policy_and_a_partial_one_fails_under_each(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
    policy: dict[str, str],
    expected: tuple[Any, ...],
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE z (id int PRIMARY KEY, d date NULL, dt datetime NULL, ts timestamp NULL)",
        "INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')",
    )
    mapping = _generated(mysql_db, "z", values=policy)
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, strict_counts=True)
    assert _pg(pg_db, "SELECT d::text, dt::text, ts::text FROM public.z") == [expected]

    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "INSERT INTO z VALUES (2, NULL, '2020-00-15 10:00:00', NULL)",
    )
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, mode="reload")
    assert "key {'id': 2}" in str(failed.value)
    assert "column 'dt'" in str(failed.value)
    assert "'2020-00-15 10:00:00'" in str(failed.value)


@pytest.mark.parametrize(
    ("ddl", "row", "column", "value", "why"),
    [
        ("t text", "CONCAT('a', CHAR(0), 'b')", "t", "'a\\x00b'", "NUL bytes"),
        ("t varchar(5)", "CHAR(0)", "t", "'\\x00'", "NUL bytes"),
        ("t tinyint(1)", "2", "t", "2", "other than 0/1"),
        ("t tinyint(1)", "-1", "t", "-1", "other than 0/1"),
        ("t enum('a','b')", "'zz'", "t", "''", "not a member of the enum"),  # MySQL stores ''
        ("t json", '\'{"a": "x\\\\u0000y"}\'', "t", "\\\\u0000", "jsonb cannot store"),
    ],
)
def test_a_value_postgresql_cannot_hold_fails_naming_key_column_and_value(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
    ddl: str,
    row: str,
    column: str,
    value: str,
    why: str,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        f"CREATE TABLE b (id int PRIMARY KEY, {ddl})",
        f"INSERT INTO b VALUES (7, {row})",
    )
    mapping = _generated(mysql_db, "b")
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    message = str(failed.value)
    assert f"{mysql_db.database}.b" in message
    assert "key {'id': 7}" in message
    assert f"column '{column}'" in message
    assert value in message
    assert why in message
    assert _pg(pg_db, "SELECT count(*) FROM public.b") == [(0,)]


def test_an_invalid_calendar_date_fails_naming_it(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    """``ALLOW_INVALID_DATES`` stores February 30th: never moved to another day."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'",
        "CREATE TABLE i (id int PRIMARY KEY, dt datetime(3))",
        "INSERT INTO i VALUES (1, '2021-01-01 00:00:00'), (2, '2021-02-30 10:00:00.5')",
    )
    mapping = _generated(mysql_db, "i")
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    assert "key {'id': 2}" in str(failed.value)
    assert "column 'dt'" in str(failed.value)
    assert "2021-02-30 10:00:00.500" in str(failed.value)


def test_generated_columns_and_srid_0_geometry_copied_one_way(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE g (id int PRIMARY KEY, a int, v int AS (a * 2) VIRTUAL, "
        "s varchar(20) AS (CONCAT('x', a)) PERSISTENT, g geometry)",
        "INSERT INTO g (id, a, g) VALUES (1, 5, ST_GeomFromText('LINESTRING(0 0,1 1.5,-2 3)')), "
        "(2, NULL, NULL)",
    )

    def opt_in(raw: dict[str, Any]) -> None:
        for name in ("v", "s", "g"):
            _set_column(name, exclude=False)(raw)

    mapping = _generated(mysql_db, "g", opt_in)
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, strict_counts=True)
    source = _mysql(mysql_db, "SELECT id, v, s, ST_AsWKB(g) FROM g ORDER BY id")
    assert _pg(pg_db, "SELECT id, v, s, g FROM public.g ORDER BY id") == source


# --- bugs found: written failing, now fixed (each docstring names the cause) ------------------


def test_a_float_keeps_its_value_when_a_zero_date_sends_the_chunk_to_the_fallback(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """BUG: the fallback reads a FLOAT through MySQL's text protocol, which prints 6
    significant digits: 123456792 (the float MySQL stores for 123456789) arrives as 123457000,
    FLT_MAX as 3.40282e38, a different real. One zero date in a chunk sends the whole chunk
    there, and reconcile's float_digits (6) cannot see the difference. Cause: readers.py
    ``select_sql`` / ``_arrow_type`` (float32 read as the text's float64); fix: read float32
    columns in the fallback as ``CAST(col AS DOUBLE)`` (exact), as connectorx's binary protocol
    already does."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE f (id int PRIMARY KEY, f float, d date)",
        "INSERT INTO f VALUES (1, 123456789, '2020-01-01'), (2, 3.4028234663852886e38, NULL), "
        "(3, 16777217, '0000-00-00')",
    )
    mapping = _generated(mysql_db, "f")
    _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path, strict_counts=True)
    assert _readers_used(pg_db) == {readers.FALLBACK}  # the zero date
    source = _mysql(mysql_db, "SELECT id, CAST(f AS DOUBLE) FROM f ORDER BY id")
    assert source == [(1, 123456792.0), (2, 3.4028234663852886e38), (3, 16777216.0)]
    assert _pg(pg_db, "SELECT id, f::float8 FROM public.f ORDER BY id") == source


@pytest.mark.parametrize("mapping_kind", ["stale", "hand_set"])
def test_fractional_seconds_the_target_cannot_keep_fail_instead_of_rounding(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
    mapping_kind: str,
) -> None:
    """BUG: PostgreSQL rounds a timestamp or time with more fractional digits than its column
    keeps: '9999-12-31 23:59:59.999999' into timestamp(0) becomes year 10000, TIME
    '23:59:59.999999' into time(0) '24:00:00', TIMESTAMP '2038-01-19 03:14:07.999999' a second
    MySQL cannot hold. Stale mapping (MySQL's column widened to (6) after ``mappings generate``,
    README "Add a column" step 3) or a hand-set pg_type: the stream dead-letters such a value
    (types/precision.py), a decimal fails the backfill (Arrow refuses the rescale), these are
    rounded without a word. Cause: types/arrow.py ``_datetime``/``_timestamp``/``_time``
    (timestamp[us]/time64[us] whatever the pg_type keeps) and backfill/conversion.py
    ``_native_temporal``/``_cast_temporal`` for connectorx's native columns; fix: check each
    value against ``precision.kept_digits(column, to_pg=True)`` (micros % 10**(6-kept) != 0)
    and fail naming it, as ``_decimal`` does through Arrow."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE p (id int PRIMARY KEY, dt datetime(6), ts timestamp(6) NULL, tm time(6))",
        "INSERT INTO p VALUES (1, '2020-01-01 00:00:00', '2020-01-01 00:00:00', '10:00:00'), "
        "(2, '9999-12-31 23:59:59.999999', '2038-01-19 03:14:07.999999', '23:59:59.999999')",
    )
    narrow = {"dt": "timestamp(0)", "ts": "timestamptz(0)", "tm": "time(0)"}
    stale = {"dt": "datetime", "ts": "timestamp", "tm": "time"}

    def edit(raw: dict[str, Any]) -> None:
        for name, pg_type in narrow.items():
            if mapping_kind == "stale":
                _set_column(name, column_type=stale[name], pg_type=pg_type)(raw)
            else:
                _set_column(name, pg_type=pg_type)(raw)

    mapping = _generated(mysql_db, "p", edit)
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    assert _names_key(str(failed.value), 2)
    assert "column 'dt'" in str(failed.value)
    assert "9999-12-31 23:59:59.999999" in str(failed.value) or (
        "datetime(9999, 12, 31, 23, 59, 59, 999999)" in str(failed.value)
    )
    assert _pg(pg_db, "SELECT count(*) FROM public.p") == [(0,)]


@pytest.mark.parametrize(
    ("ddl", "literal", "pg_type"),
    [
        ("double", "1.5", "bigint"),  # arrives as 4609434218613702656, the double's bits
        ("varchar(4)", "'abcd'", "integer"),  # arrives as 1633837924, the text's bytes
        ("date", "'2020-01-01'", "integer"),  # arrives as 7305, days since 2000-01-01
        ("bigint", "1000000", "double precision"),  # arrives as 4.94e-318
    ],
)
def test_a_hand_set_pg_type_of_another_kind_never_writes_reinterpreted_bytes(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    ddl: str,
    literal: str,
    pg_type: str,
) -> None:
    """BUG: the converters pick the Arrow type from the MySQL type's kind, never from the
    pg_type, and ADBC's binary COPY carries no type: PostgreSQL reads the bytes of a float64 as
    a bigint, of a 4-byte text as an integer. Validation accepts the pg_type, ``ddl`` creates
    the column, and prepare finds the table as the mapping says. The stream would send the
    value as text and PostgreSQL would refuse 'abcd' or 1.5 (a dead letter). Cause:
    types/arrow.py ``to_pg_table`` (``_ARROW[column.kind]``, whatever pg_type says) and
    backfill/writer.py ``adbc_ingest``; fix: refuse, at mapping validation or the backfill's
    prepare, a pg_type whose binary form is not the one the kind's Arrow type encodes (naming
    the column and ``converter``), or cast to the pg_type's Arrow type with a safe cast."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        f"CREATE TABLE h (id int PRIMARY KEY, c {ddl})",
        f"INSERT INTO h VALUES (1, {literal})",
    )

    def copy() -> None:  # refused anywhere (validation, prepare, copy), naming the column
        mapping = _generated(mysql_db, "h", _set_column("c", pg_type=pg_type))
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)

    with pytest.raises((SyncError, ValueError)) as failed:
        copy()
    assert "'c'" in str(failed.value) or " c " in str(failed.value)


def test_a_year_zero_date_fails_instead_of_becoming_1_bc(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    """BUG: MariaDB stores '0000-01-01' (year 0, a real month and day); on a one-way table
    (no range CHECK) it arrives as '0001-01-01 BC', extract(year) -1. The stream dead-letters
    such a date (README: Debezium nulls any date with a zero year, month or day, and the
    consumer looks it up), and typemap.DATE_RANGE says the sync carries years 1-9999. Cause:
    types/arrow.py ``_ZERO_PART_RE`` (line 47) looks for a zero month or day only, and
    connectorx's native dates (backfill/conversion.py ``_native_temporal``) are not checked at
    all; fix: fail a year below 1 naming it, on both paths, as a partial zero date fails."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE y (id int PRIMARY KEY, d date, dt datetime)",
        "INSERT INTO y VALUES (1, '2020-01-01', '2020-01-01 00:00:00'), "
        "(2, '0000-01-01', '0000-12-31 23:59:59')",
    )
    mapping = _generated(mysql_db, "y")
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    assert _names_key(str(failed.value), 2)
    assert "0000-01-01" in str(failed.value) or "0000-12-31 23:59:59" in str(failed.value)
    assert _pg(pg_db, "SELECT count(*) FROM public.y WHERE d < '0001-01-01'") == [(0,)]


def test_the_invalid_enum_value_is_not_taken_for_the_empty_member(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    """BUG: MySQL stores a value outside an enum as the error value '' (index 0). In
    ``enum('a','b')`` that fails the chunk (tested above); in ``enum('','a')`` it is silently
    copied as the member '' (index 1): both read as ''. Cause: types/arrow.py ``_enum``
    checks the text only; fix: read the index too (``col + 0`` in the dialect's read
    expression) and fail index 0."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE e (id int PRIMARY KEY, e enum('','a'))",
        "INSERT INTO e VALUES (1, ''), (2, 'not a member')",
    )
    assert _mysql(mysql_db, "SELECT id, e, e + 0 FROM e ORDER BY id") == [(1, "", 1), (2, "", 0)]
    mapping = _generated(mysql_db, "e")
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    assert _names_key(str(failed.value), 2)
    assert "column 'e'" in str(failed.value)


def test_a_geometry_srid_is_not_dropped(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """BUG (or a decision to write down): an opted-in geometry is read with ``ST_AsWKB``
    (dialects/mysql.py ``arrow_read_expression``), which has no SRID: POINT(1 2) in SRID 4326
    arrives as the same bytes as in SRID 0, and a repair or a PostgreSQL write brings it back
    with SRID 0 (types/convert.py ``_geometry_to_mysql``). Fix: fail a non-zero SRID naming
    it, or keep it (EWKB, or MySQL's own SRID+WKB)."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE g (id int PRIMARY KEY, g geometry)",
        "INSERT INTO g VALUES (1, ST_GeomFromText('POINT(1 2)', 4326))",
    )
    mapping = _generated(mysql_db, "g", _set_column("g", exclude=False))
    error = _error_of(lambda: _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path))
    if error is not None:  # refused: fine, when it names the column
        assert isinstance(error, ConversionError), error
        assert "column 'g'" in str(error)
        return
    ((stored,),) = _pg(pg_db, "SELECT g FROM public.g")
    internal = _mysql(mysql_db, "SELECT CAST(g AS BINARY) FROM g")[0][0]  # SRID + WKB
    ewkb_srid = len(stored) > 9 and int.from_bytes(stored[1:5], "little") & 0x20000000
    assert stored == internal or (ewkb_srid and int.from_bytes(stored[5:9], "little") == 4326)


@pytest.mark.parametrize(
    ("ddl", "literal"),
    [
        ("varchar(10)", "X'EDA080'"),  # a UTF-8-encoded surrogate: MariaDB stores it, strict
        ("varchar(10) CHARACTER SET ascii", "X'E9'"),  # read as '?' through utf8mb4
    ],
)
def test_bytes_invalid_in_the_column_character_set_fail_naming_them(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
    ddl: str,
    literal: str,
) -> None:
    """BUG: MariaDB (strict mode too) stores bytes its column's character set does not
    allow. In a utf8mb4 column connectorx panics and the fallback dies in mysqlclient with a
    bare UnicodeDecodeError: no table, key, column or value, and ``on_bad_value: reject``
    cannot reject the row. In an ascii column the server converts 0xE9 to '?' for the
    utf8mb4 session and '?' is copied without a word. Cause: readers.py ``iter_mysqlclient``
    (decoding in the driver, outside the converters) and the utf8mb4 session of both readers;
    fix: read such columns as bytes (``CAST(col AS BINARY)``) and decode them in the
    converters by the column's charset, failing a row that does not decode, named."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        f"CREATE TABLE c (id int PRIMARY KEY, t {ddl})",
        f"INSERT INTO c VALUES (1, 'ok'), (2, {literal})",
    )
    mapping = _generated(mysql_db, "c")
    with pytest.raises(ConversionError) as failed:
        _backfill(endpoints, mysql_db, pg_db, mapping, tmp_path)
    assert _names_key(str(failed.value), 2)
    assert "column 't'" in str(failed.value)
