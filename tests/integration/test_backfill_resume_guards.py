"""A backfill that cannot finish without losing changes refuses to, on the real servers.

Kafka position: a resume, and every finalize, refuse a recorded position below the partition's
low watermark (retention deleted changes the replay needs), naming the fix (``mode=reload``).
The low watermark is moved with the admin API's delete-records, as retention would move it.

Unique values: a value the app moves from an already copied row to a row of a later chunk does
not refuse that chunk (the stale copy is refreshed from MySQL, backfill.unique_refresh); two
rows MySQL holds that only the conversion makes equal fail the chunk, naming both.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tests.integration.test_backfill import (
    INSERT_ITEMS,
    ITEMS_COLUMNS,
    ITEMS_DDL,
    item_rows,
    make_backfill,
    mapping_for,
    mysql_exec,
    run_all,
)

from mysql_pg_sync.backfill import handoff, state
from mysql_pg_sync.backfill.runner import Backfill, ChunksNotDone, RunOptions, is_settled
from mysql_pg_sync.backfill.unique_refresh import DuplicateUniqueValue
from mysql_pg_sync.backfill.writer import RowsRefused
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

ROWS = 300
OPTIONS = RunOptions(chunk_rows=100)


@pytest.fixture
def topic(endpoints: Endpoints) -> Iterator[str]:
    """A one-partition topic of this test's own, standing in for the table's change topic."""
    name = f"mps_resume_guards.{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": endpoints.kafka_bootstrap})
    admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])[name].result(
        timeout=30
    )
    yield name
    admin.delete_topics([name], operation_timeout=30)[name].result(timeout=30)


def _produce(bootstrap: str, topic: str, messages: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for _ in range(messages):
        producer.produce(topic, value=b"x", partition=0)
    assert producer.flush(30) == 0


def _delete_before(bootstrap: str, topic: str, offset: int) -> None:
    """Move partition 0's low watermark to ``offset``, as retention deleting segments does."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.delete_records([TopicPartition(topic, 0, offset)]).values():
        future.result(timeout=30)
    read = handoff.kafka_end_offsets(bootstrap)
    try:
        assert read.watermarks(topic)[0][0] == offset
    finally:
        read.close()


