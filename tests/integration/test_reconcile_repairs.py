"""Repairs through the real stream applier: what a repaired row holds, and who wins it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, 123456)

MYSQL_DDL = [
    "CREATE TABLE notes (id bigint PRIMARY KEY, name varchar(20), note varchar(20) NOT NULL)",
    "CREATE TABLE lww (id bigint PRIMARY KEY, name varchar(20), updated_at datetime(6) NULL)",
    "CREATE TABLE versioned (id bigint PRIMARY KEY, name varchar(20), ver int NOT NULL)",
]
PG_DDL = [
    "CREATE TABLE notes (id bigint PRIMARY KEY, name varchar(20), note varchar(20) NOT NULL)",
    "CREATE TABLE lww (id bigint PRIMARY KEY, name varchar(20), updated_at timestamp(6) NULL)",
    "CREATE TABLE versioned (id bigint PRIMARY KEY, name varchar(20), ver integer NOT NULL)",
]
ROWS: dict[str, list[tuple[Any, ...]]] = {
    "notes": [(i, f"n{i}", f"note {i}") for i in range(1, 21)],
    "lww": [(i, f"n{i}", T0 if i != 2 else None) for i in range(1, 21)],
    "versioned": [(i, f"n{i}", 10) for i in range(1, 21)],
}
PG_DRIFT = [
    "DELETE FROM notes WHERE id = 7",  # missing: re-inserted from MySQL, note included
    "UPDATE notes SET name = 'pg', note = 'pg note' WHERE id = 8",  # different (name)
    # authoritative: postgres, but the applier gives a tie, and NULL against NULL, to MySQL
    "UPDATE lww SET name = 'pg' WHERE id IN (1, 2)",
    # authoritative: postgres, but MySQL's row has the higher version
    "UPDATE versioned SET name = 'pg', ver = 9 WHERE id = 1",
]


def _mapping(table: str, columns: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    return {
        "source": f"{{db}}.{table}",
        "target": f"public.{table}",
        "key": ["id"],
        "columns": [{"name": n, "column_type": t} for n, t in columns],
        **extra,
    }


MAPPINGS = [
    _mapping(
        "notes",
        [("id", "bigint"), ("name", "varchar(20)"), ("note", "varchar(20)")],
        reconcile={"ignore_columns": ["note"]},
    ),
    _mapping(
        "lww",
        [("id", "bigint"), ("name", "varchar(20)"), ("updated_at", "datetime(6)")],
        conflict={"rule": "last_writer_wins", "column": "updated_at"},
        reconcile={"authoritative": "postgres"},
    ),
    _mapping(
        "versioned",
        [("id", "bigint"), ("name", "varchar(20)"), ("ver", "int(11)")],
        conflict={"rule": "version", "column": "ver"},
        reconcile={"authoritative": "postgres"},
    ),
]


@pytest.fixture
def setup(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, Path]:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        for ddl in MYSQL_DDL:
            cur.execute(ddl)
        for table, rows in ROWS.items():
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)
    with pg_connect(pg_db, autocommit=True) as conn:
        for ddl in PG_DDL:
            conn.execute(ddl)  # type: ignore[arg-type]
        with conn.cursor() as cur:
            for table, rows in ROWS.items():
                cur.executemany(f"INSERT INTO {table} VALUES (%s, %s, %s)", rows)  # type: ignore[arg-type]
        for statement in PG_DRIFT:
            conn.execute(statement)  # type: ignore[arg-type]
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = yaml.safe_dump(MAPPINGS).replace("{db}", mysql_db.database)
    (folder / "tables.yaml").write_text(text)
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _params(folder: Path, *tables: str, **kw: Any) -> ReconcileParams:
    return ReconcileParams(
        mappings=str(folder), tables=tables, recheck_delay_s=0, segment_rows=100, **kw
    )


def _repairs(ends: Endpoints, run_id: int) -> list[tuple[Any, ...]]:
    with pg_connect(ends.postgres) as conn:
        return conn.execute(
            "SELECT source_table, key, write_to, decided_by, status, error "
            "FROM mps_sync.reconcile_repairs WHERE run_id = %s ORDER BY source_table, key",
            (run_id,),
        ).fetchall()


def test_a_repaired_row_keeps_the_values_of_its_ignored_columns(setup, tmp_path) -> None:
    """ignore_columns means "not compared": a re-inserted row must not lose (or fail on) them,
    or no later reconcile could ever see the damage."""
    ends, folder = setup
    run, _, _ = reconcile_all(
        ends, _params(folder, "notes", repair=True, dry_run=False), folder=tmp_path
    )
    (notes,) = run["tables"]
    assert notes["drift"] == {"missing": 1, "extra": 0, "different": 1}
    assert notes["status"] == "repaired", _repairs(ends, run["run_id"])
    assert notes["repairs"] == {"applied": 2}
    with pg_connect(ends.postgres) as conn:
        rows = conn.execute("SELECT id, name, note FROM notes WHERE id IN (7, 8) ORDER BY id")
        # the winner's whole row: the ignored note too, on the different row as well
        assert rows.fetchall() == [(7, "n7", "note 7"), (8, "n8", "note 8")]


def test_rows_on_both_sides_go_to_the_side_the_applier_lets_win(setup, tmp_path) -> None:
    """PostgreSQL is authoritative, but the applier enforces the conflict rule: a tie (and NULL
    against NULL) under last_writer_wins goes to MySQL, and so does the higher version. A
    repair planned the other way would be skipped by the applier and fail every night."""
    ends, folder = setup
    params = _params(folder, "lww", "versioned", repair=True, dry_run=False)
    run, _, _ = reconcile_all(ends, params, folder=tmp_path)
    by_name = {t["table"].split(".")[1]: t for t in run["tables"]}
    repairs = _repairs(ends, run["run_id"])
    assert by_name["lww"]["status"] == "repaired", repairs
    assert by_name["versioned"]["status"] == "repaired", repairs
    assert [(t.split(".")[1], k, w, d, s) for t, k, w, d, s, _ in repairs] == [
        ("lww", [1], "postgres", "last_writer_wins:updated_at", "applied"),
        ("lww", [2], "postgres", "last_writer_wins:updated_at", "applied"),
        ("versioned", [1], "postgres", "version:ver", "applied"),
    ]
    with pg_connect(ends.postgres) as conn:
        assert conn.execute("SELECT name FROM lww WHERE id IN (1, 2)").fetchall() == [
            ("n1",),
            ("n2",),
        ]
        assert conn.execute("SELECT name, ver FROM versioned WHERE id = 1").fetchone() == (
            "n1",
            10,
        )
    again, _, _ = reconcile_all(ends, _params(folder, "lww", "versioned"), folder=tmp_path)
    assert [t["status"] for t in again["tables"]] == ["in_sync", "in_sync"]
