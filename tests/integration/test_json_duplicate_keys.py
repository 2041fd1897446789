"""A MariaDB JSON value holding a key twice ({"a":1,"a":2}: MariaDB keeps the text and reads the
first value, jsonb keeps the last) is never changed silently on its way to a jsonb column: the
backfill fails the chunk naming it (or rejects the row), the stream dead-letters it and applies
the rest, and reconcile reports the pair as different, whatever jsonb made of it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.integration.stream_harness import Pipeline, PipelineFactory, drive, pg_rows
from tests.integration.test_backfill import make_backfill, mapping_for, mysql_admin_exec, run_all

from mysql_pg_sync import dialects
from mysql_pg_sync.backfill import readers
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.bisect import BisectConfig
from mysql_pg_sync.reconcile.compare import CompareConfig, PairSource, compare
from mysql_pg_sync.reconcile.model import CompareColumn, ReconcileTable
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

COLUMNS = [("id", "int(11)", False), ("doc", "json", True)]
DOCS = {
    1: '{"a":1,"b":{"a":2}}',
    2: '{"a":1,"a":2}',
    3: '[{"id":1},{"id":2}]',
    4: '{"x":{"k":1,"\\u006b":2}}',  # the same key once unescaped, one level down
    5: None,
}
REPEATED = {2: "a", 4: "k"}


@pytest.fixture(params=[readers.FAST, readers.FALLBACK])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(readers.READER_ENV, request.param)
    return str(request.param)


@pytest.fixture
def docs(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    values = ", ".join(f"({k}, {'NULL' if v is None else _quoted(v)})" for k, v in DOCS.items())
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE docs (id int PRIMARY KEY, doc json NULL)",
        f"INSERT INTO docs VALUES {values}",
    )
    return mysql_db


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg(pg_db: DatabaseEndpoint, sql: str) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db) as conn:
        return [tuple(r) for r in conn.execute(sql).fetchall()]  # type: ignore[arg-type]


def test_mariadb_stores_the_repeat_as_written_and_reads_the_first(docs: DatabaseEndpoint) -> None:
    conn = mysql_connect(docs)
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT doc, JSON_VALUE(doc, '$.a'), JSON_NORMALIZE(doc) FROM docs WHERE id = 2"
        )
        assert cur.fetchall() == (('{"a":1,"a":2}', "1", '{"a":1.0E0,"a":2.0E0}'),)
    finally:
        conn.close()


def test_backfill_fails_the_chunk_naming_table_key_column_and_value(
    endpoints: Endpoints,
    docs: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    bf = make_backfill(
        endpoints, docs, pg_db, [mapping_for(docs.database, "docs", COLUMNS, ("id",))], tmp_path
    )
    with pytest.raises(ConversionError) as failed:
        run_all(bf, RunOptions())
    message = str(failed.value)
    assert f"{docs.database}.docs" in message
    assert "key {'id': 2}" in message or "key (id=2)" in message
    assert "column 'doc'" in message
    assert '{"a":1,"a":2}' in message
    assert "the key 'a' twice" in message
    assert "set pg_type: json" in message
    assert _pg(pg_db, "SELECT count(*) FROM public.docs") == [(0,)]


def test_backfill_rejects_them_under_on_bad_value_reject(
    endpoints: Endpoints,
    docs: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    mapping = mapping_for(
        docs.database, "docs", COLUMNS, ("id",), backfill={"on_bad_value": "reject"}
    )
    run_all(make_backfill(endpoints, docs, pg_db, [mapping], tmp_path), RunOptions())
    assert _pg(pg_db, "SELECT id FROM public.docs ORDER BY id") == [(1,), (3,), (5,)]
    rejects = _pg(
        pg_db,
        "SELECT (key->>'id')::int, column_name, error FROM mps_sync.backfill_rejects ORDER BY 1",
    )
    assert [(k, c) for k, c, _ in rejects] == [(2, "doc"), (4, "doc")]
    for (key, _, error), name in zip(rejects, REPEATED.values(), strict=True):
        assert f"the key {name!r} twice" in error, key


def test_a_json_column_keeps_the_text_as_written(
    endpoints: Endpoints, docs: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = TableMapping.model_validate(
        {
            "source": f"{docs.database}.docs",
            "target": "public.docs",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "doc", "column_type": "json", "pg_type": "json"},
            ],
        }
    )
    run_all(make_backfill(endpoints, docs, pg_db, [mapping], tmp_path), RunOptions())
    assert dict(_pg(pg_db, "SELECT id, doc::text FROM public.docs")) == DOCS


# -- reconcile --------------------------------------------------------------------------------


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as pool:
        yield pool


def test_reconcile_reports_the_jsonb_copy_as_different_naming_the_column(
    docs: DatabaseEndpoint, pg_db: DatabaseEndpoint, executor: ThreadPoolExecutor
) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE docs (id integer PRIMARY KEY, doc jsonb)")
        with conn.cursor() as cur:  # what a jsonb copy of each MySQL text holds
            cur.executemany("INSERT INTO docs VALUES (%s, %s::jsonb)", list(DOCS.items()))
    assert _pg(pg_db, "SELECT doc::text FROM docs WHERE id = 2") == [('{"a": 2}',)]
    table = ReconcileTable(
        "docs",
        docs.database,
        "docs",
        "public",
        "docs",
        (CompareColumn("id", "id", "int", "integer"), CompareColumn("doc", "doc", "json", "jsonb")),
        ("id",),
    )
    source = PairSource(
        TableSide("mysql", dialects.mysql, table, ConnectionPool(lambda: mysql_connect(docs), 2)),
        TableSide(
            "postgres", dialects.postgres, table, ConnectionPool(lambda: pg_connect(pg_db), 2)
        ),
        executor,
    )
    source.both(lambda side: side.check_schema())
    found = compare(source, CompareConfig(segment_rows=2, bisect=BisectConfig(factor=2)), map)
    assert [(d.key, d.drift, d.columns) for d in found.diffs] == [
        (("2",), "different", ("doc",)),
        (("4",), "different", ("doc",)),
    ]
    shown = found.diffs[0].shown_values()
    assert shown == {"doc": {"mysql": '{"a":1,"a":2}', "postgres": '{"a": 2}'}}


# -- stream -----------------------------------------------------------------------------------


@pytest.fixture
def streamed(make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint) -> Iterator[Pipeline]:
    mapping = mapping_for(mysql_db.database, "docs", COLUMNS, ("id",), direction="both")
    with make_pipeline(
        [mapping],
        ["CREATE TABLE docs (id int PRIMARY KEY, doc json NULL) ENGINE=InnoDB"],
        ["CREATE TABLE public.docs (id integer PRIMARY KEY, doc jsonb)"],
    ) as p:
        yield p


def test_stream_dead_letters_it_naming_the_column_and_applies_the_rest(
    streamed: Pipeline,
) -> None:
    p = streamed
    consumer = p.consumer()
    try:
        with p.mysql() as conn:
            values = ", ".join(
                f"({k}, {'NULL' if v is None else _quoted(v)})" for k, v in DOCS.items()
            )
            conn.cursor().execute(f"INSERT INTO docs VALUES {values}")
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM mps_sync.dead_letters")) == 2)
        drive(consumer, lambda: len(pg_rows(p, "SELECT 1 FROM docs")) == 3)
        assert pg_rows(p, "SELECT id FROM docs ORDER BY id") == [(1,), (3,), (5,)]
        letters = pg_rows(p, "SELECT key->>'id', error FROM mps_sync.dead_letters ORDER BY 1")
        assert [k for k, _ in letters] == ["2", "4"]
        for (_, error), name in zip(letters, REPEATED.values(), strict=True):
            assert "column 'doc'" in error
            assert f"the key {name!r} twice" in error
    finally:
        consumer.close()


def test_stream_from_postgres_writes_jsonb_text_to_mysql(streamed: Pipeline) -> None:
    """The other way is safe: jsonb never holds a key twice."""
    p = streamed
    consumer = p.consumer()
    try:
        with p.pg() as conn:
            conn.execute("""INSERT INTO docs VALUES (7, '{"a":1,"a":2}')""")
        mysql = replace(p.endpoints.mysql)

        def copied() -> bool:
            conn = mysql_connect(mysql)
            try:
                cur = conn.cursor()
                cur.execute("SELECT doc FROM docs WHERE id = 7")
                return cur.fetchall() == (('{"a": 2}',),)
            finally:
                conn.close()

        drive(consumer, copied)
    finally:
        consumer.close()
