"""Dead letters recovered on the real stack: `dead-letters list | retry | resolve`, the Sync
status (warn while one is open), and the data-quality check (open ones only)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import Producer
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

ITEMS_PG_EXTRA = [
    "ALTER TABLE public.items REPLICA IDENTITY FULL",
    # a rule PostgreSQL enforces and MySQL does not: MySQL -> PostgreSQL changes break it
    "ALTER TABLE public.items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)",
]
ROWS = "SELECT id, name, qty FROM items ORDER BY id"
LETTERS = "SELECT id, key->>'id', error_class, resolution FROM mps_sync.dead_letters ORDER BY id"


@pytest.fixture
def cli(items: Pipeline, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """``cli(*args)`` -> (exit status, stdout) of `python -m mysql_pg_sync ...` on the pipeline."""
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in items.mappings]))
    for name, value in items.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))

    def run(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        capsys.readouterr()
        status = main(list(args))
        return status, capsys.readouterr().out

    return run


def _mysql_admin(items: Pipeline, admin: DatabaseEndpoint, sql: str) -> None:
    conn = mysql_connect(replace(admin, database=items.endpoints.mysql.database), autocommit=True)
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


def _status(cli: Any, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    status, out = cli("status", "--json", capsys=capsys)
    (table,) = [t for t in json.loads(out)["tables"] if t["source"].endswith(".items")]
    return status, table


def _open_letters(items: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(items, "SELECT id FROM mps_sync.dead_letters WHERE resolved_at IS NULL")


def test_a_mysql_to_postgres_dead_letter_is_retried_after_the_cause_is_fixed(
    items: Pipeline, cli: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    consumer = items.consumer()
    try:
        m = items.mysql()
        m.cursor().execute(
            "INSERT INTO items VALUES (1, 'ok', 1, 1, NOW(6), NULL),"
            " (2, 'bad', -1, 2, NOW(6), NULL)"
        )
        m.close()
        # row 1 too: rows 1 and 2 may sit in different partitions and be applied in two batches
        drive(
            consumer,
            lambda: len(pg_rows(items, LETTERS)) == 1 and len(pg_rows(items, ROWS)) == 1,
        )
        assert pg_rows(items, ROWS) == [(1, "ok", 1)]
        with items.pg() as pg:  # a table the page shows as live: state, a running consumer
            pg.execute(
                "INSERT INTO mps_sync.table_state (source_table, target_table, state)"
                " VALUES (%s, 'public.items', 'streaming')",
                (items.mappings.tables[0].name,),
            )
            pg.execute(
                "INSERT INTO mps_sync.stream_runs (run_id, heartbeat_at) VALUES ('r', now())"
            )

        status, table = _status(cli, capsys)
        assert (status, table["health"], table["dead_letters"]) == (3, "warn", "1")
        assert 'make cli ARGS="dead-letters list --table' in table["reason"]
        status, out = cli("status", capsys=capsys)
        assert "open dead letters" in out.splitlines()[1]
        assert "dead-letters retry --table" in out

        status, out = cli("dead-letters", "list", "--json", capsys=capsys)
        (letter,) = json.loads(out)
        assert (status, letter["key"], letter["direction"]) == (0, {"id": 2}, "MySQL -> PostgreSQL")
        assert letter["error_class"] == "CheckViolation"

        # the cause is still there: the retry fails again, says what to fix, the letter stays open
        status, out = cli("dead-letters", "retry", capsys=capsys)
        assert status == 1
        assert "still fails: CheckViolation" in out
        assert "fix the cause in PostgreSQL" in out
        assert len(_open_letters(items)) == 1

        status, out = cli("dead-letters", "retry", "--dry-run", capsys=capsys)
        assert status == 0
        assert "would copy MySQL's current row to PostgreSQL" in out
        assert pg_rows(items, ROWS) == [(1, "ok", 1)]  # a dry run writes nothing

        with items.pg() as pg:
            pg.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")
        status, out = cli("dead-letters", "retry", capsys=capsys)
        assert status == 0, out
        assert pg_rows(items, ROWS) == mysql_rows(items, ROWS) == [(1, "ok", 1), (2, "bad", -1)]
        assert [r[3] for r in pg_rows(items, LETTERS)] == [
            "retried: copied MySQL's current row to PostgreSQL"
        ]
        # the retry's write is tagged: its capture comes back as an echo, never as a change
        summary = consumer.run(max_seconds=8, idle_stop_s=4)
        assert (summary.applied, summary.dead_letters) == (0, 0)
        assert pg_rows(items, ROWS) == mysql_rows(items, ROWS)
    finally:
        consumer.close()

    status, table = _status(cli, capsys)
    assert (status, table["health"], table["dead_letters"], table["reason"]) == (0, "ok", "0", "")

    expectations = tmp_path / "expectations"
    expectations.mkdir()
    run = run_quality(
        items.endpoints,
        items.mappings,
        load_quality_config(expectations),
        "manual__dead_letters",
        reports=tmp_path,
    )
    (check,) = [r for r in run.results if r.check_id == "dead_letters"]
    assert (check.outcome, check.observed) == ("passed", 0)


def test_a_postgres_to_mysql_dead_letter_retried_lands_the_postgres_write_in_mysql(
    items: Pipeline, cli: Any, capsys: pytest.CaptureFixture[str], mysql_admin: DatabaseEndpoint
) -> None:
    """A MySQL-only UNIQUE key breaks a PostgreSQL app's write. Reconcile, whose authority is
    MySQL, would copy MySQL's old row back over it; a retry writes PostgreSQL's current row."""
    _mysql_admin(items, mysql_admin, "ALTER TABLE items ADD UNIQUE KEY items_name (name)")
    consumer = items.consumer()
    try:
        with items.pg() as pg:
            pg.execute("INSERT INTO items VALUES (1, 'a', 1, 1, now(), NULL)")
            pg.execute("INSERT INTO items VALUES (2, 'b', 2, 2, now(), NULL)")
        drive(consumer, lambda: len(mysql_rows(items, ROWS)) == 2)
        with items.pg() as pg:
            pg.execute("UPDATE items SET name = 'a', qty = 20 WHERE id = 2")  # MySQL's key: taken
        drive(consumer, lambda: len(pg_rows(items, LETTERS)) == 1)
        assert mysql_rows(items, ROWS) == [(1, "a", 1), (2, "b", 2)]

        status, out = cli("dead-letters", "list", capsys=capsys)
        assert status == 0
        assert "id=2  PostgreSQL -> MySQL  IntegrityError" in out

        with items.pg() as pg:  # the fix: the PostgreSQL app renames row 1, which streams over
            pg.execute("UPDATE items SET name = 'c' WHERE id = 1")
        drive(consumer, lambda: mysql_rows(items, ROWS)[0] == (1, "c", 1))

        status, out = cli("dead-letters", "retry", "--table", "items", capsys=capsys)
        assert status == 0, out
        assert mysql_rows(items, ROWS) == pg_rows(items, ROWS) == [(1, "c", 1), (2, "a", 20)]
        assert [r[3] for r in pg_rows(items, LETTERS)] == [
            "retried: copied PostgreSQL's current row to MySQL"
        ]
        summary = consumer.run(max_seconds=8, idle_stop_s=4)
        assert (summary.applied, summary.dead_letters) == (0, 0)
    finally:
        consumer.close()


def test_resolve_by_hand_and_a_letter_without_a_key(
    items: Pipeline, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    consumer = items.consumer()
    try:
        topic = f"{items.config.mysql_topic_prefix}.{items.endpoints.mysql.database}.items"
        producer = Producer({"bootstrap.servers": items.endpoints.kafka_bootstrap})
        # no key to read either (a message with a JSON key keeps it: a retry reads that row)
        producer.produce(topic, key=b"\xfe no key", value=b"\xff not a debezium event")
        assert producer.flush(30) == 0
        m = items.mysql()
        m.cursor().execute("INSERT INTO items VALUES (3, 'bad', -3, 3, NOW(6), NULL)")
        m.close()
        drive(consumer, lambda: len(pg_rows(items, LETTERS)) == 2)
    finally:
        consumer.close()
    by_class = {
        c: i for i, c in pg_rows(items, "SELECT id, error_class FROM mps_sync.dead_letters")
    }
    undecodable, bad = by_class["DecodeError"], by_class["CheckViolation"]

    status, out = cli("dead-letters", "retry", "--id", str(undecodable), capsys=capsys)
    assert status == 1
    assert "could not be decoded" in out
    assert f"dead-letters resolve --id {undecodable}" in out

    with items.pg() as pg:  # fixed by hand: the row written to PostgreSQL within its rule
        pg.execute("INSERT INTO items VALUES (3, 'bad', 0, 3, now(), NULL)")
    status, out = cli(
        "dead-letters", "resolve", "--id", str(bad), "--id", str(undecodable),
        "--note", "row 3 written by hand with qty 0; message 99 was a test", capsys=capsys,
    )  # fmt: skip
    assert status == 0
    assert _open_letters(items) == []
    assert {r[3] for r in pg_rows(items, LETTERS)} == {
        "resolved by hand: row 3 written by hand with qty 0; message 99 was a test"
    }
    capsys.readouterr()
    assert main(["dead-letters", "resolve", "--id", str(bad), "--note", "again"]) == 1
    assert f"id {bad} is already resolved (resolved by hand: row 3" in capsys.readouterr().err
    status, out = cli("dead-letters", "list", capsys=capsys)
    assert (status, out.strip()) == (0, "no open dead letters")
    status, out = cli("dead-letters", "list", "--all", capsys=capsys)
    assert "resolved by hand" in out


def test_a_retry_whose_source_row_is_gone_writes_and_deletes_nothing(
    items: Pipeline, cli: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not finding the key on the source side is never taken as "delete it on the target": a
    key the lookup cannot bind would then delete a row that exists."""
    consumer = items.consumer()
    try:
        m = items.mysql()
        m.cursor().execute(
            "INSERT INTO items VALUES (1, 'ok', 1, 1, NOW(6), NULL),"
            " (2, 'bad', -1, 2, NOW(6), NULL)"
        )
        # row 1 too (asserted below): it may come from another partition, in a later batch
        drive(
            consumer,
            lambda: len(pg_rows(items, LETTERS)) == 1 and len(pg_rows(items, ROWS)) == 1,
        )
        m.cursor().execute("DELETE FROM items WHERE id = 2")
        m.close()
        drive(consumer, lambda: mysql_rows(items, ROWS) == [(1, "ok", 1)])
        with items.pg() as pg:  # a row PostgreSQL has under that key: it must survive
            pg.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")
            pg.execute("INSERT INTO items VALUES (2, 'pg only', 5, 1, now(), NULL)")
        status, out = cli("dead-letters", "retry", capsys=capsys)
        assert status == 1
        assert "MySQL has no row with this key now, so nothing was written" in out
        assert pg_rows(items, ROWS) == [(1, "ok", 1), (2, "pg only", 5)]
        assert len(_open_letters(items)) == 1
    finally:
        consumer.close()
