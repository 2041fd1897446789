"""Dead letters hunted on the real stack (MariaDB, PostgreSQL, Kafka, Connect): retries that
must keep the mapping's conflict rule, letters that must reach their topic or stop the run,
large letters with their headers, letters of a table since removed, and the DAG's Params.

Topics and consumer groups of its own start with ``mps_dlh_``; the pipelines' connectors,
topics and databases are the harness's unique ones.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cdc.apply import DeadLetter
from mysql_pg_sync.cdc.dead_letters import publish
from mysql_pg_sync.cdc.topics import delete_topics
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

ROWS = "SELECT id, name, qty FROM items ORDER BY id"
LETTERS = "SELECT id, key->>'id', error_class, resolution FROM mps_sync.dead_letters ORDER BY id"
FULL = "ALTER TABLE public.items REPLICA IDENTITY FULL"
CHECK = "ALTER TABLE public.items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)"


def _tag() -> str:
    return f"mps_dlh_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(pipeline, *args, mappings=None)`` -> (exit status, stdout) of the command line
    on the pipeline (``mappings``: the entries written to its mappings folder)."""

    def run(p: Pipeline, *args: str, mappings: Any = None) -> tuple[int, str]:
        folder = tmp_path / f"mappings_{uuid.uuid4().hex[:6]}"
        folder.mkdir()
        entries = p.mappings.tables if mappings is None else mappings
        (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in entries]))
        for name, value in p.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
        monkeypatch.setenv("MPS_CONNECT_CONVERTER", p.settings.converter)
        capsys.readouterr()
        status = main(list(args))
        return status, capsys.readouterr().out

    return run


def _mysql_admin(p: Pipeline, admin: DatabaseEndpoint, sql: str) -> None:
    conn = mysql_connect(replace(admin, database=p.endpoints.mysql.database), autocommit=True)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def _settle(p: Pipeline, consumer: Any) -> None:
    """Consume until the topics are quiet (the retry's own writes come back as echoes)."""
    consumer.run(max_seconds=8, idle_stop_s=4)


# -- a retry keeps the mapping's conflict rule ----------------------------------------------------


def test_a_retry_does_not_put_the_losing_sides_row_over_a_newer_winning_row(
    make_items: Any, cli: Any, mysql_admin: DatabaseEndpoint
) -> None:
    """mysql_wins: a PostgreSQL change dead-lettered (a MySQL-only UNIQUE key), then the MySQL
    app updates the same row before the stream carried that over. The retry must not copy
    PostgreSQL's row over MySQL's newer one: MySQL's change would then land in PostgreSQL
    (mysql_wins) while MySQL held PostgreSQL's old row, the two sides swapped for good."""
    with make_items("mysql_wins", None, (FULL,)) as p:
        _mysql_admin(p, mysql_admin, "ALTER TABLE items ADD UNIQUE KEY items_name (name)")
        consumer = p.consumer()
        try:
            with p.pg() as pg:
                pg.execute("INSERT INTO items VALUES (1, 'a', 1, 1, now(), NULL)")
                pg.execute("INSERT INTO items VALUES (2, 'b', 2, 2, now(), NULL)")
            drive(consumer, lambda: len(mysql_rows(p, ROWS)) == 2)
            with p.pg() as pg:
                pg.execute("UPDATE items SET name = 'a', qty = 20 WHERE id = 2")
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
            _mysql_admin(p, mysql_admin, "ALTER TABLE items DROP KEY items_name")  # the fix
            # the MySQL app writes the row after PostgreSQL's change: MySQL's row wins
            mysql_rows(p, "UPDATE items SET qty = 99 WHERE id = 2")

            status, out = cli(p, "dead-letters", "retry")
            assert mysql_rows(p, ROWS)[1] == (2, "b", 99), out  # MySQL's newer write kept
            _settle(p, consumer)
            assert mysql_rows(p, ROWS) == pg_rows(p, ROWS) == [(1, "a", 1), (2, "b", 99)]
            assert status == 1, out  # the rule kept MySQL's row: the letter says so
            assert "rule kept the mysql row, judged against the before-image" in out
        finally:
            consumer.close()


def test_a_retry_in_the_winning_direction_still_copies_the_current_row(
    make_items: Any, cli: Any
) -> None:
    """The same rule the other way: a MySQL change (the winner) dead-lettered by a CHECK only
    PostgreSQL has, then fixed; PostgreSQL's app changed the row meanwhile (not yet carried
    over). The retry copies MySQL's current row; PostgreSQL's change then loses in MySQL."""
    with make_items("mysql_wins", None, (FULL, CHECK)) as p:
        consumer = p.consumer()
        try:
            m = p.mysql()
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, NOW(6), NULL)")
            drive(consumer, lambda: len(pg_rows(p, ROWS)) == 1)
            m.cursor().execute("UPDATE items SET qty = -1 WHERE id = 1")
            m.close()
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
            with p.pg() as pg:
                pg.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")
                pg.execute("UPDATE items SET name = 'pg' WHERE id = 1")
            status, out = cli(p, "dead-letters", "retry")
            assert status == 0, out
            _settle(p, consumer)
            assert mysql_rows(p, ROWS) == pg_rows(p, ROWS) == [(1, "one", -1)]
        finally:
            consumer.close()


