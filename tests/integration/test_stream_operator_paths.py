"""The stream's operator-facing paths: a schema change mid-stream and dead-letter recovery."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cdc import dead_letter_retry
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import dump_yaml_entry
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

LETTERS = "SELECT id, key->>'id', error_class, resolution FROM mps_sync.dead_letters ORDER BY id"


def _admin_mysql(admin: DatabaseEndpoint, p: Pipeline, sql: str) -> None:
    db = p.endpoints.mysql.database
    with closing(mysql_connect(replace(admin, database=db), autocommit=True)) as conn:
        conn.cursor().execute(sql)


def _cli_env(p: Pipeline, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "items.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in p.mappings]))
    for name, value in p.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))


# -- a MySQL type change mid-stream -------------------------------------------------------------


def test_a_widened_decimal_scale_in_mysql_is_never_rounded_silently_in_postgres(
    make_items: Any, mysql_admin: DatabaseEndpoint
) -> None:
    """The MySQL migration widens `price` from decimal(12,2) to decimal(12,4) while the table
    streams. ADR 0011: `ddl` never retypes, the operator does, after `mappings generate`
    reports the retype. Until then the stream must not write a value PostgreSQL's
    numeric(12,2) cannot hold: it must dead-letter (or hold) the change, as it does for a
    varchar that grew. It writes the Decimal as is, and PostgreSQL rounds it without a word:
    1.2345 becomes 1.23, no dead letter, no drift, nothing in the run's summary."""
    with make_items() as p:
        mysql_rows(p, "INSERT INTO items VALUES (1, 'a', 1, 1.50, NOW(6), NULL)")
        with closing(p.consumer()) as running:
            drive(running, lambda: len(pg_rows(p, "SELECT id FROM items")) == 1)
            _admin_mysql(mysql_admin, p, "ALTER TABLE items MODIFY price decimal(12,4)")
            mysql_rows(p, "UPDATE items SET price = 1.2345, qty = 2 WHERE id = 1")
            drive(
                running,
                lambda: pg_rows(p, "SELECT qty FROM items") == [(2,)] or bool(pg_rows(p, LETTERS)),
            )
            summary = running.run(max_seconds=3, idle_stop_s=2)
        assert mysql_rows(p, "SELECT price FROM items") == [(Decimal("1.2345"),)]
        pg_price = pg_rows(p, "SELECT price FROM items")
        letters = pg_rows(p, LETTERS)
        # either the exact value arrived, or the change is a dead letter an operator sees
        assert pg_price == [(Decimal("1.2345"),)] or letters, (
            f"PostgreSQL holds {pg_price} for MySQL's 1.2345, with no dead letter "
            f"(summary: dead_letters={summary.dead_letters}, drift={summary.drift})"
        )


# -- a retry that races the stream --------------------------------------------------------------


