"""A mapped column renamed or dropped in the source while the table streams. The stream used to
apply the other columns and leave the column's new values behind without a word (an edit of a
renamed column never reached the other side). Now the table waits, naming the column and the
fix, and resumes from its first waiting change once the mappings say what became of it."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace

import pytest
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

from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
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


def test_a_column_renamed_in_mysql_waits_then_flows_under_its_new_name(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    mapping = items_mapping(mysql_db.database)
    with make_pipeline([mapping], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        _started(p)
        _alter(mysql_admin, p, "ALTER TABLE items CHANGE note memo text")
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET memo = 'renamed edit', qty = 10 WHERE id = 1")
        with closing(p.pg()) as conn:
            conn.execute("UPDATE public.items SET note = 'pg edit' WHERE id = 2")
        table = f"{mysql_db.database}.items"
        with closing(p.consumer()) as running:
            why = held_reason(running, f"{table} (mysql)")
            assert f"{table}: the mysql side's changes lack the mapped column(s) note" in why
            assert "set the new name as the entry's `name` and keep its `pg_name`" in why
            # MySQL lacks `note` for the PostgreSQL edit: that direction waits too
            back = held_reason(running, f"{table} (postgres)")
            assert "set the new name as the entry's `name` and keep its `pg_name`" in back
        # nothing of the waiting changes was applied, not even the other columns
        assert pg_rows(p, "SELECT qty, note FROM public.items WHERE id = 1") == [(1, "note 1")]
        assert mysql_rows(p, "SELECT memo FROM items WHERE id = 2") == [("note 2",)]

        columns = [c.model_dump(mode="json", exclude_none=True) for c in mapping.columns]
        for c in columns:
            if c["name"] == "note":
                c.update(name="memo", pg_name="note")
        renamed = _with_columns(p, columns)
        with closing(renamed.consumer()) as running:
            drive(
                running,
                lambda: (
                    pg_rows(p, "SELECT qty, note FROM public.items WHERE id = 1")
                    == [(10, "renamed edit")]
                    and mysql_rows(p, "SELECT memo FROM items WHERE id = 2") == [("pg edit",)]
                ),
            )


def test_a_column_dropped_in_mysql_waits_until_the_mapping_drops_it(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    mapping = items_mapping(mysql_db.database, "postgres_wins")
    with make_pipeline([mapping], [ITEMS_MYSQL], [ITEMS_PG]) as p:
        _started(p)
        _alter(mysql_admin, p, "ALTER TABLE items DROP COLUMN qty")
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET name = 'after drop' WHERE id = 3")
        table = f"{mysql_db.database}.items"
        with closing(p.consumer()) as running:
            why = held_reason(running, f"{table} (mysql)")
        assert "lack the mapped column(s) qty" in why
        assert "if MySQL dropped it, run `make mappings-generate`" in why
        assert pg_rows(p, "SELECT name FROM public.items WHERE id = 3") == [("n3",)]
        state = pg_rows(p, "SELECT source_table, incoming_side FROM mps_sync.stream_holds")
        assert state == [(table, "mysql")]

        columns = [
            c.model_dump(mode="json", exclude_none=True) for c in mapping.columns if c.name != "qty"
        ]
        dropped = _with_columns(p, columns)
        with closing(dropped.consumer()) as running:
            drive(
                running,
                lambda: (
                    pg_rows(p, "SELECT name, qty FROM public.items WHERE id = 3")
                    == [("after drop", 3)]
                ),  # PostgreSQL keeps the column and its values
            )


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
