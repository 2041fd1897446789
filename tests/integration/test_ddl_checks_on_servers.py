"""The CHECKs `ddl` gives a table synced to MySQL, on the real servers: PostgreSQL refuses
what the MySQL column cannot hold (MariaDB refuses the same value) and takes the boundary values
MariaDB holds; an existing table gets them NOT VALID, then validated; and the ALTER printed for
a tinyint(1) remapped from boolean to smallint runs as printed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.ddl import plan_ddl
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint


@dataclass(frozen=True)
class Case:
    """A column: its MySQL type (and pg_type), values both engines hold, values both refuse
    (``mysql_refused``: as MySQL writes them; None where MySQL has no way to write it)."""

    name: str
    column_type: str
    pg_accepted: tuple[str, ...]
    pg_refused: tuple[str, ...]
    mysql_accepted: tuple[str, ...] = ()
    mysql_refused: tuple[str, ...] = ()
    pg_type: str | None = None


CASES = (
    Case(
        "ts",
        "timestamp",
        ("1970-01-01 00:00:01+00", "2038-01-19 03:14:07+00", "2038-01-19 05:14:07+02"),
        ("1970-01-01 00:00:00+00", "2038-01-19 03:14:08+00", "2040-01-01+00", "infinity"),
        ("1970-01-01 00:00:01", "2038-01-19 03:14:07"),
        ("1970-01-01 00:00:00", "2038-01-19 03:14:08", "2040-01-01 00:00:00"),
    ),
    Case(
        "ts6",
        "timestamp(6)",
        ("1970-01-01 00:00:00.000001+00", "2038-01-19 03:14:07.999999+00"),
        ("1970-01-01 00:00:00+00", "1969-12-31 23:59:59+00", "-infinity"),
        ("1970-01-01 00:00:00.000001", "2038-01-19 03:14:07.999999"),
        ("1970-01-01 00:00:00.000000", "1969-12-31 23:59:59"),
    ),
    Case(
        "dt",
        "datetime(6)",
        ("0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"),
        ("0001-12-31 23:59:59 BC", "10000-01-01 00:00:00", "infinity", "-infinity"),
        ("0001-01-01 00:00:00", "9999-12-31 23:59:59.999999"),
        ("10000-01-01 00:00:00",),
    ),
    Case(
        "d",
        "date",
        ("0001-01-01", "9999-12-31"),
        ("0001-01-01 BC", "10000-01-01", "infinity", "-infinity"),
        ("0001-01-01", "9999-12-31"),
        ("10000-01-01",),
    ),
    Case(
        "tm",
        "time",
        ("838:59:59", "-838:59:59", "838:59:59.999999", "34 days 22:59:59", "-1 day -2 hours"),
        ("839:00:00", "-839:00:00", "900:00:00", "35 days", "1 mon", "1 year", "-1 mon"),
        ("838:59:59", "-838:59:59", "34 22:59:59", "-1 02:00:00"),
        ("839:00:00", "-839:00:00", "900:00:00"),
        pg_type="interval",
    ),
    Case("f", "float", ("3.4028235e38", "-1.5"), ("NaN", "Infinity", "-Infinity")),
    Case("dbl", "double unsigned", ("1.7976931348623157e308", "0"), ("NaN", "Infinity")),
    Case("n", "decimal(10,2)", ("99999999.99", "-99999999.99"), ("NaN",)),
    Case(
        "tb",
        "tinyint(1)",
        ("-128", "127", "2"),
        ("128", "-129", "300"),
        ("-128", "127", "2"),
        ("128", "-129"),
        pg_type="smallint",
    ),
    Case(
        "tbu",
        "tinyint(1) unsigned",
        ("0", "255"),
        ("-1", "256"),
        ("0", "255"),
        ("-1", "256"),
        pg_type="smallint",
    ),
)


def _write_mappings(folder: Path, columns: list[dict[str, Any]], direction: str = "both") -> Path:
    folder.mkdir(exist_ok=True)
    entry = {
        "source": "legacy.adv",
        "target": "public.adv",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, *columns],
        "direction": direction,
    }
    (folder / "legacy.adv.yaml").write_text(yaml.safe_dump([entry]))
    return folder


def _case_columns() -> list[dict[str, Any]]:
    return [
        {
            "name": c.name,
            "column_type": c.column_type,
            **({"pg_type": c.pg_type} if c.pg_type else {}),
        }
        for c in CASES
    ]


@pytest.fixture
def target(pg_db: DatabaseEndpoint, monkeypatch: pytest.MonkeyPatch) -> DatabaseEndpoint:
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    return pg_db


@pytest.fixture
def strict_mysql(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> Iterator[Any]:
    """A MariaDB table of the same columns, in the stream applier's strict mode, at UTC."""
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    cur = conn.cursor()
    cur.execute("SET SESSION sql_mode = 'STRICT_ALL_TABLES', time_zone = '+00:00'")
    body = ", ".join(f"`{c.name}` {c.column_type} NULL" for c in CASES)
    cur.execute(f"CREATE TABLE adv (id int PRIMARY KEY AUTO_INCREMENT, {body})")
    try:
        yield cur
    finally:
        conn.close()


def _pg_insert(conn: psycopg.Connection[Any], column: str, value: str) -> None:
    conn.execute(f'INSERT INTO public.adv (id, "{column}") VALUES (DEFAULT, %s)', (value,))


