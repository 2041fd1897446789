"""Faults: poison messages and constraint violations become dead letters while the stream goes on;
kill -9 mid-batch loses and duplicates nothing; concurrent writes on both sides never echo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Consumer, Producer, TopicPartition
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    mysql_rows,
    pg_rows,
    wait_until,
)

from mysql_pg_sync.cdc.consumer import StreamConsumer
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint

REPO = Path(__file__).resolve().parents[2]
ITEMS_PG_EXTRA = [
    "ALTER TABLE public.items REPLICA IDENTITY FULL",
    # a rule PostgreSQL enforces and MySQL does not: the source of constraint violations
    "ALTER TABLE public.items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)",
]


ROWS = "SELECT id, name, qty, price, updated_at, note FROM items ORDER BY id"


def _dead_letters(p: Pipeline, expected: int) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": p.endpoints.kafka_bootstrap,
            "group.id": p.config.group_id + "-dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([p.config.dead_letter_topic])
    got: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while len(got) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg)
    finally:
        consumer.close()
    return got


def test_poison_message_and_constraint_violation_go_to_dead_letters(items: Pipeline) -> None:
    consumer = items.consumer()
    try:
        m = items.mysql()
        m.cursor().execute("INSERT INTO items VALUES (1, 'ok', 1, 1, NOW(6), NULL)")
        drive(consumer, lambda: len(pg_rows(items, ROWS)) == 1)
        topic = f"{items.config.mysql_topic_prefix}.{items.endpoints.mysql.database}.items"
        producer = Producer({"bootstrap.servers": items.endpoints.kafka_bootstrap})
        producer.produce(topic, key=b'{"id": 99}', value=b"\xff not a debezium event")
        assert producer.flush(30) == 0
        # one bad row (violates the PostgreSQL CHECK) among good ones in the same transaction
        m.cursor().execute(
            "INSERT INTO items VALUES (2, 'good', 2, 2, NOW(6), NULL),"
            " (3, 'bad', -1, 3, NOW(6), NULL),"
            " (4, 'good', 4, 4, NOW(6), NULL)"
        )
        m.close()
        # and both dead letters recorded: rows 2..4 (and key 99) may sit in different
        # partitions, so rows 2 and 4 can be applied a batch before row 3 or the poison is read,
        # and no consumer runs while the dead-letter topic is read below
        drive(
            consumer,
            lambda: (
                [r[0] for r in pg_rows(items, ROWS)] == [1, 2, 4]
                and len(pg_rows(items, "SELECT 1 FROM mps_sync.dead_letters")) == 2
            ),
        )
        letters = _dead_letters(items, 2)
        headers = sorted(
            (dict(h for h in msg.headers())["mps.error.class"].decode(), msg.key())
            for msg in letters
        )
        assert headers == [
            (b"CheckViolation".decode(), headers[0][1]),
            ("DecodeError", b'{"id": 99}'),
        ]
        assert b'"payload":{"id":3}' in headers[0][1]
        rows = pg_rows(
            items,
            "SELECT source_table, key->>'id', error_class FROM mps_sync.dead_letters ORDER BY 3",
        )
        # the undecodable message's key is kept as its JSON has it
        assert [(r[1], r[2]) for r in rows] == [("3", "CheckViolation"), ("99", "DecodeError")]
        assert pg_rows(items, "SELECT sum(dead_letters) FROM mps_sync.stream_metrics")[0][0] == 2
    finally:
        consumer.close()


def test_a_mysql_check_constraint_violation_is_a_dead_letter_not_a_crash(
    items: Pipeline, mysql_admin: DatabaseEndpoint
) -> None:
    """A CHECK only MySQL has (MariaDB error 4025, an OperationalError in MySQLdb): the
    PostgreSQL change that breaks it is a dead letter; the consumer and the other rows go on."""
    admin = mysql_connect(replace(mysql_admin, database=items.endpoints.mysql.database))
    admin.cursor().execute("ALTER TABLE items ADD CONSTRAINT qty_small CHECK (qty < 1000)")
    admin.close()
    consumer = items.consumer()
    try:
        pg = items.pg()
        pg.execute("INSERT INTO items VALUES (1, 'a', 1, 1, now(), NULL)")
        drive(consumer, lambda: len(mysql_rows(items, ROWS)) == 1)
        pg.execute("UPDATE items SET qty = 5000 WHERE id = 1")  # breaks MySQL's CHECK
        pg.execute("INSERT INTO items VALUES (2, 'b', 2, 2, now(), NULL)")
        pg.close()
        # row 2's insert may come from another partition, ahead of row 1's update: wait for the
        # update's dead letter too
        drive(
            consumer,
            lambda: (
                [r[0] for r in mysql_rows(items, ROWS)] == [1, 2]
                and len(pg_rows(items, "SELECT 1 FROM mps_sync.dead_letters")) == 1
            ),
        )
        assert mysql_rows(items, "SELECT qty FROM items WHERE id = 1") == [(1,)]
        rows = pg_rows(
            items,
            "SELECT source_table, key->>'id', error_class, error FROM mps_sync.dead_letters",
        )
        assert [(r[1], r[2]) for r in rows] == [("1", "OperationalError")]
        assert "qty_small" in rows[0][3]
    finally:
        consumer.close()


def test_a_postgres_date_python_cannot_hold_is_a_dead_letter_not_a_crash(items: Pipeline) -> None:
    """A BC or 'infinity' timestamp written in PostgreSQL overflowed the decoder: the consumer
    crashed at the same offset on every restart and no table streamed."""
    consumer = items.consumer()
    try:
        pg = items.pg()
        pg.execute("INSERT INTO items VALUES (1, 'bc', 1, 1, '0001-01-01 00:00:00 BC', NULL)")
        pg.execute("INSERT INTO items VALUES (2, 'inf', 2, 2, 'infinity', NULL)")
        pg.execute("INSERT INTO items VALUES (3, 'fine', 3, 3, now(), NULL)")
        pg.close()
        drive(consumer, lambda: [r[0] for r in mysql_rows(items, ROWS)] == [3])
        drive(consumer, lambda: len(pg_rows(items, "SELECT 1 FROM mps_sync.dead_letters")) == 2)
        rows = pg_rows(
            items,
            "SELECT key->>'id', error_class, error FROM mps_sync.dead_letters ORDER BY 1",
        )
        # 'infinity' reads as PostgreSQL's text (a zero_dates sentinel would be MySQL's zero
        # date), which MySQL cannot hold: the converter refuses it
        assert [(r[0], r[1]) for r in rows] == [("1", "DecodeError"), ("2", "ConversionError")]
        (_, _, bc), (_, _, inf) = rows
        assert "column 'updated_at'" in bc
        assert "outside years 1-9999" in bc
        assert "column 'updated_at'" in inf
        assert "timestamp cannot be stored in MySQL: 'infinity'; fix the row in PostgreSQL" in inf
    finally:
        consumer.close()


def _cli(p: Pipeline, mappings: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **p.env(),
        "MPS_STREAM_BATCH_EVENTS": "300",
        "MPS_STREAM_BATCH_MS": "300",
        "MPS_STREAM_INSTANCE_ID": "kill9-consumer",  # the restart takes the partitions back at once
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mysql_pg_sync", "stream", "--mappings", str(mappings)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_kill_9_mid_batch_then_restart_gives_exact_state(items: Pipeline, tmp_path: Path) -> None:
    mappings = tmp_path / "items.yaml"
    mappings.write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    m = items.mysql()
    cur = m.cursor()
    cur.executemany(
        "INSERT INTO items VALUES (%s, 'n', 0, 0, NOW(6), NULL)", [(i,) for i in range(50)]
    )
    total = 2000
    for i in range(total):  # one transaction each: many small changes to few keys
        cur.execute(
            "UPDATE items SET qty = qty + 1, price = price + 0.01, updated_at = NOW(6)"
            " WHERE id = %s",
            (i % 50,),
        )
    expected = mysql_rows(items, ROWS)
    proc = _cli(items, mappings)
    try:
        wait_until(
            lambda: (pg_rows(items, "SELECT coalesce(sum(qty), 0) FROM items")[0][0] or 0) > 0
        )
        progress = pg_rows(items, "SELECT coalesce(sum(qty), 0) FROM items")[0][0]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        assert progress < total, "the consumer finished before it could be killed"
        proc = _cli(items, mappings)
        wait_until(lambda: pg_rows(items, ROWS) == expected, timeout_s=120)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        m.close()
    assert pg_rows(items, ROWS) == expected == mysql_rows(items, ROWS)
    assert pg_rows(items, "SELECT count(*) FROM mps_sync.conflicts") == [(0,)]


def test_concurrent_writes_on_both_sides_never_echo_and_go_quiet(items: Pipeline) -> None:
    consumer = items.consumer()
    stop_writes = threading.Event()
    written = {"mysql": 0, "postgres": 0}

    def write_mysql() -> None:
        conn = items.mysql()
        i = 0
        while not stop_writes.is_set():
            key = i % 40  # keys 0..39 are MySQL's
            conn.cursor().execute(
                "INSERT INTO items VALUES (%s, 'm', %s, 1, NOW(6), NULL)"
                " ON DUPLICATE KEY UPDATE qty = VALUES(qty), updated_at = NOW(6)",
                (key, i),
            )
            written["mysql"] += 1
            i += 1
        conn.close()

    def write_pg() -> None:
        with items.pg() as conn:
            i = 0
            while not stop_writes.is_set():
                key = 1000 + i % 40  # keys 1000..1039 are PostgreSQL's
                conn.execute(
                    "INSERT INTO items VALUES (%s, 'p', %s, 1, now(), NULL)"
                    " ON CONFLICT (id) DO UPDATE SET qty = EXCLUDED.qty, updated_at = now()",
                    (key, i),
                )
                written["postgres"] += 1
                i += 1

    writers = [threading.Thread(target=write_mysql), threading.Thread(target=write_pg)]
    for t in writers:
        t.start()
    try:
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            consumer.run(max_seconds=0.5)
    finally:
        stop_writes.set()
        for t in writers:
            t.join()
    try:
        drive(consumer, lambda: pg_rows(items, ROWS) == mysql_rows(items, ROWS), timeout_s=120)

        def stats() -> dict[str, tuple[Any, ...]]:
            return {
                r[0]: r[1:]
                for r in pg_rows(
                    items,
                    "SELECT incoming_side, sum(events), sum(applied), sum(echoes),"
                    " sum(skipped_same) FROM mps_sync.stream_metrics GROUP BY 1",
                )
            }

        def echoes_in() -> bool:
            s = stats()
            return (s["postgres"][2], s["mysql"][2]) >= (s["mysql"][1], s["postgres"][1])

        # quiet: once the last echoes are drained, nothing at all arrives any more. A source
        # connector may hold a batch of echoes back for seconds (a busy Connect worker), so a
        # quiet slice only counts once every applied write has come back.
        def quiet_slice() -> bool:
            s = consumer.run(max_seconds=2)
            return (s.events, s.echoes, s.applied) == (0, 0, 0)

        wait_until(lambda: quiet_slice() and echoes_in(), timeout_s=90, poll_s=0)
        assert quiet_slice()
        m_events, m_applied, m_echoes, m_same = stats()["mysql"]
        p_events, p_applied, p_echoes, p_same = stats()["postgres"]
        # bounded: no more events than the writes made, per side
        assert m_events <= written["mysql"]
        assert p_events <= written["postgres"]
        # each write the applier made came back exactly once, as a dropped echo, never applied
        assert (p_echoes, m_echoes) == (m_applied, p_applied)
        assert (m_same, p_same) == (0, 0)
        assert min(m_applied, p_applied) > 0
    finally:
        consumer.close()


def _rows(p: Pipeline) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    m = p.mysql()
    try:
        cur = m.cursor()
        cur.execute("SELECT id, name FROM items ORDER BY id")
        mysql_rows = [tuple(r) for r in cur.fetchall()]
    finally:
        m.close()
    with p.pg() as pg:
        pg_rows = [tuple(r) for r in pg.execute("SELECT id, name FROM items ORDER BY id")]
    return mysql_rows, pg_rows


def _insert_in_mysql_then_rename_in_postgres(items: Pipeline, consumer: StreamConsumer) -> None:
    """Row 1 made in MySQL, renamed in PostgreSQL, both synced and quiet (echoes consumed)."""
    m = items.mysql()
    m.cursor().execute("INSERT INTO items VALUES (1, 'from mysql', 1, 1.00, NOW(6), NULL)")
    m.close()
    drive(consumer, lambda: _rows(items)[1] == [(1, "from mysql")])
    with items.pg() as pg:
        pg.execute("UPDATE items SET name = 'from postgres' WHERE id = 1")
    drive(consumer, lambda: _rows(items)[0] == [(1, "from postgres")])
    # both echoes read (the replay below counts them): the MySQL one comes a moment after the
    # apply, and a busy Connect worker can hold it back longer than an idle run waited (2 s)
    consumer.run(max_seconds=60, stop=lambda: all(n >= 1 for n in _echoes(items).values()))


def _echoes(p: Pipeline) -> dict[str, int]:
    sql = "SELECT incoming_side, sum(echoes) FROM mps_sync.stream_metrics GROUP BY 1"
    found = {side: int(n) for side, n in pg_rows(p, sql)}
    return {side: found.get(side, 0) for side in ("mysql", "postgres")}


def test_a_replay_after_a_crash_before_the_kafka_commit_changes_nothing(items: Pipeline) -> None:
    """The targets committed, Kafka's offsets did not (kill -9 in between): the next consumer
    reads every message again. Re-applying MySQL's old insert under mysql_wins would overwrite
    the newer name PostgreSQL wrote since (found by the convergence harness); the offsets each
    target records in its own transaction make the replay a no-op."""
    consumer = items.consumer()
    try:
        _insert_in_mysql_then_rename_in_postgres(items, consumer)
        topics = list(consumer.topics)
    finally:
        consumer.close()
    assert _rows(items) == ([(1, "from postgres")], [(1, "from postgres")])

    rewind = Consumer(
        {"bootstrap.servers": items.endpoints.kafka_bootstrap, "group.id": items.config.group_id}
    )
    try:
        meta = rewind.list_topics(timeout=10)
        rewind.commit(
            offsets=[
                TopicPartition(t, p, 0)
                for t in topics
                if t in meta.topics
                for p in meta.topics[t].partitions
            ],
            asynchronous=False,
        )
    finally:
        rewind.close()

    again = items.consumer(max_batch_events=1)  # one message a batch, as a replay may cut them
    try:
        summary = again.run(max_seconds=30, idle_stop_s=5)
    finally:
        again.close()
    assert summary.replayed >= 4  # insert, its echo, the update, its echo
    assert summary.applied == 0
    assert _rows(items) == ([(1, "from postgres")], [(1, "from postgres")])


def test_a_change_debezium_emits_again_is_not_applied_twice(
    items: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    """After a Connect or broker restart Debezium re-reads its log from the last committed
    position and emits those changes again under new offsets. The old MySQL insert, applied
    again under mysql_wins, would overwrite the newer name PostgreSQL wrote since (found by
    `make chaos`); its binlog position gives it away. The skip is logged with the way back,
    because a source log that started over (RESET MASTER) looks the same."""
    consumer = items.consumer()
    try:
        _insert_in_mysql_then_rename_in_postgres(items, consumer)
        topic = next(t for t, (side, _) in consumer.topics.items() if side == "mysql")

        # the insert, emitted again exactly as Debezium does after a restart
        reader = Consumer(
            {"bootstrap.servers": items.endpoints.kafka_bootstrap, "group.id": "mps-test-reader"}
        )
        try:
            meta = reader.list_topics(topic, timeout=10).topics[topic]
            reader.assign([TopicPartition(topic, p, 0) for p in meta.partitions])
            first = None
            while first is None:
                msg = reader.poll(5)
                assert msg is not None, "the insert event is not in the topic"
                if msg.value() and json.loads(msg.value())["payload"]["op"] == "c":
                    first = msg
        finally:
            reader.close()
        producer = Producer({"bootstrap.servers": items.endpoints.kafka_bootstrap})
        producer.produce(topic, first.value(), first.key(), partition=first.partition())
        producer.flush(10)

        summary = consumer.run(max_seconds=15, idle_stop_s=4)
    finally:
        consumer.close()
    assert summary.duplicates == 1
    assert summary.applied == 0
    assert _rows(items) == ([(1, "from postgres")], [(1, "from postgres")])
    [warning] = [r.getMessage() for r in caplog.records if "skipped 1 change(s)" in r.getMessage()]
    assert warning.startswith(f"{topic}[{first.partition()}]: ")
    assert "RESET MASTER" in warning
    assert "mps_sync.applied_offsets" in warning
