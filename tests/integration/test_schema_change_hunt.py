"""Schema changes made while a table streams (hunt): each change either reaches the other side
exactly or is reported (a dead letter naming table, key and column, a hold, drift); nothing
is silently lost or altered."""

from __future__ import annotations

import re
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    PipelineFactory,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO items (id, name, qty, price, updated_at, note) "
    "VALUES (%s, %s, %s, 1.50, '2026-01-01 10:00:00.5', %s)"
)
LETTERS = (
    "SELECT source_table, key->>'id', error_class, error FROM mps_sync.dead_letters "
    "WHERE resolved_at IS NULL ORDER BY (key->>'id')::int"
)


def _started(p: Pipeline, running: Any) -> None:
    with closing(p.mysql()) as conn:
        conn.cursor().executemany(INSERT, [(i, f"n{i}", i, f"note {i}") for i in (1, 2, 3)])
    drive(running, lambda: len(pg_rows(p, "SELECT id FROM public.items")) == 3)


def _alter(admin: DatabaseEndpoint, p: Pipeline, *sql: str) -> None:
    db = p.endpoints.mysql.database
    with closing(mysql_connect(replace(admin, database=db), autocommit=True)) as conn:
        for s in sql:
            conn.cursor().execute(s)


def _letters(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(p, LETTERS)


def test_mysql_int_retyped_to_decimal_is_not_truncated_in_postgres(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """The migration turns `qty int` into decimal(10,2) (and a double): PostgreSQL's integer
    column cannot hold 2.75, so the change must be a dead letter, not 2."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _alter(mysql_admin, p, "ALTER TABLE items MODIFY qty decimal(10,2)")
            with closing(p.mysql()) as conn:
                conn.cursor().execute("UPDATE items SET qty = 2.75, name = 'frac' WHERE id = 1")
                conn.cursor().execute("UPDATE items SET qty = 7.00, name = 'whole' WHERE id = 2")
            drive(
                running,
                lambda: (
                    pg_rows(p, "SELECT name FROM public.items WHERE id = 2") == [("whole",)]
                    and (
                        bool(_letters(p))
                        or pg_rows(p, "SELECT name FROM public.items WHERE id = 1") == [("frac",)]
                    )
                ),
            )
        print(pg_rows(p, "SELECT id, name, qty FROM public.items ORDER BY id"))
        print(_letters(p))
        assert pg_rows(p, "SELECT qty FROM public.items WHERE id = 2") == [(7,)]
        [(_, key, _, error)] = _letters(p)
        assert key == "1"
        assert "qty" in error
        assert pg_rows(p, "SELECT name, qty FROM public.items WHERE id = 1") == [("n1", 1)]


def test_postgres_integer_retyped_to_double_is_not_truncated_in_mysql(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """The PostgreSQL app turns `qty integer` into double precision and writes 2.5: MySQL's
    int column cannot hold it (MySQL itself would round it without an error)."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute("ALTER TABLE public.items ALTER COLUMN qty TYPE double precision")
                conn.execute("UPDATE public.items SET qty = 2.5, name = 'frac' WHERE id = 1")
                conn.execute("UPDATE public.items SET qty = 9, name = 'whole' WHERE id = 2")
            drive(
                running,
                lambda: (
                    mysql_rows(p, "SELECT name FROM items WHERE id = 2") == [("whole",)]
                    and (
                        bool(_letters(p))
                        or mysql_rows(p, "SELECT name FROM items WHERE id = 1") == [("frac",)]
                    )
                ),
            )
        print(mysql_rows(p, "SELECT id, name, qty FROM items ORDER BY id"))
        print(_letters(p))
        assert mysql_rows(p, "SELECT qty FROM items WHERE id = 2") == [(9,)]
        [(_, key, _, error)] = _letters(p)
        assert key == "1"
        assert "qty" in error
        assert mysql_rows(p, "SELECT name, qty FROM items WHERE id = 1") == [("n1", 1)]


def _with_column(p: Pipeline, column: dict[str, object], after: str | None = None) -> Pipeline:
    """The pipeline under its mapping with ``column`` added, as `mappings generate` writes it."""
    entry = p.mappings.tables[0].model_dump(mode="json", exclude_none=True)
    columns = list(entry["columns"])
    at = len(columns) if after is None else [c["name"] for c in columns].index(after) + 1
    columns.insert(at, column)
    entry["columns"] = columns
    return replace(p, mappings=MappingSet((TableMapping.model_validate(entry),)))


ALL_MYSQL = "SELECT id, name, coupon, qty, price, updated_at, note FROM items ORDER BY id"
ALL_PG = "SELECT id, name, coupon, qty, price, updated_at, note FROM public.items ORDER BY id"


def test_changes_from_before_an_added_column_apply_under_the_regenerated_mapping(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """README, Add a column: the migration adds `coupon`, `mappings generate` and `ddl` run,
    and the stream's next run carries the column. Changes made before the ALTER that were
    still in Kafka lack `coupon` because MySQL had no such column then: they are no rename or
    drop, and must apply (they were dead letters saying "renamed or dropped in MySQL")."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
        with closing(p.mysql()) as conn:  # the stream is stopped (between DAG runs)
            conn.cursor().execute("UPDATE items SET name = 'before' WHERE id = 1")
            conn.cursor().execute(
                "INSERT INTO items (id, name, qty, updated_at) VALUES (4, 'new before', 4, "
                "'2026-01-02 00:00:00')"
            )
        _alter(
            mysql_admin,
            p,
            "ALTER TABLE items ADD COLUMN coupon varchar(20) NULL DEFAULT 'none' AFTER name",
        )
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET name = 'after', coupon = 'X' WHERE id = 2")
        # `mappings generate`, then `ddl`
        added = _with_column(
            p,
            {"name": "coupon", "column_type": "varchar(20)", "default": "'none'"},
            after="name",
        )
        with closing(p.pg()) as conn:
            conn.execute("ALTER TABLE public.items ADD COLUMN coupon varchar(20) DEFAULT 'none'")
        with closing(added.consumer()) as running:
            drive(
                running,
                lambda: mysql_rows(p, ALL_MYSQL) == pg_rows(p, ALL_PG) or bool(_letters(p)),
                timeout_s=30,
            )
        assert _letters(p) == []
        assert pg_rows(p, ALL_PG) == mysql_rows(p, ALL_MYSQL)


ITEMS_ALL = "SELECT id, name, qty, price, updated_at, note FROM {}items ORDER BY id"


def _same_rows(p: Pipeline) -> bool:
    return mysql_rows(p, ITEMS_ALL.format("")) == pg_rows(p, ITEMS_ALL.format("public."))


def test_int_to_decimal_recovers_exactly_by_the_dead_letters_fix(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Following the dead letter's fix: `mappings generate` (the new type), `ddl` (refuses,
    printing the ALTER), the ALTER, `dead-letters retry`: both sides hold the same rows."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _alter(mysql_admin, p, "ALTER TABLE items MODIFY qty decimal(10,2)")
            with closing(p.mysql()) as conn:
                conn.cursor().execute("UPDATE items SET qty = 2.75 WHERE id = 1")
            drive(running, lambda: bool(_letters(p)), timeout_s=30)
        for name, value in p.env().items():
            monkeypatch.setenv(name, value)
        folder = tmp_path / "mappings"
        monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
        db = p.endpoints.mysql.database
        assert main(["mappings", "generate", "--database", db, "--out", str(folder)]) == 0
        capsys.readouterr()
        assert main(["ddl", "--mappings", str(folder)]) == 1
        err = capsys.readouterr().err
        assert "'qty'" in err, err
        [alter] = re.findall(r"ALTER TABLE \S+ ALTER COLUMN \"qty\" TYPE [^;)]+\)", err)
        with closing(p.pg()) as conn:
            conn.execute(alter)
        assert main(["ddl", "--mappings", str(folder)]) == 0
        assert main(["dead-letters", "retry", "--table", f"{db}.items"]) == 0
        fixed = replace(p, mappings=load_mappings(folder))
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET qty = 3.25 WHERE id = 2")
        with closing(fixed.consumer()) as running:
            drive(running, lambda: _same_rows(p), timeout_s=30)
        assert _letters(p) == []
        assert pg_rows(p, "SELECT qty FROM public.items ORDER BY id") == [
            (Decimal("2.75"),),
            (Decimal("3.25"),),
            (Decimal("3.00"),),
        ]


@pytest.mark.parametrize(
    ("alter", "update", "column"),
    [
        ("MODIFY price decimal(12,1)", "price = 2.25", "price"),
        (
            "MODIFY updated_at datetime NOT NULL",
            "updated_at = '2026-03-01 10:00:00.5'",
            "updated_at",
        ),
    ],
    ids=["decimal-scale", "datetime-fsp"],
)
def test_mysql_narrowed_column_does_not_round_postgres_writes_silently(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    alter: str,
    update: str,
    column: str,
) -> None:
    """The migration narrows a column's fractional digits; the mapping still says the old
    type. The PostgreSQL app writes a value with more digits than MySQL now keeps: MySQL
    rounds it without an error (DECIMAL, DATETIME), so unless the change is a dead letter
    the two sides differ for good."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _alter(mysql_admin, p, f"ALTER TABLE items {alter}")
            with closing(p.pg()) as conn:
                conn.execute(f"UPDATE public.items SET {update}, name = 'narrow' WHERE id = 1")
            drive(
                running,
                lambda: (
                    bool(_letters(p))
                    or mysql_rows(p, "SELECT name FROM items WHERE id = 1") == [("narrow",)]
                ),
                timeout_s=30,
            )
        mine = mysql_rows(p, f"SELECT {column} FROM items WHERE id = 1")
        theirs = pg_rows(p, f"SELECT {column} FROM public.items WHERE id = 1")
        letters = _letters(p)
        assert letters, f"MySQL rounded {theirs} to {mine} without a word"
        [(table, key, _, error)] = letters
        assert (table, key) == (f"{mysql_db.database}.items", "1")
        assert f"column {column!r}: MySQL's column {column!r} is " in error, error
        assert "make mappings-generate" in error
        assert "dead-letters retry --table" in error
        assert mysql_rows(p, "SELECT name FROM items WHERE id = 1") == [("n1",)]


def test_postgres_narrowed_column_does_not_round_mysql_writes_silently(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """The PostgreSQL app narrows `price` to numeric(12,1) (an ORM's schema sync, say); MySQL
    writes 2.25: PostgreSQL would round it to 2.3 without an error."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute("ALTER TABLE public.items ALTER COLUMN price TYPE numeric(12,1)")
            with closing(p.mysql()) as conn:
                conn.cursor().execute("UPDATE items SET price = 2.25, name = 'x' WHERE id = 1")
                conn.cursor().execute("UPDATE items SET price = 4.50, name = 'y' WHERE id = 2")
            drive(
                running,
                lambda: (
                    pg_rows(p, "SELECT name FROM public.items WHERE id = 2") == [("y",)]
                    and (
                        bool(_letters(p))
                        or pg_rows(p, "SELECT name FROM public.items WHERE id = 1") == [("x",)]
                    )
                ),
                timeout_s=30,
            )
        [(_, key, _, error)] = _letters(p)
        assert key == "1"
        assert "column 'price': PostgreSQL's column 'price' is numeric(12,1) now" in error, error
        assert pg_rows(
            p, "SELECT name, price FROM public.items WHERE id IN (1, 2) ORDER BY id"
        ) == [
            ("n1", Decimal("1.5")),
            ("y", Decimal("4.5")),
        ]


def test_unmapped_drop_index_changes_and_a_narrower_charset_lose_nothing_silently(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """Control: MySQL drops a column the mapping does not list, adds and drops an index, and
    turns `name` latin1. PostgreSQL's value latin1 cannot hold is a dead letter naming the
    column; everything else converges row by row."""
    mysql_ddl = ITEMS_MYSQL.replace("note text)", "note text, legacy int)")
    with make_pipeline([items_mapping(mysql_db.database)], [mysql_ddl], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _alter(
                mysql_admin,
                p,
                "ALTER TABLE items DROP COLUMN legacy",
                "ALTER TABLE items ADD INDEX ix_name (name)",
                "ALTER TABLE items DROP INDEX ix_name",
                "ALTER TABLE items MODIFY name varchar(64) CHARACTER SET latin1",
            )
            with closing(p.pg()) as conn:
                conn.execute("UPDATE public.items SET name = '漢字' WHERE id = 1")
                conn.execute("UPDATE public.items SET name = 'Müller' WHERE id = 2")
            with closing(p.mysql()) as conn:
                conn.cursor().execute("UPDATE items SET qty = 33 WHERE id = 3")
            drive(
                running,
                lambda: (
                    bool(_letters(p))
                    and mysql_rows(p, "SELECT name FROM items WHERE id = 2") == [("Müller",)]
                    and pg_rows(p, "SELECT qty FROM public.items WHERE id = 3") == [(33,)]
                ),
                timeout_s=30,
            )
        [(_, key, _, error)] = _letters(p)
        assert key == "1"
        assert "name" in error, error
        mine, theirs = mysql_rows(p, ITEMS_ALL.format("")), pg_rows(p, ITEMS_ALL.format("public."))
        assert mine[1:] == theirs[1:]
        assert mine[0][1] == "n1"


def test_a_not_null_column_the_postgres_app_adds_without_default_is_named_with_its_fix(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PostgreSQL app adds `flag NOT NULL` (a default for its rows, then dropped, as ORMs
    migrate): MySQL's new rows cannot fill it. Each is a dead letter naming the column, and
    `ddl` names it with the fix; after the fix the retry converges."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute(
                    "ALTER TABLE public.items ADD COLUMN flag boolean NOT NULL DEFAULT false"
                )
                conn.execute("ALTER TABLE public.items ALTER COLUMN flag DROP DEFAULT")
            with closing(p.mysql()) as conn:
                conn.cursor().execute(INSERT, (4, "n4", 4, "note 4"))
            drive(running, lambda: bool(_letters(p)), timeout_s=30)
        [(table, key, _, error)] = _letters(p)
        assert (table, key) == (f"{mysql_db.database}.items", "4")
        assert '"flag"' in error, error
        for name, value in p.env().items():
            monkeypatch.setenv(name, value)
        folder = tmp_path / "mappings"
        monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
        assert (
            main(["mappings", "generate", "--database", mysql_db.database, "--out", str(folder)])
            == 0
        )
        capsys.readouterr()
        assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 1
        err = capsys.readouterr().err
        assert "'flag'" in err, err
        assert "DROP NOT NULL" in err, err
        with closing(p.pg()) as conn:
            conn.execute("ALTER TABLE public.items ALTER COLUMN flag SET DEFAULT false")
        assert main(["dead-letters", "retry", "--table", f"{mysql_db.database}.items"]) == 0
        assert _letters(p) == []
        assert _same_rows(p)