def test_two_letters_of_one_key_write_the_newest_row_once_and_resolve_both(
    make_items: Any, cli: Any
) -> None:
    with make_items("mysql_wins", None, (FULL, CHECK)) as p:
        consumer = p.consumer()
        try:
            m = p.mysql()
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, NOW(6), NULL)")
            drive(consumer, lambda: len(pg_rows(p, ROWS)) == 1)
            m.cursor().execute("UPDATE items SET qty = -1 WHERE id = 1")
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
            m.cursor().execute("UPDATE items SET qty = -2, name = 'newer' WHERE id = 1")
            m.close()
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 2)
            with p.pg() as pg:
                pg.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")
            status, out = cli(p, "dead-letters", "retry")
            assert status == 0, out
            assert out.count("ok: ") == 1, out  # one write for the key
            assert pg_rows(p, ROWS) == [(1, "newer", -2)]
            assert [r[3] for r in pg_rows(p, LETTERS)] == [
                "retried: copied MySQL's current row to PostgreSQL"
            ] * 2
            status, out = cli(p, "dead-letters", "retry")
            assert (status, out.strip()) == (0, "no open dead letters: nothing to retry")
        finally:
            consumer.close()


def test_a_retry_resolves_only_the_keys_it_wrote(make_items: Any, cli: Any) -> None:
    """Two keys retried together, one still failing: only the written one is resolved."""
    with make_items("mysql_wins", None, (FULL, CHECK)) as p:
        consumer = p.consumer()
        try:
            m = p.mysql()
            m.cursor().execute(
                "INSERT INTO items VALUES (2, 'two', -2, 1, NOW(6), NULL),"
                " (3, 'three', -3, 1, NOW(6), NULL)"
            )
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 2)
            m.cursor().execute("UPDATE items SET qty = 3 WHERE id = 3")  # fixed at the source
            m.close()
            status, out = cli(p, "dead-letters", "retry")
            assert status == 1, out
            assert pg_rows(p, ROWS) == [(3, "three", 3)]
            letters = {r[1]: r[3] for r in pg_rows(p, LETTERS)}
            assert letters == {
                "2": None,
                "3": "retried: copied MySQL's current row to PostgreSQL",
            }
            assert "id=2 (MySQL -> PostgreSQL): still fails: CheckViolation" in out
        finally:
            consumer.close()


# -- the dead-letter topic ------------------------------------------------------------------------


@pytest.fixture
def own_topics(endpoints: Endpoints) -> Iterator[str]:
    """A prefix for topics of the test's own, deleted afterwards."""
    prefix = _tag()
    try:
        yield prefix
    finally:
        delete_topics(endpoints.kafka_bootstrap, [prefix])


def test_a_letter_the_topic_refuses_stops_the_batch_instead_of_vanishing(
    endpoints: Endpoints, own_topics: str
) -> None:
    """A dead-letter topic made with Kafka's default 1 MB limit refuses a 2 MB letter. The
    producer reports that in the delivery report only (``flush`` returns 0), so the letter
    must not count as sent: its message would be in no topic, and the batch's offsets would
    be committed past it."""
    bootstrap = endpoints.kafka_bootstrap
    topic = f"{own_topics}.dead-letters"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics(
        [NewTopic(topic, 1, 1, config={"max.message.bytes": "1048588"})]
    ).values():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 64 * 2**20})
    letter = DeadLetter(None, ValueError("too long for its column"), "db.items", {"id": 7})
    with pytest.raises(RuntimeError) as failed:
        publish(producer, topic, [(letter, b'{"id": 7}', b"x" * (2 * 2**20))])
    message = str(failed.value)
    for part in (topic, 'table db.items key {"id": 7}', "max.message.bytes"):
        assert part in message


def _read_topic(bootstrap: str, topic: str, count: int, timeout_s: float = 60) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": _tag(),
            "enable.auto.commit": False,
            "fetch.message.max.bytes": 64 * 2**20,
        }
    )
    try:
        parts = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        consumer.assign([TopicPartition(topic, n, 0) for n in parts])
        found: list[Any] = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            msg = consumer.poll(1)
            if msg is not None and msg.error() is None:
                found.append(msg)
        return found
    finally:
        consumer.close()