def _backfill(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    topic: str,
) -> tuple[Backfill, str]:
    mysql_exec(replace(mysql_admin, database=mysql_db.database), ITEMS_DDL)
    mysql_exec(mysql_db, rows=item_rows(ROWS), insert=INSERT_ITEMS)
    mapping = mapping_for(mysql_db.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    bf.capture_check = lambda m: topic
    bf.position_reader = handoff.kafka_end_offsets(endpoints.kafka_bootstrap)
    return bf, mapping.name


def _table_state(pg_db: DatabaseEndpoint, table: str) -> tuple[str, dict[str, object] | None]:
    with pg_connect(pg_db, autocommit=True) as conn:
        current = state.get_table_state(conn, table)
    assert current is not None
    return current


def _target_rows(pg_db: DatabaseEndpoint) -> int:
    with pg_connect(pg_db, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM public.items").fetchone()
    assert row is not None
    return int(row[0])


def test_a_resume_past_kafka_retention_is_refused_and_reload_recovers(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    topic: str,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    bf, table = _backfill(endpoints, mysql_db, mysql_admin, pg_db, tmp_path, topic)
    _produce(bootstrap, topic, 5)
    bf.start_run("run1", OPTIONS)
    assert bf.plan(OPTIONS).tables[0]["chunks"] == 3
    bf.prepare(OPTIONS, table)
    assert _table_state(pg_db, table) == ("backfilling", {topic: {"0": 5}})
    bf.copy_chunk((table, 0), "run1", OPTIONS.batch_rows)

    # changes keep coming; a resume while Kafka still holds the position keeps it
    _produce(bootstrap, topic, 5)
    resume = RunOptions(chunk_rows=0, mode="resume")
    bf.start_run("run2", resume)
    bf.plan(resume)
    bf.prepare(resume, table)
    assert _table_state(pg_db, table) == ("backfilling", {topic: {"0": 5}})
    bf.copy_chunk((table, 1), "run2", resume.batch_rows)

    # retention deletes offsets 5..7, which the replay from 5 needs
    _delete_before(bootstrap, topic, 8)
    bf.start_run("run3", resume)
    bf.plan(resume)
    with pytest.raises(handoff.PositionLost) as refused:
        bf.prepare(resume, table)
    text = str(refused.value)
    assert text.startswith(f"{table}: cannot resume")
    assert f"{topic} partition 0: the recorded position is offset 5" in text
    assert "low watermark is 8" in text
    assert f"--tables {table} --mode reload" in text
    assert _table_state(pg_db, table) == ("backfilling", {topic: {"0": 5}})
    # nothing more is copied, and finalize names the refusal instead of handing the table over
    with pytest.raises(ChunksNotDone, match="low watermark is 8"):
        bf.finalize(table)
    with pg_connect(pg_db, autocommit=True) as conn:
        assert not state.is_finalized(conn, table)

    # the fix the refusal names: a reload records a new position and copies every row
    reload = RunOptions(chunk_rows=100, mode="reload")
    summary = run_all(bf, reload, "run4")
    assert "unfinished" not in summary
    assert _table_state(pg_db, table) == ("streaming", {topic: {"0": 10}})
    assert _target_rows(pg_db) == ROWS


def test_finalize_refuses_a_position_retention_deleted_during_the_copy(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    topic: str,
) -> None:
    bootstrap = endpoints.kafka_bootstrap
    bf, table = _backfill(endpoints, mysql_db, mysql_admin, pg_db, tmp_path, topic)
    _produce(bootstrap, topic, 3)
    bf.start_run("run1", OPTIONS)
    outcome = bf.plan(OPTIONS)
    bf.prepare(OPTIONS, table)
    for group in outcome.groups:
        bf.copy_group(group, "run1", OPTIONS.batch_rows)
    _produce(bootstrap, topic, 4)
    _delete_before(bootstrap, topic, 5)  # offsets 3 and 4 gone

    finals = bf.finalize_all([table])
    assert finals.results == []
    assert finals.settled  # no retry gets past it: the DAG fails the task at once
    [failure] = finals.failures
    assert failure["table"] == table
    assert failure["error"].startswith(f"PositionLost: {table}: not finalized")
    assert f"{topic} partition 0: the recorded position is offset 3" in failure["error"]
    assert "low watermark is 5" in failure["error"]
    assert "mode=reload" in failure["error"]
    # the stream does not take it over: still backfilling, at the recorded position
    assert _table_state(pg_db, table) == ("backfilling", {topic: {"0": 3}})
    with pg_connect(pg_db, autocommit=True) as conn:
        assert not state.is_finalized(conn, table)
    summary = bf.summarize("run1", [table])
    assert "low watermark is 5" in summary["unfinished"][table]


USERS_DDL = (
    "CREATE TABLE users (id bigint NOT NULL PRIMARY KEY, email varchar(64) NOT NULL, "
    "UNIQUE KEY email (email))"
)
USERS_COLUMNS = [("id", "bigint(20)", False), ("email", "varchar(64)", False)]


def _users_backfill(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    ddl: str = USERS_DDL,
    **extra: Any,
) -> tuple[Backfill, str]:
    """users (ids 1-300, unique emails) planned in 3 chunks and prepared, nothing copied."""
    mysql_exec(replace(mysql_admin, database=mysql_db.database), ddl)
    mysql_exec(
        mysql_db,
        rows=[(i, f"user{i}@example.com") for i in range(1, ROWS + 1)],
        insert="INSERT INTO users VALUES (%s, %s)",
    )
    mapping = mapping_for(
        mysql_db.database,
        "users",
        USERS_COLUMNS,
        ("id",),
        indexes=[{"name": "email", "columns": ["email"], "unique": True}],
        **extra,
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    bf.start_run("run1", OPTIONS)
    assert bf.plan(OPTIONS).tables[0]["chunks"] == 3
    bf.prepare(OPTIONS, mapping.name)
    return bf, mapping.name


def _mysql_users(mysql_db: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    conn = mysql_connect(mysql_db, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT id, email FROM users ORDER BY id")
        return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


def _pg_users(pg_db: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute("SELECT id, email FROM public.users ORDER BY id")]


@pytest.mark.parametrize("key_hint", ["integer", "keyset"])  # range delete; staged exact keys
def test_a_unique_value_moved_to_a_later_chunk_does_not_block_the_resume(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    key_hint: str,
) -> None:
    bf, table = _users_backfill(
        endpoints, mysql_db, mysql_admin, pg_db, tmp_path, backfill={"key_hint": key_hint}
    )
    bf.copy_chunk((table, 0), "run1", OPTIONS.batch_rows)  # ids 1-100
    # the app moves unique values from copied rows to a row of a later chunk, one of them twice:
    # 150 takes 5's email, 5 takes 6's, 6 gets a new one; 7's goes to 160; 8 is deleted and
    # its email goes to 170
    mysql_exec(
        mysql_db,
        "DELETE FROM users WHERE id = 8",
        "UPDATE users SET email = 'user8@example.com' WHERE id = 170",
        "UPDATE users SET email = 'moved6@example.com' WHERE id = 6",
        "UPDATE users SET email = 'user6@example.com' WHERE id = 5",
        "UPDATE users SET email = 'user5@example.com' WHERE id = 150",
        "UPDATE users SET email = 'moved7@example.com' WHERE id = 7",
        "UPDATE users SET email = 'user7@example.com' WHERE id = 160",
    )
    # before the fix: RowsRefused (23505) on the stale copies of 5 and 7, on every resume too
    copied = bf.copy_chunk((table, 1), "run1", OPTIONS.batch_rows)
    assert copied["rows"] == 100
    assert copied["refreshed"] == 4  # 5, 6 (a value moved twice), 7, and 8 deleted
    # the chunk's rows and the refreshed ones hold MySQL's current values
    assert _pg_users(pg_db)[:199] == _mysql_users(mysql_db)[:199]
    resume = RunOptions(chunk_rows=0, mode="resume")
    bf.start_run("run2", resume)
    bf.plan(resume)
    bf.prepare(resume, table)
    assert bf.copy_chunk((table, 2), "run2", OPTIONS.batch_rows)["refreshed"] == 0
    bf.finalize(table, strict_counts=True)
    # nothing changed since the refresh's reads: the target equals MySQL before any replay
    target = _pg_users(pg_db)
    assert target == _mysql_users(mysql_db)
    assert dict(target)[150] == "user5@example.com"
    assert dict(target)[5] == "user6@example.com"
    assert _table_state(pg_db, table)[0] == "streaming"


def test_a_target_with_columns_the_mapping_does_not_sync_is_not_refreshed(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A refreshed row is deleted and written again from MySQL: a column of PostgreSQL's own
    would take a new value. Such a target keeps the chunk's old failure, saying why."""
    bf, table = _users_backfill(endpoints, mysql_db, mysql_admin, pg_db, tmp_path)
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.users ADD COLUMN nest_id bigserial")
    bf.copy_chunk((table, 0), "run1", OPTIONS.batch_rows)
    with pg_connect(pg_db, autocommit=True) as conn:
        before = conn.execute("SELECT nest_id FROM public.users WHERE id = 5").fetchone()
    mysql_exec(
        mysql_db,
        "UPDATE users SET email = 'moved5@example.com' WHERE id = 5",
        "UPDATE users SET email = 'user5@example.com' WHERE id = 150",
    )
    with pytest.raises(RowsRefused, match="duplicate key"), caplog.at_level("WARNING"):
        bf.copy_chunk((table, 1), "run1", OPTIONS.batch_rows)
    assert "the mapping does not sync (nest_id)" in caplog.text
    with pg_connect(pg_db, autocommit=True) as conn:
        after = conn.execute("SELECT nest_id, email FROM public.users WHERE id = 5").fetchone()
    assert after == (before[0] if before else None, "user5@example.com")  # untouched


def test_a_real_duplicate_under_the_conversion_fails_the_chunk_naming_both_rows(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """MySQL tells 'dup@x' and 'dup<NUL>@x' apart (a binary collation; MariaDB's general_ci
    takes them as equal); stripped of the NUL they are one value."""
    bf, table = _users_backfill(
        endpoints,
        mysql_db,
        mysql_admin,
        pg_db,
        tmp_path,
        ddl=USERS_DDL.replace("NOT NULL,", "COLLATE utf8mb4_bin NOT NULL,"),
        values={"nul_bytes": "strip"},
    )
    mysql_exec(
        mysql_db,
        "UPDATE users SET email = 'dup@example.com' WHERE id = 10",
        "UPDATE users SET email = CONCAT('dup', CHAR(0), '@example.com') WHERE id = 150",
    )
    bf.copy_chunk((table, 0), "run1", OPTIONS.batch_rows)
    with pytest.raises(DuplicateUniqueValue) as refused:
        bf.copy_chunk((table, 1), "run1", OPTIONS.batch_rows)
    text = str(refused.value)
    assert text.startswith(f"{table} #1: rows id=10 and id=150 both give (dup@example.com)")
    assert re.search(r"in unique index \S*email\S* of \"public\".\"users\"", text), text
    assert "Fix: make the values distinct in MySQL" in text
    assert is_settled(refused.value)  # a retry meets it again: the task fails at once
    # nothing of the chunk was written, the earlier copy of row 10 is kept
    target = dict(_pg_users(pg_db))
    assert len(target) == 100
    assert target[10] == "dup@example.com"
    with pg_connect(pg_db, autocommit=True) as conn:
        row = conn.execute(
            "SELECT state, error FROM mps_sync.backfill_chunks WHERE source_table = %s AND seq = 1",
            (table,),
        ).fetchone()
    assert row is not None
    assert row[0] == "failed"
    assert "DuplicateUniqueValue" in row[1]