def test_postgres_refuses_what_mysql_cannot_hold_and_takes_its_boundaries(
    target: DatabaseEndpoint, strict_mysql: Any, tmp_path: Path
) -> None:
    folder = _write_mappings(tmp_path / "m", _case_columns())
    # an id PostgreSQL generates, as the app would let it
    mapping = load_mappings(folder)
    assert main(["ddl", "--mappings", str(folder)]) == 0
    with pg_connect(target, autocommit=True) as conn:
        conn.execute("CREATE SEQUENCE adv_ids")
        conn.execute("ALTER TABLE public.adv ALTER COLUMN id SET DEFAULT nextval('adv_ids')")
        for case in CASES:
            for value in case.pg_accepted:
                _pg_insert(conn, case.name, value)
            for value in case.pg_refused:
                with pytest.raises(psycopg.errors.CheckViolation, match=f"adv_{case.name}_"):
                    _pg_insert(conn, case.name, value)
    assert mapping.by_source("legacy.adv").column("tb").kind == "int"
    # MariaDB, as the applier writes it: the same boundaries hold, the values beyond fail
    for case in CASES:
        for value in case.mysql_accepted:
            strict_mysql.execute(f"INSERT INTO adv (`{case.name}`) VALUES (%s)", (value,))
        for value in case.mysql_refused:
            with pytest.raises(Exception, match=r"Incorrect|Out of range"):
                strict_mysql.execute(f"INSERT INTO adv (`{case.name}`) VALUES (%s)", (value,))


def _create_without_the_new_checks(target: DatabaseEndpoint, folder: Path) -> None:
    """The table as ddl created it before: a one-way plan has none of the written-back CHECKs."""
    one_way = load_mappings(_write_mappings(folder, _case_columns(), direction="mysql_to_pg"))
    with pg_connect(target, autocommit=True) as conn:
        for statement in plan_ddl(MappingSet(one_way.tables)):
            conn.execute(statement.encode())


def test_an_existing_table_gets_them_not_valid_then_validated(
    target: DatabaseEndpoint, tmp_path: Path
) -> None:
    _create_without_the_new_checks(target, tmp_path / "old")
    with pg_connect(target, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO public.adv (id, ts, f, tm) VALUES (1, '2020-01-01+00', 1.5, '1:00')"
        )
    folder = _write_mappings(tmp_path / "m", _case_columns())
    assert main(["ddl", "--mappings", str(folder)]) == 0
    with pg_connect(target) as conn:
        checks = dict(
            conn.execute(
                "SELECT conname, convalidated FROM pg_constraint "
                "WHERE conrelid = 'public.adv'::regclass AND contype = 'c'"
            ).fetchall()
        )
    added = ("ts", "ts6", "dt", "d", "tm", "f", "dbl", "n")
    assert {f"adv_{c}_{'finite' if c in ('f', 'dbl', 'n') else 'range'}" for c in added} <= {
        name for name, valid in checks.items() if valid
    }


def test_rows_there_that_break_one_are_named_and_the_check_holds_for_new_rows(
    target: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_without_the_new_checks(target, tmp_path / "old")
    with pg_connect(target, autocommit=True) as conn:
        conn.execute("INSERT INTO public.adv (id, f, d) VALUES (1, 'NaN', '2020-01-01')")
    folder = _write_mappings(tmp_path / "m", _case_columns())
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert 'break constraint "adv_f_finite"' in err
    assert 'SELECT * FROM "public"."adv" WHERE NOT' in err
    with pg_connect(target, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.CheckViolation, match="adv_f_finite"):
            conn.execute("INSERT INTO public.adv (id, f) VALUES (2, 'Infinity')")
        with pytest.raises(psycopg.errors.CheckViolation, match="adv_d_range"):
            conn.execute("INSERT INTO public.adv (id, d) VALUES (3, 'infinity')")


def test_a_boolean_tinyint_1_retyped_to_smallint_gets_an_alter_that_runs(
    target: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = {"name": "tb", "column_type": "tinyint(1)", "nullable": False, "default": "0"}
    old = load_mappings(_write_mappings(tmp_path / "old", [flag]))
    with pg_connect(target, autocommit=True) as conn:
        for statement in plan_ddl(MappingSet(old.tables)):
            conn.execute(statement.encode())
        conn.execute("INSERT INTO public.adv (id, tb) VALUES (1, true), (2, false)")
    folder = _write_mappings(tmp_path / "m", [{**flag, "pg_type": "smallint"}])
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    found = re.search(r"after checking the rows fit: (ALTER TABLE .*?); or set", err)
    assert found, err
    alter = found.group(1)
    assert 'TYPE smallint USING "tb"::integer' in alter
    with pg_connect(target, autocommit=True) as conn:
        conn.execute(alter.encode())  # as printed
    assert main(["ddl", "--mappings", str(folder)]) == 0
    with pg_connect(target, autocommit=True) as conn:
        rows = conn.execute("SELECT id, tb FROM public.adv ORDER BY id").fetchall()
        assert rows == [(1, 1), (2, 0)]
        conn.execute("INSERT INTO public.adv (id) VALUES (3)")  # the mapping's default, 0
        conn.execute("INSERT INTO public.adv (id, tb) VALUES (4, 2)")
        assert conn.execute("SELECT tb FROM public.adv WHERE id = 3").fetchone() == (0,)
        with pytest.raises(psycopg.errors.CheckViolation, match="adv_tb_range"):
            conn.execute("INSERT INTO public.adv (id, tb) VALUES (5, 300)")
