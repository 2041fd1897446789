"""Repairs must write exactly the authoritative value (JSON scalars, decimals past 28 digits), and
rows the mapping's value policies made differ on purpose are not drift."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration


def _setup(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
    mysql_sql: list[tuple[str, list[tuple[Any, ...]]]],
    pg_sql: list[tuple[str, list[tuple[Any, ...]]]],
    mapping: dict[str, Any],
) -> tuple[Endpoints, Path]:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("SET SESSION sql_mode = ''")  # zero dates and NUL bytes as legacy apps write
        for sql, rows in mysql_sql:
            cur.executemany(sql, rows) if rows else cur.execute(sql)
    with pg_connect(pg_db, autocommit=True) as conn, conn.cursor() as cur:
        for sql, rows in pg_sql:
            cur.executemany(sql, rows) if rows else cur.execute(sql)  # type: ignore[arg-type]
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = yaml.safe_dump([mapping]).replace("{db}", mysql_db.database)
    (folder / "tables.yaml").write_text(text)
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _run(ends: Endpoints, folder: Path, tmp_path: Path, **kw: Any) -> dict[str, Any]:
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0, segment_rows=100, **kw)
    run, _, _ = reconcile_all(ends, params, folder=tmp_path / "reports")
    [table] = run["tables"]
    return dict(table)


def _mapping(
    table: str, columns: list[tuple[str, str]], not_null: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    return {
        "source": f"{{db}}.{table}",
        "target": f"public.{table}",
        "key": ["id"],
        "direction": "both",
        "columns": [
            {"name": n, "column_type": t, "nullable": n not in not_null} for n, t in columns
        ],
        **extra,
    }


def test_json_scalars_repaired_from_postgres_reach_mysql_as_the_same_json(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """TableSide.raw_rows read jsonb through psycopg's JSON loader: a JSON string '"123"' became
    the Python str '123' and reached MySQL as the number 123 ('"t"' as invalid JSON, refused),
    JSON null became SQL NULL. Each repair said applied; the rows stayed different."""
    docs = {1: '"123"', 2: '"t"', 3: "null", 4: '{"a": [1, "x"]}', 5: '"say \\"hi\\""'}
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE j (id bigint PRIMARY KEY, doc json NULL)", []),
            ("INSERT INTO j VALUES (%s, %s)", [(k, '"old"') for k in docs]),
        ],
        [
            ("CREATE TABLE j (id bigint PRIMARY KEY, doc jsonb NULL)", []),
            ("INSERT INTO j VALUES (%s, %s::jsonb)", list(docs.items())),
        ],
        _mapping("j", [("id", "bigint"), ("doc", "json")], reconcile={"authoritative": "postgres"}),
    )
    first = _run(ends, folder, tmp_path, repair=True, dry_run=False)
    assert first["drift"]["different"] == len(docs)
    assert first["repairs"] == {"applied": len(docs)}
    again = _run(ends, folder, tmp_path)
    assert (again["status"], again["drift"]["different"]) == ("in_sync", 0)


def test_a_decimal_difference_past_28_digits_is_really_repaired(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """The stream applier skips a write whose row it takes as equal to the target's, and it
    compares decimals after Decimal.normalize() in the default 28-digit context: a DECIMAL(65,30)
    that differs in its 30th decimal is 'applied' (nothing written) every night, and the run
    says repaired."""
    mysql_value = Decimal("12345678901234567890123456789012345.123456789012345678901234567891")
    pg_value = Decimal("12345678901234567890123456789012345.123456789012345678901234567890")
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE d (id bigint PRIMARY KEY, amount decimal(65,30))", []),
            ("INSERT INTO d VALUES (%s, %s)", [(1, mysql_value)]),
        ],
        [
            ("CREATE TABLE d (id bigint PRIMARY KEY, amount numeric(65,30))", []),
            ("INSERT INTO d VALUES (%s, %s)", [(1, pg_value)]),
        ],
        _mapping("d", [("id", "bigint"), ("amount", "decimal(65,30)")]),
    )
    first = _run(ends, folder, tmp_path, repair=True, dry_run=False)
    assert (first["status"], first["repairs"]) == ("repaired", {"applied": 1})
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT amount FROM d").fetchone() == (mysql_value,)


def test_zero_dates_under_the_sentinel_policy_are_not_drift(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """values.zero_dates: sentinel stores MySQL's zero date as '-infinity' in PostgreSQL (the
    stream and backfill do so). Reconcile's MySQL canonical text of a zero date is always NULL,
    so every such row is 'different' for ever, and a repair fails the whole table (psycopg
    cannot load -infinity into a date). A zero date against a NULL reads as equal instead."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE z (id bigint PRIMARY KEY, d date NULL, dt datetime NULL)", []),
            ("INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00')", []),
            ("INSERT INTO z VALUES (2, '2020-01-01', '2020-01-01 10:00:00')", []),
        ],
        [
            ("CREATE TABLE z (id bigint PRIMARY KEY, d date NULL, dt timestamp(0) NULL)", []),
            (
                "INSERT INTO z VALUES (%s, %s, %s)",
                [(1, "-infinity", "-infinity"), (2, "2020-01-01", "2020-01-01 10:00:00")],
            ),
        ],
        _mapping(
            "z",
            [("id", "bigint"), ("d", "date"), ("dt", "datetime")],
            values={"zero_dates": "sentinel"},
        ),
    )
    table = _run(ends, folder, tmp_path)
    assert (table["status"], table["drift"]["different"]) == ("in_sync", 0)