def test_a_large_letter_reaches_the_topic_whole_with_its_headers(make_items: Any, cli: Any) -> None:
    """A 1.5 MB PostgreSQL row whose note MySQL's `text` (64 KB) cannot hold: its dead letter
    carries the whole message, headers naming table, key, error and position, and `list`
    names the same."""
    with make_items("mysql_wins", None, (FULL,)) as p:
        consumer = p.consumer()
        try:
            with p.pg() as pg:
                pg.execute("INSERT INTO items VALUES (5, 'big', 5, 1, now(), repeat('é', 768000))")
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1, timeout_s=120)
        finally:
            consumer.close()
        (msg,) = _read_topic(p.endpoints.kafka_bootstrap, p.config.dead_letter_topic, 1)
        assert len(msg.value()) > 1_500_000
        headers = {k: v.decode() for k, v in msg.headers()}
        assert headers["mps.table"] == p.mappings.tables[0].name
        assert json.loads(headers["mps.key"]) == {"id": 5}
        (letter,) = pg_rows(
            p,
            "SELECT kafka_topic, kafka_partition, kafka_offset, error_class, key"
            " FROM mps_sync.dead_letters",
        )
        assert (
            headers["__connect.errors.topic"],
            int(headers["__connect.errors.partition"]),
            int(headers["__connect.errors.offset"]),
            headers["mps.error.class"],
            {"id": 5},
        ) == letter
        status, out = cli(p, "dead-letters", "list")
        assert status == 0
        assert f"id=5  PostgreSQL -> MySQL  {letter[3]}" in out


# -- a table since removed, and the DAG's Params ---------------------------------------------------


def test_letters_of_a_removed_table_are_listed_and_refused_by_retry(
    make_items: Any, cli: Any
) -> None:
    with make_items("mysql_wins", None, (FULL, CHECK)) as p:
        consumer = p.consumer()
        try:
            m = p.mysql()
            m.cursor().execute("INSERT INTO items VALUES (4, 'bad', -4, 1, NOW(6), NULL)")
            m.close()
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
        finally:
            consumer.close()
        name = p.mappings.tables[0].name
        other = items_mapping(f"{p.endpoints.mysql.database}_other")  # the one left
        status, out = cli(p, "dead-letters", "list", "--table", name, mappings=[other])
        assert status == 0
        assert name in out
        assert "id=4" in out
        status, out = cli(p, "dead-letters", "retry", "--table", name, mappings=[other])
        assert status == 1
        assert f"{name} is not among the enabled mappings" in out
        assert pg_rows(p, ROWS) == []
        assert pg_rows(p, LETTERS)[0][3] is None  # still open
        # a name no mapping and no letter has: refused, never "no open dead letters"
        status, out = cli(p, "dead-letters", "retry", "--table", "nosuch", mappings=[other])
        assert (status, out) == (1, "")  # the error (stderr) names the known tables


@pytest.mark.parametrize("converter", ["json", "avro"])
def test_postgres_wins_a_mysql_letter_retried_keeps_postgres_newer_row(
    make_pipeline: Any, mysql_db: DatabaseEndpoint, cli: Any, converter: str
) -> None:
    """postgres_wins, the other way round: a MySQL change dead-lettered by a CHECK only
    PostgreSQL has; the PostgreSQL app then changes the row. The retry reads the failed change
    back from its topic (JSON or Avro) and finds PostgreSQL's row changed: it writes nothing."""
    mapping = items_mapping(mysql_db.database, "postgres_wins")
    with make_pipeline([mapping], [ITEMS_MYSQL], [ITEMS_PG, FULL, CHECK], converter=converter) as p:
        consumer = p.consumer()
        try:
            m = p.mysql()
            m.cursor().execute("INSERT INTO items VALUES (1, 'one', 1, 1, NOW(6), NULL)")
            drive(consumer, lambda: len(pg_rows(p, ROWS)) == 1, timeout_s=120)
            m.cursor().execute("UPDATE items SET qty = -1 WHERE id = 1")
            m.close()
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
            with p.pg() as pg:
                pg.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")
                pg.execute("UPDATE items SET name = 'pg' WHERE id = 1")
            status, out = cli(p, "dead-letters", "retry")
            assert pg_rows(p, ROWS) == [(1, "pg", 1)], out
            assert status == 1
            assert "rule kept the postgres row, judged against the before-image" in out
            _settle(p, consumer)
            assert mysql_rows(p, ROWS) == pg_rows(p, ROWS) == [(1, "pg", 1)]
        finally:
            consumer.close()


def test_dag_params_naming_no_table_fail_and_an_empty_filter_says_whose(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> None:
    from mysql_pg_sync.airflow.dead_letters import run_from_params

    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping = items_mapping(mysql_db.database)
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(mapping)]))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    use_airflow_connections(mysql_db, pg_db)
    for action in ("list", "retry"):
        with pytest.raises(Exception, match=r"nosuch_\*") as failed:  # fails, no retries
            run_from_params({"action": action, "table": "nosuch_*", "ids": []})
        assert type(failed.value).__name__ == "AirflowFailException"
    text = run_from_params({"action": "retry", "table": "items", "ids": [], "dry_run": False})
    assert text == f"no open dead letters of {mapping.name}: nothing to retry"
    text = run_from_params({"action": "list", "table": "items", "ids": []})
    assert text == f"no open dead letters of {mapping.name}"
