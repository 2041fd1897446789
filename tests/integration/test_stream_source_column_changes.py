"""A mapped column renamed or dropped in the source while the table streams. The stream used to
apply the other columns and leave the column's new values behind without a word (an edit of a
renamed column never reached the other side). Now such a MySQL change is a dead letter naming
the column and the fix, and `dead-letters retry` writes the row once the mapping follows; a
PostgreSQL change waits for MySQL's column; a table dropped in MySQL holds only itself."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    PipelineFactory,
    drive,
    held_reason,
    items_mapping,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO items (id, name, qty, price, updated_at, note) "
    "VALUES (%s, %s, %s, 1.50, '2026-01-01 10:00:00.5', %s)"
)


def _started(p: Pipeline) -> None:
    with closing(p.mysql()) as conn:
        conn.cursor().executemany(INSERT, [(i, f"n{i}", i, f"note {i}") for i in (1, 2, 3)])
    with closing(p.consumer()) as running:
        drive(running, lambda: len(pg_rows(p, "SELECT id FROM public.items")) == 3)


def _alter(admin: DatabaseEndpoint, p: Pipeline, sql: str) -> None:
    db = p.endpoints.mysql.database
    with closing(mysql_connect(replace(admin, database=db), autocommit=True)) as conn:
        conn.cursor().execute(sql)


def _with_columns(p: Pipeline, columns: list[dict[str, object]]) -> Pipeline:
    entry = p.mappings.tables[0].model_dump(mode="json", exclude_none=True)
    entry["columns"] = columns
    return replace(p, mappings=MappingSet((TableMapping.model_validate(entry),)))


LETTERS = (
    "SELECT key->>'id', error_class, error FROM mps_sync.dead_letters "
    "WHERE resolved_at IS NULL ORDER BY (key->>'id')::int"
)


def _retry(p: Pipeline, table: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """`dead-letters retry --table`, with the pipeline's mappings as files."""
    folder.mkdir(exist_ok=True)
    entries = [dump_yaml_entry(t) for t in p.mappings]
    (folder / "items.yaml").write_text(yaml.safe_dump(entries))
    for name, value in p.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    return main(["dead-letters", "retry", "--table", table])