ZERO_COLUMNS = [
    ("id", "bigint"),
    ("d", "date"),
    ("dn", "date"),
    ("dt", "datetime"),
    ("dtn", "datetime(3)"),
    ("ts", "timestamp"),
    ("tsn", "timestamp(6)"),
]
ZERO_NOT_NULL = ("dn", "dtn", "tsn")
ZERO_MYSQL_TABLE = (
    "CREATE TABLE zr (id bigint PRIMARY KEY, d date NULL, dn date NOT NULL, dt datetime NULL, "
    "dtn datetime(3) NOT NULL, ts timestamp NULL, tsn timestamp(6) NOT NULL DEFAULT 0)"
)
# NULLable in PostgreSQL: under zero_dates: null the DDL leaves a NOT NULL date column NULLable
ZERO_PG_TABLE = (
    "CREATE TABLE zr (id bigint PRIMARY KEY, d date, dn date, dt timestamp(0), "
    "dtn timestamp(3), ts timestamptz(0), tsn timestamptz(6))"
)
ZERO_ROW = "(1, '0000-00-00', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', " + (
    "'0000-00-00 00:00:00', '0000-00-00 00:00:00')"
)
REAL_ROW = (
    "(2, '2020-01-01', '2020-01-02', '2020-01-01 10:00:00', '2020-01-01 10:00:00.123', "
    "'2020-01-01 10:00:00', '2020-01-01 10:00:00.123456')"
)
REAL_PG = (
    "2020-01-01",
    "2020-01-02",
    "2020-01-01 10:00:00",
    "2020-01-01 10:00:00.123",
    "2020-01-01 10:00:00+00",
    "2020-01-01 10:00:00.123456+00",
)


