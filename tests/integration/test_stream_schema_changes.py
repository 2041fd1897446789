"""Schema changes made on either side while a table streams (review scratch tests).

Each test asserts the product's rule: no change is silently lost or altered; what cannot be
applied is a dead letter naming table, key and column, or holds the table with a message; a
problem in one table never stops the others."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import (
    Pipeline,
    PipelineFactory,
    drive,
    held_reason,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cdc.apply import RETYPED_HOLD
from mysql_pg_sync.cdc.consumer import StreamConsumer
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema

pytestmark = pytest.mark.integration

T = "mps_test_sc_items"
ORIGIN_FUNCTIONS = (
    "pg_replication_origin_session_setup(text)",
    "pg_replication_origin_session_reset()",
    "pg_replication_origin_session_is_setup()",
    "pg_replication_origin_oid(text)",
    "pg_replication_origin_create(text)",
)
U = "mps_test_sc_tags"


def _mysql_ddl(table: str) -> str:
    return (
        f"CREATE TABLE {table} (id bigint PRIMARY KEY, code varchar(10), qty int, "
        "price decimal(10,2), tier enum('a','b','c'), updated_at datetime(6) NOT NULL, "
        "note text)"
    )


def _pg_ddl(table: str) -> str:
    return (
        f"CREATE TABLE public.{table} (id bigint PRIMARY KEY, code varchar(10), qty integer, "
        "price numeric(10,2), tier text, updated_at timestamp(6) NOT NULL, note text)"
    )


def _entry(db: str, table: str, rule: str = "mysql_wins") -> dict[str, Any]:
    """The table's mapping entry, as its file holds it."""
    return {
        "source": f"{db}.{table}",
        "target": f"public.{table}",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "bigint(20)", "nullable": False},
            {"name": "code", "column_type": "varchar(10)"},
            {"name": "qty", "column_type": "int(11)"},
            {"name": "price", "column_type": "decimal(10,2)"},
            {"name": "tier", "column_type": "enum('a','b','c')"},
            {"name": "updated_at", "column_type": "datetime(6)", "nullable": False},
            {"name": "note", "column_type": "text"},
        ],
        "direction": "both",
        "conflict": {"rule": rule},
    }


def _mapping(db: str, table: str, rule: str = "mysql_wins") -> TableMapping:
    return TableMapping.model_validate(_entry(db, table, rule))


# -- fixtures: databases named mps_test_sc_* --------------------------------------------------