def test_a_retry_never_writes_a_row_older_than_the_stream_applied_meanwhile(
    make_items: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry reads the source's current row, then writes it through the applier with no
    before-image, so every rule but the rule-column ones applies it unconditionally. When the
    stream applies a newer change of the same key between the read and the write (the cause was
    fixed: that is when an operator retries), the retry writes the older row over it and marks
    the letter `retried: copied ...`. MySQL keeps the newer row; no later event corrects
    PostgreSQL."""
    check = "ALTER TABLE public.items ADD CONSTRAINT qty_not_negative CHECK (qty >= 0)"
    with make_items(pg_extra=(check,)) as p:
        consumer = p.consumer()
        try:
            mysql_rows(p, "INSERT INTO items VALUES (2, 'bad', -1, 1, NOW(6), NULL)")
            drive(consumer, lambda: len(pg_rows(p, LETTERS)) == 1)
            with closing(p.pg()) as conn:  # the operator fixes the cause
                conn.execute("ALTER TABLE items DROP CONSTRAINT qty_not_negative")

            real = dead_letter_retry.StreamApplierRepairs

            class RacedRepairs(real):  # type: ignore[misc, valid-type]
                """The MySQL app changes the row after the retry read it, and the stream
                applies that change before the retry's write: the interleaving of a hot row."""

                raced = False

                def apply_repairs(self, *args: Any, **kwargs: Any) -> Any:
                    if not RacedRepairs.raced:  # the first write only
                        RacedRepairs.raced = True
                        mysql_rows(p, "UPDATE items SET qty = 7, name = 'newer' WHERE id = 2")
                        drive(consumer, lambda: pg_rows(p, "SELECT qty FROM items") == [(7,)])
                    return super().apply_repairs(*args, **kwargs)

            monkeypatch.setattr(dead_letter_retry, "StreamApplierRepairs", RacedRepairs)
            _cli_env(p, tmp_path / "m", monkeypatch)
            status = main(["dead-letters", "retry"])
            consumer.run(max_seconds=4, idle_stop_s=3)
        finally:
            consumer.close()
        rows = "SELECT id, name, qty FROM items"
        assert RacedRepairs.raced
        assert (status, pg_rows(p, LETTERS)[0][3]) == (
            0,
            "retried: copied MySQL's current row to PostgreSQL",
        )
        assert mysql_rows(p, rows) == [(2, "newer", 7)]
        resolution = pg_rows(p, LETTERS)[0][3]
        assert pg_rows(p, rows) == [(2, "newer", 7)], (
            f"retry exit {status}, letter resolution {resolution!r}: PostgreSQL got the older "
            f"row {pg_rows(p, rows)} over the newer one the stream had applied"
        )


# -- dead letters of a re-created topic ---------------------------------------------------------


def test_a_dead_letter_of_a_recreated_topic_never_replaces_an_open_one_of_another_key(
    pg_db: DatabaseEndpoint,
) -> None:
    """`mps_sync.dead_letters` is unique by Kafka position (topic, partition, offset), and a
    recorded letter at a known position is overwritten (a replay's). A topic deleted and created
    again (README: Changes Kafka deleted; the consumer reads it again from offset 0) reuses
    the positions: the first change of the new topic that fails at an offset where the old
    topic's open letter sits replaces that letter, key and error. The old key's change is then
    no dead letter any more: no count on the status page, nothing for `dead-letters retry`,
    without a record. For a PostgreSQL -> MySQL letter the reconcile the gap asks for copies
    MySQL's old row over the PostgreSQL write."""
    from mysql_pg_sync.cdc.apply import DeadLetter
    from mysql_pg_sync.cdc.events import ChangeEvent, KafkaPosition
    from mysql_pg_sync.cdc.metrics import record_decisions
    from mysql_pg_sync.state.schema import ensure_schema

    topic = "mpstrv3.app.items"

    def letter(key: int) -> DeadLetter:
        event = ChangeEvent(
            side="postgres",
            namespace="public",
            table="items",
            op="u",
            key={"id": key},
            before=None,
            after={"id": key},
            source_ts_ms=0,
            position=KafkaPosition(topic, 0, 5),
        )
        return DeadLetter(event, ValueError(f"row {key} failed"), "app.items", {"id": key})

    with pg_connect(pg_db) as conn:
        ensure_schema(conn)
        conn.commit()
        record_decisions(conn, [], [letter(2)], "mpstrv3.dead-letters")  # the old topic's
        conn.commit()
        record_decisions(conn, [], [letter(9)], "mpstrv3.dead-letters")  # the new topic's
        conn.commit()
        open_keys = [
            r[0]
            for r in conn.execute(
                "SELECT key->>'id' FROM mps_sync.dead_letters WHERE resolved_at IS NULL ORDER BY 1"
            )
        ]
    assert open_keys == ["2", "9"], f"open dead letters: keys {open_keys}"


# -- `dead-letters retry --table A --id N` with N a letter of another table --------------------


def test_retry_of_an_id_of_another_table_is_refused_not_reported_as_nothing_to_retry(
    pg_db: DatabaseEndpoint,
    mysql_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The selection keeps the letters of the table *and* the ids: an id of another table
    selects nothing, and the command said `no open dead letters of <table>: nothing to retry`
    and exited 0, while that table and the id both had open letters."""
    from mysql_pg_sync.mapping.models import TableMapping
    from mysql_pg_sync.state.schema import ensure_schema

    db = mysql_db.database
    items = items_mapping(db)
    tags = TableMapping.model_validate(
        {
            **items.model_dump(mode="json", exclude_none=True),
            "source": f"{db}.tags",
            "target": "public.tags",
        }
    )
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "all.yaml").write_text(yaml.safe_dump([dump_yaml_entry(t) for t in (items, tags)]))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_MYSQL_DATABASE", db)
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", "mpstrv3")
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        ids = {}
        for table, offset in (("items", 1), ("tags", 2)):
            ids[table] = conn.execute(
                "INSERT INTO mps_sync.dead_letters (source_table, key, error_class, error,"
                " kafka_topic, kafka_partition, kafka_offset, dead_letter_topic)"
                " VALUES (%s, '{\"id\": 1}', 'CheckViolation', 'x', %s, 0, %s, 'dl')"
                " RETURNING id",
                (f"{db}.{table}", f"mpstrv3_mysql.{db}.{table}", offset),
            ).fetchone()[0]  # type: ignore[index]
    capsys.readouterr()
    status = main(["dead-letters", "retry", "--dry-run", "--table", f"{db}.items",
                   "--id", str(ids["tags"])])  # fmt: skip
    captured = capsys.readouterr()
    assert "nothing to retry" not in captured.out, (status, captured.out)
    assert status != 0
    assert f"dead letter(s) {ids['tags']} are not of {db}.items" in captured.err