@pytest.mark.parametrize(
    ("values", "stored"),
    [
        ({}, None),  # the default: zero dates are NULL in PostgreSQL
        ({"zero_dates": "null"}, None),
        ({"zero_dates": "sentinel"}, "-infinity"),
        ({"zero_dates": "sentinel", "zero_date_sentinel": "0001-01-01"}, "0001-01-01"),
    ],
)
def test_a_repair_from_mysql_writes_a_zero_date_as_the_stream_does(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path, values, stored
) -> None:
    """Repair images read MySQL's zero dates as None (mysqlclient's converters), so a repair
    from MySQL wrote NULL whatever values.zero_dates said; under the sentinel policy the row
    stayed 'different' after its repair. They go through the stream's converter now: NULL
    under zero_dates: null, the sentinel under sentinel, NULL-able and NOT NULL columns alike
    (as the backfill writes them), and the next run finds the table in sync."""
    old = ("1999-01-01", "1999-01-01", "1999-01-01 00:00:00") * 2
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [(ZERO_MYSQL_TABLE, []), (f"INSERT INTO zr VALUES {ZERO_ROW}, {REAL_ROW}", [])],
        [
            (ZERO_PG_TABLE, []),
            ("INSERT INTO zr VALUES (%s, %s, %s, %s, %s, %s, %s)", [(1, *old), (2, *REAL_PG)]),
        ],
        _mapping("zr", ZERO_COLUMNS, ZERO_NOT_NULL, values=values),
    )
    first = _run(ends, folder, tmp_path, repair=True, dry_run=False)
    assert (first["status"], first["drift"]["different"]) == ("repaired", 1)
    assert first["repairs"] == {"applied": 1}
    with pg_connect(pg_db) as conn:
        row = conn.execute(
            "SELECT d::text, dn::text, dt::text, dtn::text, (ts AT TIME ZONE 'UTC')::text, "
            "(tsn AT TIME ZONE 'UTC')::text FROM zr WHERE id = 1"
        ).fetchone()
    if stored is None or stored.endswith("infinity"):
        assert row == (stored,) * 6
    else:
        assert row == (stored, stored, *[f"{stored} 00:00:00"] * 4)
    again = _run(ends, folder, tmp_path)
    assert (again["status"], again["drift"]["different"]) == ("in_sync", 0)


@pytest.mark.parametrize(
    ("values", "drift"),
    [
        ({}, 0),  # NULL is the zero date in PostgreSQL: equal, as before
        ({"zero_dates": "sentinel"}, 1),
    ],
)
def test_a_zero_date_against_null_is_drift_only_under_the_sentinel_policy(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path, values, drift
) -> None:
    """MySQL's zero date printed as NULL whatever the policy: under zero_dates: sentinel a
    PostgreSQL NULL where the sentinel belongs (a row the stream wrote before the policy, or
    one set to NULL in PostgreSQL) read as equal and was never repaired."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [(ZERO_MYSQL_TABLE, []), (f"INSERT INTO zr VALUES {ZERO_ROW}, {REAL_ROW}", [])],
        [
            (ZERO_PG_TABLE, []),
            ("INSERT INTO zr (id) VALUES (1)", []),
            ("INSERT INTO zr VALUES (%s, %s, %s, %s, %s, %s, %s)", [(2, *REAL_PG)]),
        ],
        _mapping("zr", ZERO_COLUMNS, ZERO_NOT_NULL, values=values),
    )
    table = _run(ends, folder, tmp_path)
    assert table["drift"]["different"] == drift
    assert table["status"] == ("drift" if drift else "in_sync")


def test_a_sentinel_against_null_in_mysql_is_drift(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """The other way round: a real NULL in MySQL is not the sentinel PostgreSQL holds."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE zn (id bigint PRIMARY KEY, d date NULL, dt datetime NULL)", []),
            ("INSERT INTO zn VALUES (1, NULL, NULL), (2, NULL, '0000-00-00 00:00:00')", []),
        ],
        [
            ("CREATE TABLE zn (id bigint PRIMARY KEY, d date, dt timestamp(0))", []),
            ("INSERT INTO zn VALUES (1, '-infinity', NULL), (2, NULL, '-infinity')", []),
        ],
        _mapping(
            "zn",
            [("id", "bigint"), ("d", "date"), ("dt", "datetime")],
            values={"zero_dates": "sentinel"},
        ),
    )
    table = _run(ends, folder, tmp_path)
    assert (table["status"], table["drift"]["different"]) == ("drift", 1)