@pytest.fixture
def mysql_db(mysql_admin: DatabaseEndpoint, endpoints: Endpoints) -> Iterator[DatabaseEndpoint]:
    name = f"mps_test_sc_{uuid.uuid4().hex[:10]}"
    admin = replace(mysql_admin, database="mysql")
    with closing(mysql_connect(admin, autocommit=True)) as conn:
        conn.cursor().execute(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
        conn.cursor().execute(mysql_dialect.applied_offsets_ddl(name))
    yield replace(endpoints.mysql, database=name)
    with closing(mysql_connect(admin, autocommit=True)) as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def pg_db(pg_admin: DatabaseEndpoint, endpoints: Endpoints) -> Iterator[DatabaseEndpoint]:
    name = f"mps_test_sc_{uuid.uuid4().hex[:10]}"
    owner = endpoints.postgres.user
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{owner}"')  # type: ignore[arg-type]
    with pg_connect(replace(pg_admin, database=name), autocommit=True) as db:
        for fn in ORIGIN_FUNCTIONS:
            db.execute(f'GRANT EXECUTE ON FUNCTION {fn} TO "{owner}"')  # type: ignore[arg-type]
    yield replace(endpoints.postgres, database=name)
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


# -- helpers ------------------------------------------------------------------------------------

INSERT = (
    f"INSERT INTO {T} (id, code, qty, price, tier, updated_at, note) "
    "VALUES (%s, %s, %s, 1.50, 'a', '2026-01-01 10:00:00', %s)"
)


def _started(p: Pipeline, running: Any, ids: tuple[int, ...] = (1, 2, 3)) -> None:
    with closing(p.mysql()) as conn:
        conn.cursor().executemany(INSERT, [(i, f"c{i}", i, f"note {i}") for i in ids])
    drive(running, lambda: len(pg_rows(p, f"SELECT id FROM public.{T}")) == len(ids))


def _admin_mysql(admin: DatabaseEndpoint, p: Pipeline, *sql: str) -> None:
    db = p.endpoints.mysql.database
    with closing(mysql_connect(replace(admin, database=db), autocommit=True)) as conn:
        for s in sql:
            conn.cursor().execute(s)


def _letters(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(
        p,
        "SELECT source_table, key->>'id', error_class, error FROM mps_sync.dead_letters "
        "ORDER BY (key->>'id')::int NULLS LAST",
    )


def _reported(p: Pipeline, table: str) -> list[str]:
    """Everything the sync recorded about ``table``: dead letters, holds, gaps."""
    out = [f"dead letter: {r[3]}" for r in _letters(p) if r[0] == table]
    out += [
        f"hold: {r[0]}"
        for r in pg_rows(
            p, f"SELECT reason FROM mps_sync.stream_holds WHERE source_table = '{table}'"
        )
    ]
    out += [
        f"gap: {r[0]}"
        for r in pg_rows(
            p, f"SELECT reason FROM mps_sync.stream_gaps WHERE source_table = '{table}'"
        )
    ]
    return out


# -- TRUNCATE ------------------------------------------------------------------------------------


def test_mysql_truncate_reaches_postgres_or_is_reported(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _admin_mysql(mysql_admin, p, f"TRUNCATE TABLE {T}")
            with closing(p.mysql()) as conn:
                conn.cursor().execute(INSERT, (10, "c10", 10, "after truncate"))
            # the row written after the TRUNCATE arrives: the stream is past it
            drive(running, lambda: (10,) in pg_rows(p, f"SELECT id FROM public.{T}"))
        source = mysql_rows(p, f"SELECT id FROM {T} ORDER BY id")
        target = pg_rows(p, f"SELECT id FROM public.{T} ORDER BY id")
        assert source == [(10,)]
        assert target == [(1,), (2,), (3,), (10,)]  # the stream applies row changes only
        (letter,) = _reported(p, f"{db}.{T}")
        assert letter.startswith(f"dead letter: TRUNCATE of {db}.{T} in MySQL at ")
        assert "authoritative mysql" in letter


def test_postgres_truncate_reaches_mysql_or_is_reported(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute(f"TRUNCATE public.{T}")
                conn.execute(
                    f"INSERT INTO public.{T} (id, code, updated_at) VALUES (10, 'c10', now())"
                )
            drive(running, lambda: (10,) in mysql_rows(p, f"SELECT id FROM {T}"))
        source = pg_rows(p, f"SELECT id FROM public.{T} ORDER BY id")
        target = mysql_rows(p, f"SELECT id FROM {T} ORDER BY id")
        assert source == [(10,)]
        assert target == [(1,), (2,), (3,), (10,)]
        (letter,) = _reported(p, f"{db}.{T}")
        assert letter.startswith(f"dead letter: TRUNCATE of {db}.{T} in PostgreSQL at ")
        assert "authoritative postgres" in letter


# -- MySQL retypes while streaming ---------------------------------------------------------------


def test_mysql_retypes_make_dead_letters_naming_key_and_column(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """varchar(10)->varchar(50), int->bigint, decimal(10,2)->decimal(12,4), enum gains 'd':
    a value only the new type holds is a dead letter; the others apply, none rounded."""
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.mysql()) as conn:  # same batch as the ALTER and what follows
                conn.cursor().execute(f"UPDATE {T} SET qty = 20 WHERE id = 2")
            _admin_mysql(
                mysql_admin,
                p,
                f"ALTER TABLE {T} MODIFY code varchar(50), MODIFY qty bigint, "
                "MODIFY price decimal(12,4), MODIFY tier enum('a','b','c','d')",
            )
            with closing(p.mysql()) as conn:
                cur = conn.cursor()
                cur.execute(
                    f"INSERT INTO {T} (id, code, updated_at) VALUES (11, %s, now())", ("x" * 30,)
                )
                cur.execute(
                    f"INSERT INTO {T} (id, qty, updated_at) VALUES (12, 1099511627776, now())"
                )
                cur.execute(f"INSERT INTO {T} (id, price, updated_at) VALUES (13, 1.2345, now())")
                cur.execute(f"INSERT INTO {T} (id, tier, updated_at) VALUES (14, 'd', now())")
                cur.execute(f"INSERT INTO {T} (id, price, updated_at) VALUES (15, 9.5, now())")
            drive(running, lambda: (15,) in pg_rows(p, f"SELECT id FROM public.{T}"))
            drive(running, lambda: len(_letters(p)) >= 4, timeout_s=30)
        assert pg_rows(p, f"SELECT qty FROM public.{T} WHERE id = 2") == [(20,)]
        assert pg_rows(p, f"SELECT id FROM public.{T} WHERE id BETWEEN 11 AND 14") == []
        letters = {r[1]: r[3] for r in _letters(p)}
        assert set(letters) == {"11", "12", "13", "14"}, letters
        for key, column in (("11", "code"), ("12", "qty"), ("13", "price"), ("14", "tier")):
            assert column in letters[key], (key, letters[key])


def test_mysql_enum_loses_member_then_postgres_writes_it(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _admin_mysql(mysql_admin, p, f"ALTER TABLE {T} MODIFY tier enum('a','b')")
            with closing(p.pg()) as conn:
                conn.execute(f"UPDATE public.{T} SET tier = 'c', note = 'pg c' WHERE id = 1")
                conn.execute(f"UPDATE public.{T} SET note = 'pg ok' WHERE id = 2")
            drive(
                running, lambda: mysql_rows(p, f"SELECT note FROM {T} WHERE id = 2") == [("pg ok",)]
            )
            drive(running, lambda: len(_letters(p)) >= 1, timeout_s=30)
        assert mysql_rows(p, f"SELECT tier, note FROM {T} WHERE id = 1") == [("a", "note 1")]
        [(_, key, _, error)] = _letters(p)
        assert key == "1", error
        assert "tier" in error, error


# -- PostgreSQL retypes while streaming ----------------------------------------------------------


def test_postgres_varchar_widened_to_text_long_value_is_a_dead_letter(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute(f"ALTER TABLE public.{T} ALTER COLUMN code TYPE text")
                conn.execute(f"UPDATE public.{T} SET code = %s WHERE id = 1", ("y" * 30,))
                conn.execute(f"UPDATE public.{T} SET code = 'short' WHERE id = 2")
            drive(
                running, lambda: mysql_rows(p, f"SELECT code FROM {T} WHERE id = 2") == [("short",)]
            )
            drive(running, lambda: len(_letters(p)) >= 1, timeout_s=30)
        assert mysql_rows(p, f"SELECT code FROM {T} WHERE id = 1") == [("c1",)]  # not cut
        [(_, key, _, error)] = _letters(p)
        assert key == "1", error
        assert "code" in error, error


def test_postgres_column_retyped_while_consuming_does_not_stop_other_tables(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """The PostgreSQL app turns a text column into jsonb while the consumer runs. The applier
    keeps a per-session staging table shaped like the target *when first used*."""
    db = mysql_db.database
    with (
        make_pipeline(
            [_mapping(db, T), _mapping(db, U)],
            [_mysql_ddl(T), _mysql_ddl(U)],
            [_pg_ddl(T), _pg_ddl(U)],
        ) as p,
        closing(p.consumer()) as running,
    ):
        _started(p, running)
        with closing(p.pg()) as conn:
            conn.execute(
                f"ALTER TABLE public.{T} ALTER COLUMN note TYPE jsonb "
                "USING jsonb_build_object('text', note)"
            )
        with closing(p.mysql()) as conn:
            cur = conn.cursor()
            cur.execute(f"UPDATE {T} SET note = '{{\"a\": 1}}' WHERE id = 1")
            cur.execute(f"INSERT INTO {U} (id, code, updated_at) VALUES (1, 'other', now())")
        drive(running, lambda: pg_rows(p, f"SELECT code FROM public.{U}") == [("other",)])
        drive(
            running,
            lambda: (
                bool(_reported(p, f"{db}.{T}"))
                or pg_rows(p, f"SELECT note::text FROM public.{T} WHERE id = 1") == [('{"a": 1}',)]
            ),
            timeout_s=30,
        )


def test_a_hold_on_a_retyped_column_outlives_a_restart_until_its_writes_work(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """A hold on a retyped column has all its columns, so the probe at the start of a run
    cannot tell whether it is over. Cleared there, every run that held the table again
    recorded a new hold, and the stream DAG alerted once per run; kept until one of the
    table's batches commits, the hold is recorded once."""
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        reason = f"{db}.{T}: writes to the postgres table public.{T} {RETYPED_HOLD} (...)"
        with closing(p.pg()) as conn:
            ensure_schema(conn)  # as the run that recorded the hold left it
            conn.execute(
                "INSERT INTO mps_sync.stream_holds (source_table, incoming_side, reason) "
                "VALUES (%s, 'mysql', %s)",
                (f"{db}.{T}", reason),
            )
            conn.commit()
        holds = f"SELECT reason FROM mps_sync.stream_holds WHERE source_table = '{db}.{T}'"
        with closing(p.consumer()) as running:
            assert pg_rows(p, holds) == [(reason,)]  # the start did not take it for over
            _started(p, running)  # the table's writes work: its batch commits
            drive(running, lambda: pg_rows(p, holds) == [], timeout_s=30)


def _record_holds(p: Pipeline, holds: dict[tuple[str, str], str]) -> None:
    """Holds as runs before left them."""
    with closing(p.pg()) as conn:
        ensure_schema(conn)
        for (table, side), reason in holds.items():
            conn.execute(
                "INSERT INTO mps_sync.stream_holds (source_table, incoming_side, reason) "
                "VALUES (%s, %s, %s)",
                (table, side, reason),
            )
        conn.commit()


def test_holds_of_tables_no_longer_streamed_from_their_side_are_cleared_at_the_start(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """A hold no run releases: its mapping was removed or disabled, or its direction no longer
    carries that side's changes. The status page showed the table held for good."""
    db = mysql_db.database
    one_way = "mps_test_sc_one_way"
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        retyped = f"writes to the target {RETYPED_HOLD} (...)"
        _record_holds(
            p,
            {
                (f"{db}.mps_test_sc_gone", "mysql"): "lacks a mapped column",  # no mapping
                (f"{db}.{U}", "mysql"): retyped,  # disabled
                (f"{db}.{one_way}", "postgres"): retyped,  # mysql_to_pg now
                (f"{db}.{one_way}", "mysql"): retyped,  # still streamed: kept
                (f"{db}.{T}", "postgres"): retyped,  # still streamed: kept
            },
        )
        mappings = MappingSet(
            (
                _mapping(db, T),
                TableMapping.model_validate({**_entry(db, U), "enabled": False}),
                TableMapping.model_validate({**_entry(db, one_way), "direction": "mysql_to_pg"}),
            )
        )
        StreamConsumer(p.endpoints, mappings, p.config).close()
        kept = set(pg_rows(p, "SELECT source_table, incoming_side FROM mps_sync.stream_holds"))
        assert kept == {(f"{db}.{one_way}", "mysql"), (f"{db}.{T}", "postgres")}


def test_a_retyped_hold_is_cleared_only_by_a_batch_that_wrote_rows_of_its_table(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """A delete writes no value of the retyped column, and an echo or a skipped change writes
    nothing: a batch of only those is no sign that the table's writes work again."""
    db = mysql_db.database
    table = f"{db}.{T}"
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
        reason = f"{table}: writes to the postgres table public.{T} {RETYPED_HOLD} (...)"
        _record_holds(p, {(table, "mysql"): reason})
        holds = f"SELECT reason FROM mps_sync.stream_holds WHERE source_table = '{table}'"
        echoes = (
            "SELECT coalesce(sum(echoes), 0) FROM mps_sync.stream_metrics "
            f"WHERE source_table = '{table}' AND incoming_side = 'mysql'"
        )
        with closing(p.consumer()) as running:
            with closing(p.mysql()) as conn:
                conn.cursor().execute(f"DELETE FROM {T} WHERE id = 1")
            with closing(p.pg()) as conn:  # comes back from MySQL as an echo
                conn.execute(f"UPDATE public.{T} SET note = 'from pg' WHERE id = 2")
            drive(
                running,
                lambda: (
                    pg_rows(p, f"SELECT id FROM public.{T} WHERE id = 1") == []
                    and pg_rows(p, echoes) != [(0,)]
                ),
            )
            assert pg_rows(p, holds) == [(reason,)]
            with closing(p.mysql()) as conn:
                conn.cursor().execute(f"UPDATE {T} SET qty = 9 WHERE id = 3")
            drive(running, lambda: pg_rows(p, holds) == [], timeout_s=30)


# -- primary key change --------------------------------------------------------------------------


def test_mysql_primary_key_widened_keeps_rows_apart_or_is_reported(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    """MySQL's key becomes (id, code): two rows may now share an id. The mapping still keys on
    id, so PostgreSQL can hold only one of them."""
    db = mysql_db.database
    with make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            _admin_mysql(
                mysql_admin, p, f"ALTER TABLE {T} DROP PRIMARY KEY, ADD PRIMARY KEY (id, code)"
            )
            with closing(p.mysql()) as conn:
                cur = conn.cursor()
                cur.execute(INSERT, (1, "second", 99, "same id, other code"))
                cur.execute(INSERT, (10, "c10", 10, "marker"))
            # the marker arrives, or is a dead letter as every change keyed by (id, code) is
            drive(running, lambda: _arrived_or_reported(p, 10))
        source = mysql_rows(p, f"SELECT id, code, note FROM {T} WHERE id = 1 ORDER BY code")
        target = pg_rows(p, f"SELECT id, code, note FROM public.{T} WHERE id = 1")
        letters = list(_letters(p))
        conflicts = pg_rows(p, "SELECT kind, winner, key::text FROM mps_sync.conflicts")
        # a MySQL delete of one of the two rows then removes PostgreSQL's only row with id 1
        with closing(p.mysql()) as conn:
            conn.cursor().execute(f"DELETE FROM {T} WHERE id = 1 AND code = 'second'")
            conn.cursor().execute(INSERT, (11, "c11", 11, "marker 2"))
        with closing(p.consumer()) as running:
            drive(running, lambda: _arrived_or_reported(p, 11))
        after_delete = (
            mysql_rows(p, f"SELECT id, code FROM {T} WHERE id = 1"),
            pg_rows(p, f"SELECT id, code FROM public.{T} WHERE id = 1"),
        )
        assert source == [(1, "c1", "note 1"), (1, "second", "same id, other code")]
        merged = (
            f"MySQL's new key silently merged two rows: MySQL {source}, PostgreSQL {target}, "
            f"dead letters {letters}, conflicts {conflicts}; after MySQL deleted (1, 'second'): "
            f"MySQL, PostgreSQL = {after_delete}"
        )
        assert target == [(1, "c1", "note 1")], merged
        assert letters, merged
        assert after_delete[1] == [(1, "c1")], after_delete  # the delete did not remove it
        (why,) = {r[3] for r in _letters(p) if r[1] == "1"}
        for words in ("keyed by (id, code)", "than the mapping's key (id)", "dead-letters retry"):
            assert words in why, why
        assert "'code': 'second'" in why, why  # the change's own key


def _arrived_or_reported(p: Pipeline, key: int) -> bool:
    return (key,) in pg_rows(p, f"SELECT id FROM public.{T}") or any(
        r[1] == str(key) for r in _letters(p)
    )


def test_a_table_keyed_by_a_unique_key_streams_both_ways_without_dead_letters(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """Control for the key check above: a MySQL table without a primary key is keyed by its
    unique key over NOT NULL columns, in the generated mapping and in Debezium's messages alike
    (PostgreSQL's table has it as its primary key), so no change is taken for a key change."""
    db = mysql_db.database
    entry = _entry(db, T)
    entry["key"] = ["code"]
    entry["columns"][0]["nullable"] = True
    entry["columns"][1]["nullable"] = False
    mysql_ddl = _mysql_ddl(T).replace("id bigint PRIMARY KEY", "id bigint NULL")
    mysql_ddl = mysql_ddl.replace("code varchar(10)", "code varchar(10) NOT NULL UNIQUE")
    pg_ddl = _pg_ddl(T).replace("id bigint PRIMARY KEY", "id bigint")
    pg_ddl = pg_ddl.replace("code varchar(10)", "code varchar(10) PRIMARY KEY")
    mapping = TableMapping.model_validate(entry)
    with make_pipeline([mapping], [mysql_ddl], [pg_ddl]) as p, closing(p.consumer()) as running:
        _started(p, running)
        with closing(p.mysql()) as conn:
            conn.cursor().execute(f"UPDATE {T} SET qty = 7 WHERE code = 'c1'")
        with closing(p.pg()) as conn:
            conn.execute(f"UPDATE public.{T} SET qty = 8 WHERE code = 'c2'")
        drive(
            running,
            lambda: (
                pg_rows(p, f"SELECT qty FROM public.{T} WHERE code = 'c1'") == [(7,)]
                and mysql_rows(p, f"SELECT qty FROM {T} WHERE code = 'c2'") == [(8,)]
            ),
        )
    assert _letters(p) == []
    # the applier found each row by its key, which is not the mapping's first column
    assert pg_rows(p, "SELECT kind FROM mps_sync.conflicts") == []


# -- RENAME TABLE swap (gh-ost / pt-online-schema-change style) ----------------------------------


def test_mysql_table_swapped_by_rename_keeps_streaming(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    db = mysql_db.database
    with (
        make_pipeline([_mapping(db, T)], [_mysql_ddl(T)], [_pg_ddl(T)]) as p,
        closing(p.consumer()) as running,
    ):
        _started(p, running)
        _admin_mysql(
            mysql_admin,
            p,
            f"CREATE TABLE _{T}_new LIKE {T}",
            f"ALTER TABLE _{T}_new ADD COLUMN extra int NULL",
            f"INSERT INTO _{T}_new (id, code, qty, price, tier, updated_at, note) "
            f"SELECT id, code, qty, price, tier, updated_at, note FROM {T}",
            f"RENAME TABLE {T} TO _{T}_old, _{T}_new TO {T}",
            f"DROP TABLE _{T}_old",
        )
        with closing(p.mysql()) as conn:
            conn.cursor().execute(f"UPDATE {T} SET note = 'after swap', extra = 1 WHERE id = 2")
        drive(
            running,
            lambda: pg_rows(p, f"SELECT note FROM public.{T} WHERE id = 2") == [("after swap",)],
            timeout_s=60,
        )


def test_postgres_column_retyped_before_the_consumer_starts_applies(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """Control for the test above: the same change with a consumer started after the ALTER."""
    db = mysql_db.database
    with make_pipeline(
        [_mapping(db, T), _mapping(db, U)],
        [_mysql_ddl(T), _mysql_ddl(U)],
        [_pg_ddl(T), _pg_ddl(U)],
    ) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
        with closing(p.pg()) as conn:
            conn.execute(
                f"ALTER TABLE public.{T} ALTER COLUMN note TYPE jsonb "
                "USING jsonb_build_object('text', note)"
            )
        with closing(p.mysql()) as conn:
            cur = conn.cursor()
            cur.execute(f"UPDATE {T} SET note = '{{\"a\": 1}}' WHERE id = 1")
            cur.execute(f"UPDATE {T} SET note = 'not json' WHERE id = 2")
            cur.execute(f"INSERT INTO {U} (id, code, updated_at) VALUES (1, 'other', now())")
        with closing(p.consumer()) as running:
            drive(running, lambda: pg_rows(p, f"SELECT code FROM public.{U}") == [("other",)])
            drive(running, lambda: len(_letters(p)) >= 1, timeout_s=30)
        assert pg_rows(p, f"SELECT note::text FROM public.{T} WHERE id = 1") == [('{"a": 1}',)]
        print("letters", _letters(p))


# -- PostgreSQL RENAME COLUMN, then the hold's advice -----------------------------------------


@pytest.mark.parametrize(
    ("rule", "pg_extra"),
    [
        ("postgres_wins", ()),
        ("mysql_wins", (f"ALTER TABLE public.{T} REPLICA IDENTITY FULL",)),
    ],
)
def test_postgres_rename_column_then_the_holds_fix_loses_no_mysql_values(
    make_pipeline: PipelineFactory,
    mysql_db: DatabaseEndpoint,
    rule: str,
    pg_extra: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PostgreSQL app renames note -> memo. MySQL's changes then hold the table. Running
    `ddl` would add an empty note whose NULLs PostgreSQL's later changes carry over MySQL's
    values; so the hold names the rename and its fix (the entry's pg_name), `ddl` refuses to add
    note beside the unmapped memo of the same type, and the fix loses no MySQL value."""
    db = mysql_db.database
    with make_pipeline([_mapping(db, T, rule)], [_mysql_ddl(T)], [_pg_ddl(T), *pg_extra]) as p:
        with closing(p.consumer()) as running:
            _started(p, running)
            with closing(p.pg()) as conn:
                conn.execute(f"ALTER TABLE public.{T} RENAME COLUMN note TO memo")
            with closing(p.mysql()) as conn:
                conn.cursor().execute(f"UPDATE {T} SET note = 'mysql edit' WHERE id = 1")
            why = held_reason(running, f"{db}.{T} (mysql)")
        names_rename = "renamed" in why and "pg_name" in why and "memo (text)" in why
        # `ddl` refuses to add note: memo may be it, renamed
        folder = tmp_path / "mappings"
        folder.mkdir()
        (folder / f"{db}.{T}.yaml").write_text(yaml.safe_dump(_entry(db, T, rule)))
        monkeypatch.setenv("MPS_PG_DATABASE", p.endpoints.postgres.database)
        capsys.readouterr()
        assert main(["ddl", "--mappings", str(folder)]) == 1
        refused = capsys.readouterr().err
        assert "lacks the mapped column 'note'" in refused, refused
        assert "the column 'memo' of the same type (text)" in refused, refused
        assert "`pg_name: memo`" in refused, refused
        assert "--not-renamed" in refused, refused
        with closing(p.pg()) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM information_schema.columns "
                f"WHERE table_name = '{T}' AND column_name = 'note'"
            ).fetchone()
        assert count == 0, "ddl added the column it refused"
        # what the hold and ddl say to do: the entry's pg_name
        entry = _entry(db, T, rule)
        entry["columns"][-1]["pg_name"] = "memo"
        p = replace(p, mappings=MappingSet((TableMapping.model_validate(entry),)))
        with closing(p.consumer()) as running:
            drive(running, lambda: not pg_rows(p, "SELECT 1 FROM mps_sync.stream_holds"))
            drive(
                running,
                lambda: (
                    pg_rows(p, f"SELECT memo FROM public.{T} WHERE id = 1") == [("mysql edit",)]
                ),
            )
            with closing(p.pg()) as conn:
                conn.execute(f"UPDATE public.{T} SET qty = 33 WHERE id = 3")
                conn.execute(f"UPDATE public.{T} SET memo = 'pg memo' WHERE id = 2")
            drive(
                running,
                lambda: (
                    mysql_rows(p, f"SELECT qty FROM {T} WHERE id = 3") == [(33,)]
                    and mysql_rows(p, f"SELECT note FROM {T} WHERE id = 2") == [("pg memo",)]
                ),
            )
        note3 = mysql_rows(p, f"SELECT note FROM {T} WHERE id = 3")
        lost = f"MySQL note of id 3 after a PostgreSQL edit of qty: {note3}; hold message: {why}"
        assert note3 == [("note 3",)], lost
        assert names_rename, lost
        assert mysql_rows(p, f"SELECT note FROM {T} WHERE id = 1") == [("mysql edit",)]
