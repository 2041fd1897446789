"""Where the stored type already prints the canonical form, the short canonical text (MySQL: no
ROUND, no DATE_FORMAT, no CAST to DOUBLE; PostgreSQL: no round(), a date's cast instead of
to_char) is byte for byte the general form, edge values and zero dates included; a column whose
type differs from the short form's keeps the general one."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as dialect
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.dialects.stored_type import StoredType
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

# column, MySQL type, reconcile kind, mapping scale, values
CASES = [
    ("c_dec", "decimal(12,2)", "decimal", 2, ["0.00", "-0.01", "9999999999.99", "12.50", None]),
    (
        "c_dt6",
        "datetime(6)",
        "datetime",
        0,
        [
            "0000-00-00 00:00:00",
            "1000-01-01 00:00:00.000001",
            "2024-02-29 23:59:59.999999",
            "2020-00-00 00:00:00",
            "2019-01-01 00:00:17",
            None,
        ],
    ),
    (
        "c_ts6",
        "timestamp(6) NULL",
        "timestamp",
        0,
        [
            "0000-00-00 00:00:00",
            "1970-01-01 00:00:01",
            "2038-01-19 03:14:07.999999",
            None,
        ],
    ),
    (
        "c_dt0",
        "datetime",
        "datetime",
        0,
        ["0000-00-00 00:00:00", "1000-01-01 00:00:00", "2019-01-01 00:00:10", None],
    ),
    (
        "c_dt3",
        "datetime(3)",
        "datetime",
        0,
        ["0000-00-00 00:00:00", "2019-01-01 00:00:10", "2019-01-01 00:00:10.120", None],
    ),
    ("c_date", "date", "date", 0, ["0000-00-00", "1000-01-01", "9999-12-31", "2020-00-00", None]),
    (
        "c_double",
        "double",
        "float",
        0,
        [
            "0",
            "-0",
            "0.1",
            "1e-4",
            "9.99e-5",
            "1e15",
            "999999999999999.9",
            "-1.5e-7",
            "5e-324",
            "1.7976931348623157e308",
            "0.30000000000000004",
            None,
        ],
    ),
    ("c_bool", "tinyint(1)", "bool", 0, ["0", "1", "-1", "127", None]),
]
# the forms bool and date had before their one form became cheaper
REFERENCE = {
    "bool": "(CASE WHEN `c_bool` <> 0 THEN '1' WHEN `c_bool` = 0 THEN '0' END)",
    "date": "NULLIF(CAST(`c_date` AS CHAR), '0000-00-00')",
}


@pytest.fixture
def table(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> tuple[DatabaseEndpoint, dict[str, StoredType]]:
    cols = ", ".join(f"`{name}` {mysql_type}" for name, mysql_type, *_ in CASES)
    rows = max(len(values) for *_, values in CASES)
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SET SESSION sql_mode = ''")  # zero dates, as a CodeIgniter app writes them
        cur.execute(f"CREATE TABLE t (id int PRIMARY KEY, {cols})")
        for i in range(rows):
            names = [name for name, *_ in CASES]
            values = [case[4][i] if i < len(case[4]) else None for case in CASES]
            cur.execute(
                f"INSERT INTO t (id, {', '.join(names)}) VALUES (%s{', %s' * len(names)})",
                (i, *values),
            )
        cur.execute(dialect.table_columns_sql(), (mysql_db.database, "t"))
        stored = {r[0]: StoredType.from_row(r[2], r[3], r[4]) for r in cur.fetchall()}
    return mysql_db, stored


def _texts(db: DatabaseEndpoint, expressions: list[str]) -> list[tuple[object, ...]]:
    with mysql_connect(db) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT {', '.join(expressions)} FROM t ORDER BY id".replace("%%", "%"))
        return list(cur.fetchall())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_short_form_prints_what_the_general_form_prints(
    table: tuple[DatabaseEndpoint, dict[str, StoredType]], case: tuple
) -> None:
    db, stored = table
    name, _, kind, scale, _ = case
    short = dialect.canonical_text_sql(f"`{name}`", kind, scale=scale, stored=stored[name])
    general = REFERENCE.get(kind, dialect.canonical_text_sql(f"`{name}`", kind, scale=scale))
    assert short != general, f"{name}: the stored type {stored[name]} took no shortcut"
    rows = _texts(db, [short, general])
    assert [r[0] for r in rows] == [r[1] for r in rows]
    if kind in ("date", "datetime", "timestamp"):
        assert rows[0] == (None, None), f"{name}: the zero date must read as NULL"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_the_implicit_form_concatenates_to_the_canonical_text(
    table: tuple[DatabaseEndpoint, dict[str, StoredType]], case: tuple
) -> None:
    """Inside the row hash a column may keep its own type (no CAST): CONCAT prints it as the
    canonical text, byte for byte, NULL and the zero date included."""
    db, stored = table
    name, _, kind, scale, _ = case
    for stored_type in (stored[name], None):
        explicit = dialect.canonical_text_sql(f"`{name}`", kind, scale=scale, stored=stored_type)
        implicit = dialect.canonical_text_sql(
            f"`{name}`", kind, scale=scale, stored=stored_type, implicit=True
        )
        rows = _texts(db, [f"CONCAT('', {implicit})", explicit])
        assert [r[0] for r in rows] == [r[1] for r in rows], f"{name}, stored as {stored_type}"


def test_integers_and_bits_concatenate_to_their_canonical_text(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    admin = replace(mysql_admin, database=mysql_db.database)
    columns = [("c_u64", "bigint unsigned", "int"), ("c_i8", "tinyint", "int")]
    columns += [("c_bit", "bit(64)", "bit"), ("c_dec0", "decimal(20,0)", "int")]
    values = [
        ("18446744073709551615", "-128", "18446744073709551615", "-99999999999999999999"),
        ("0", "127", "0", "0"),
        (None, None, None, None),
    ]
    with mysql_connect(admin, autocommit=True) as conn:
        cur = conn.cursor()
        cols = ", ".join(f"{name} {t}" for name, t, _ in columns)
        cur.execute(f"CREATE TABLE n (id int PRIMARY KEY, {cols})")
        for i, (u64, i8, bits, dec0) in enumerate(values):
            cur.execute(
                "INSERT INTO n VALUES (%s, %s, %s, CAST(%s AS UNSIGNED), %s)",
                (i, u64, i8, bits, dec0),
            )
        exprs = []
        for name, _, kind in columns:
            implicit = dialect.canonical_text_sql(name, kind, implicit=True)
            exprs += [f"CONCAT('', {implicit})", dialect.canonical_text_sql(name, kind)]
        cur.execute(f"SELECT {', '.join(exprs)} FROM n ORDER BY id")
        rows = list(cur.fetchall())
    for row in rows:
        assert row[0::2] == row[1::2]
    assert rows[0][1] == "18446744073709551615"
    assert rows[0][5] == "18446744073709551615"
    assert rows[2] == (None,) * 8


def test_a_stored_type_that_differs_keeps_the_general_form() -> None:
    cases = [
        ("decimal", 2, StoredType("decimal", 4, None)),  # the mapping rounds to 2 places
        ("datetime", 0, StoredType("varchar", None, None)),  # a date kept as text: formatted
        ("float", 0, StoredType("float", None, None)),  # FLOAT prints 6 digits only
    ]
    for kind, scale, stored in cases:
        assert dialect.canonical_text_sql("c", kind, scale=scale, stored=stored) == (
            dialect.canonical_text_sql("c", kind, scale=scale)
        )


# PostgreSQL: column, type, kind, mapping scale, values
PG_CASES = [
    ("c_num", "numeric(12,2)", "decimal", 2, ["0.00", "-0.01", "9999999999.99", "12.5", None]),
    ("c_date", "date", "date", 0, ["0001-01-01", "0099-12-31", "1000-01-01", "9999-12-31", None]),
]
# the form a date had before its cast became the canonical text
PG_REFERENCE = {"date": "to_char(\"c_date\", 'YYYY-MM-DD')"}


@pytest.mark.parametrize("case", PG_CASES, ids=[c[0] for c in PG_CASES])
def test_the_postgres_short_form_prints_what_the_general_form_prints(
    pg_db: DatabaseEndpoint, case: tuple
) -> None:
    name, pg_type, kind, scale, values = case
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE t (id int PRIMARY KEY, "{name}" {pg_type})')
        for i, value in enumerate(values):
            conn.execute(f"INSERT INTO t VALUES (%s, %s::{pg_type})", (i, value))
        row = conn.execute(pg_dialect.table_columns_sql(), ("public", "t")).fetchall()[1]
        stored = StoredType.from_row(row[2], row[3], row[4])
        column = f'"{name}"'
        short = pg_dialect.canonical_text_sql(
            column, kind, scale=scale, pg_type=pg_type, stored=stored
        )
        general = PG_REFERENCE.get(
            kind, pg_dialect.canonical_text_sql(column, kind, scale=scale, pg_type=pg_type)
        )
        assert short != general, f"{name}: the stored type {stored} took no shortcut"
        rows = conn.execute(f"SELECT {short}, {general} FROM t ORDER BY id").fetchall()
        # whatever DateStyle the server or database was set up with
        conn.execute(f"ALTER DATABASE \"{pg_db.database}\" SET DateStyle = 'SQL, DMY'")
    assert [r[0] for r in rows] == [r[1] for r in rows]
    assert rows[-1] == (None, None)
    with pg_connect(pg_db) as fresh:
        again = fresh.execute(f"SELECT {short}, {general} FROM t ORDER BY id").fetchall()
    assert again == rows, "pg_connect must fix DateStyle at ISO for every session"


def test_a_postgres_numeric_at_another_scale_keeps_round() -> None:
    for stored in (StoredType("numeric", 4, None), StoredType("numeric", None, None)):
        sql = pg_dialect.canonical_text_sql("c", "decimal", scale=2, stored=stored)
        assert sql == "round(c, 2)::text"


DATETIMES = [
    "2019-01-01 00:00:17",
    "2019-01-01 00:00:17.120000",
    "2019-01-01 00:00:17.000001",
    "2019-01-01 00:00:10.500000",
    "1999-12-31 23:59:59",
    "2038-01-19 03:14:07.999999",  # TIMESTAMP's last second
    None,
]


def test_both_engines_print_the_same_datetime_text(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint
) -> None:
    """The canonical datetime text (PostgreSQL's cast: trailing fractional zeros dropped, no '.'
    for a whole second) is what MySQL prints after trimming, for every stored precision."""
    mysql_types = ["datetime(6)", "timestamp(6) NULL"]
    pg_types = ["timestamp(6)", "timestamptz(6)"]
    admin = replace(mysql_admin, database=mysql_db.database)
    with mysql_connect(admin, autocommit=True) as conn:
        cur = conn.cursor()
        cols = ", ".join(f"c{i} {t}" for i, t in enumerate(mysql_types))
        cur.execute(f"CREATE TABLE dt (id int PRIMARY KEY, {cols})")
        for i, v in enumerate(DATETIMES):
            cur.execute("INSERT INTO dt VALUES (%s, %s, %s)", (i, v, v))
        cur.execute(dialect.table_columns_sql(), (mysql_db.database, "dt"))
        stored = [StoredType.from_row(r[2], r[3], r[4]) for r in cur.fetchall()][1:]
        texts = [
            dialect.canonical_text_sql(f"c{i}", "datetime", stored=s) for i, s in enumerate(stored)
        ]
        general = [dialect.canonical_text_sql(f"c{i}", "datetime") for i in range(len(stored))]
        cur.execute(f"SELECT {', '.join(texts + general)} FROM dt ORDER BY id".replace("%%", "%"))
        mysql_rows = list(cur.fetchall())
    with pg_connect(pg_db, autocommit=True) as conn:
        cols = ", ".join(f"c{i} {t}" for i, t in enumerate(pg_types))
        conn.execute(f"CREATE TABLE dt (id int PRIMARY KEY, {cols})")
        for i, v in enumerate(DATETIMES):
            conn.execute("INSERT INTO dt VALUES (%s, %s, %s)", (i, v, v))
        texts = [
            pg_dialect.canonical_text_sql(f"c{i}", "datetime", pg_type=t)
            for i, t in enumerate(pg_types)
        ]
        pg_rows = conn.execute(f"SELECT {', '.join(texts)} FROM dt ORDER BY id").fetchall()
    assert [r[:2] for r in mysql_rows] == [tuple(r) for r in pg_rows]
    assert [r[2:] for r in mysql_rows] == [tuple(r) for r in pg_rows]  # the general form too
    assert pg_rows[0] == ("2019-01-01 00:00:17",) * 2
    assert pg_rows[1][0] == "2019-01-01 00:00:17.12"