def test_a_partial_zero_date_is_not_repaired_as_null(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """A date with a zero month ('2020-00-15') was read as None for the repair image too, so a
    repair wrote NULL over PostgreSQL's value and said applied; the stream makes such a change
    a dead letter instead. The repair fails now, naming the value, and PostgreSQL keeps its
    row."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE zp (id bigint PRIMARY KEY, d date NULL)", []),
            ("INSERT INTO zp VALUES (1, '2020-00-15')", []),
        ],
        [
            ("CREATE TABLE zp (id bigint PRIMARY KEY, d date)", []),
            ("INSERT INTO zp VALUES (1, '2020-01-15')", []),
        ],
        _mapping("zp", [("id", "bigint"), ("d", "date")], values={"zero_dates": "sentinel"}),
    )
    table = _run(ends, folder, tmp_path, repair=True, dry_run=False)
    assert table["drift"]["different"] == 1
    assert (table["status"], table["repairs"]) == ("drift", {"failed": 1})
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT d::text FROM zp").fetchone() == ("2020-01-15",)
        [(error,)] = conn.execute("SELECT error FROM mps_sync.reconcile_repairs").fetchall()
    assert "partial zero date" in error
    assert "2020-00-15" in error


def test_a_nul_byte_in_a_differing_value_is_reported_not_a_table_error(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """A MySQL text holding a NUL byte (its change was a dead letter under nul_bytes: fail, so
    PostgreSQL kept the old value) differs; storing the drift's shown values as jsonb failed
    (\\u0000 cannot be converted to text), so the table ended as an 'unexpected error' and no
    drift of it was reported at all."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE n (id bigint PRIMARY KEY, s varchar(20))", []),
            ("INSERT INTO n VALUES (%s, %s)", [(1, "a\x00b"), (2, "same")]),
        ],
        [
            ("CREATE TABLE n (id bigint PRIMARY KEY, s varchar(20))", []),
            ("INSERT INTO n VALUES (%s, %s)", [(1, "old"), (2, "same")]),
        ],
        _mapping("n", [("id", "bigint"), ("s", "varchar(20)")]),
    )
    table = _run(ends, folder, tmp_path)
    assert table["error"] is None
    assert (table["status"], table["drift"]["different"]) == ("drift", 1)
    with pg_connect(pg_db) as conn:
        [(shown,)] = conn.execute("SELECT column_values FROM mps_sync.reconcile_drift").fetchall()
    assert shown["s"]["postgres"] == "old"
    assert shown["s"]["mysql"] != "ab"  # the NUL is shown, not silently dropped


def test_nul_characters_stripped_by_the_mapping_are_not_drift_and_a_repair_clears(
    mysql_db, pg_db, mysql_admin, endpoints, tmp_path
) -> None:
    """Under values.nul_bytes: strip the stream and backfill store MySQL's 'a\\0b' as 'ab'.
    Reconcile compared MySQL's text with its NULs: such a row was `different` every night, and
    its repair (which strips again) never cleared it."""
    ends, folder = _setup(
        mysql_db,
        pg_db,
        mysql_admin,
        endpoints,
        tmp_path,
        [
            ("CREATE TABLE s (id bigint PRIMARY KEY, t varchar(20), c char(6))", []),
            (
                "INSERT INTO s VALUES (%s, %s, %s)",
                [(1, "a\x00b", "x \x00"), (2, "\x00", "\x00"), (3, "c\x00d", "y"), (4, "e", "z")],
            ),
        ],
        [
            ("CREATE TABLE s (id bigint PRIMARY KEY, t varchar(20), c char(6))", []),
            (
                "INSERT INTO s VALUES (%s, %s, %s)",
                [(1, "ab", "x"), (2, "", ""), (3, "cd-old", "y"), (4, "e", "z")],
            ),
        ],
        _mapping(
            "s",
            [("id", "bigint"), ("t", "varchar(20)"), ("c", "char(6)")],
            values={"nul_bytes": "strip"},
            reconcile={"authoritative": "mysql"},
        ),
    )
    first = _run(ends, folder, tmp_path, repair=True, dry_run=False)
    assert (first["drift"]["different"], first["repairs"]) == (1, {"applied": 1})  # row 3 only
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT t FROM s WHERE id = 3").fetchone() == ("cd",)
    again = _run(ends, folder, tmp_path)
    assert (again["status"], again["drift"]["different"]) == ("in_sync", 0)