def test_a_column_renamed_in_mysql_is_a_dead_letter_until_the_mapping_follows(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = items_mapping(mysql_db.database)
    table = f"{mysql_db.database}.items"
    with make_pipeline([mapping], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        _started(p)
        with closing(p.mysql()) as conn:  # before the ALTER: read in the same batch as after
            conn.cursor().execute("UPDATE items SET qty = 5 WHERE id = 3")
        _alter(mysql_admin, p, "ALTER TABLE items CHANGE note memo text")
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET memo = 'renamed edit', qty = 10 WHERE id = 1")
        with closing(p.pg()) as conn:
            conn.execute("UPDATE public.items SET note = 'pg edit' WHERE id = 2")
        with closing(p.consumer()) as running:
            drive(running, lambda: len(pg_rows(p, LETTERS)) == 1)
            # MySQL lacks `note` for the PostgreSQL edit: that direction waits
            back = held_reason(running, f"{table} (postgres)")
        assert "set the new name as the entry's `name` and keep its `pg_name`" in back
        [(key, error_class, error)] = pg_rows(p, LETTERS)
        assert (key, error_class) == ("1", "MissingSourceColumnError")
        assert f"{table}: MySQL's change lacks the mapped column(s) note" in error
        assert "set the new name as the entry's `name` and keep its `pg_name`" in error
        assert f'dead-letters retry --table {table}"' in error
        # nothing of that change was applied, not even its other columns; the one from before
        # the ALTER was
        assert pg_rows(
            p, "SELECT id, qty, note FROM public.items WHERE id IN (1, 3) ORDER BY id"
        ) == [
            (1, 1, "note 1"),
            (3, 5, "note 3"),
        ]

        columns = [c.model_dump(mode="json", exclude_none=True) for c in mapping.columns]
        for c in columns:
            if c["name"] == "note":
                c.update(name="memo", pg_name="note")
        renamed = _with_columns(p, columns)
        with closing(renamed.consumer()) as running:
            drive(
                running,
                lambda: mysql_rows(p, "SELECT memo FROM items WHERE id = 2") == [("pg edit",)],
            )
            assert _retry(renamed, table, tmp_path / "m", monkeypatch) == 0
            with closing(p.mysql()) as conn:  # and the stream carries it from now on
                conn.cursor().execute("UPDATE items SET memo = 'later' WHERE id = 3")
            drive(
                running,
                lambda: pg_rows(p, "SELECT note FROM public.items WHERE id = 3") == [("later",)],
            )
        assert pg_rows(p, "SELECT qty, note FROM public.items WHERE id = 1") == [
            (10, "renamed edit")
        ]
        assert pg_rows(p, LETTERS) == []


def test_a_column_dropped_in_mysql_is_a_dead_letter_until_the_mapping_drops_it(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = items_mapping(mysql_db.database, "postgres_wins")
    table = f"{mysql_db.database}.items"
    with make_pipeline([mapping], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        _started(p)
        _alter(mysql_admin, p, "ALTER TABLE items DROP COLUMN qty")
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET name = 'after drop' WHERE id = 3")
        with closing(p.consumer()) as running:
            drive(running, lambda: len(pg_rows(p, LETTERS)) == 1)
        [(key, _, error)] = pg_rows(p, LETTERS)
        assert key == "3"
        assert "lacks the mapped column(s) qty" in error
        assert "if MySQL dropped it, run `make mappings-generate`" in error
        assert pg_rows(p, "SELECT name FROM public.items WHERE id = 3") == [("n3",)]

        columns = [
            c.model_dump(mode="json", exclude_none=True) for c in mapping.columns if c.name != "qty"
        ]
        dropped = _with_columns(p, columns)
        assert _retry(dropped, table, tmp_path / "m", monkeypatch) == 0
        # PostgreSQL keeps the column and its values
        assert pg_rows(p, "SELECT name, qty FROM public.items WHERE id = 3") == [("after drop", 3)]
        assert pg_rows(p, LETTERS) == []


def test_a_mapped_column_postgres_lacks_does_not_hold_the_table_and_is_logged(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    """Between a MySQL migration and `ddl`, PostgreSQL lacks the new column: its changes carry
    none of that column's values, so they apply (README, Add a column)."""
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        _started(p)
        with closing(p.pg()) as conn:
            conn.execute("ALTER TABLE public.items DROP COLUMN note")
            conn.execute("UPDATE public.items SET name = 'pg edit' WHERE id = 2")
        with closing(p.consumer()) as running:
            drive(
                running,
                lambda: (
                    mysql_rows(p, "SELECT name, note FROM items WHERE id = 2")
                    == [("pg edit", "note 2")]
                ),
            )
        assert (
            f"{mysql_db.database}.items: the postgres side's changes lack the mapped column(s) note"
            in caplog.text
        )


def test_a_table_dropped_in_mysql_holds_only_itself(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """The PostgreSQL app kept writing its copy of a table the MySQL migration dropped: the
    consumer crashed on it, stopping every table, again on every restart."""
    db = mysql_db.database
    items = items_mapping(db)
    tags = TableMapping.model_validate(
        {
            **items.model_dump(mode="json", exclude_none=True),
            "source": f"{db}.tags",
            "target": "public.tags",
        }
    )
    with make_pipeline(
        [items, tags],
        [ITEMS_MYSQL, ITEMS_MYSQL.replace("items", "tags")],
        [ITEMS_PG, ITEMS_PG.replace("items", "tags")],
    ) as p:
        _started(p)
        _alter(mysql_admin, p, "DROP TABLE items")
        with closing(p.pg()) as conn:
            conn.execute("UPDATE public.items SET name = 'pg edit' WHERE id = 2")
            conn.execute(
                "INSERT INTO public.tags (id, name, updated_at) VALUES (7, 'still flows', now())"
            )
        with closing(p.consumer()) as running:
            why = held_reason(running, f"{db}.items (postgres)")
            drive(running, lambda: mysql_rows(p, "SELECT name FROM tags") == [("still flows",)])
        assert f"{db}.items: the mysql table `{db}`.`items` does not exist" in why
        assert "delete its mapping file" in why
