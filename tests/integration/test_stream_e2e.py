"""End to end with real Debezium and Kafka: changes flow both ways, and echoes never come back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, closing
from dataclasses import replace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    drive,
    items_mapping,
    mysql_rows,
    pg_rows,
    pipeline,
)

from mysql_pg_sync.cdc.metrics import PrometheusMetrics
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

ITEMS_PG_EXTRA = ["ALTER TABLE public.items REPLICA IDENTITY FULL"]


ROWS = "SELECT id, name, qty, price FROM items ORDER BY id"


def _pg_rows(p: Pipeline) -> list[tuple[Any, ...]]:
    return pg_rows(p, ROWS)


def _mysql_rows(p: Pipeline) -> list[tuple[Any, ...]]:
    return mysql_rows(p, ROWS)


def _echoed(p: Pipeline) -> bool:
    """Both directions have had an echo of the applier's writes dropped."""
    sql = "SELECT incoming_side, sum(echoes) FROM mps_sync.stream_metrics GROUP BY 1"
    echoes = dict(pg_rows(p, sql))
    return all((echoes.get(side) or 0) >= 1 for side in ("mysql", "postgres"))


def test_changes_flow_both_ways_without_echoes(items: Pipeline) -> None:
    registry = CollectorRegistry()
    consumer = items.consumer(PrometheusMetrics(registry))
    try:
        m = items.mysql()
        cur = m.cursor()
        cur.execute(
            "INSERT INTO items VALUES (1, 'a', 1, 1.50, NOW(6), 'x'),"
            " (2, 'b', 2, 2.50, NOW(6), NULL)"
        )
        cur.execute("UPDATE items SET qty = 10, name = 'a2' WHERE id = 1")
        cur.execute("DELETE FROM items WHERE id = 2")
        drive(consumer, lambda: [r[:3] for r in _pg_rows(items)] == [(1, "a2", 10)])
        with items.pg() as pg:
            pg.execute("INSERT INTO items VALUES (3, 'p', 3, 3.25, now(), 'y')")
            pg.execute("UPDATE items SET qty = 11 WHERE id = 1")
            pg.execute("DELETE FROM items WHERE id = 3")
            pg.execute("INSERT INTO items VALUES (4, 'q', 4, 4.00, now(), 'z')")
        drive(consumer, lambda: [r[:3] for r in _mysql_rows(items)] == [(1, "a2", 11), (4, "q", 4)])
        # quiet: the applier's own writes come back only as dropped echoes, nothing is re-applied.
        # First until an echo has come back each way (asserted below): MySQL's comes a moment
        # after the apply, and a busy Connect worker can hold it back past a fixed 3-s run.
        summary = consumer.run(max_seconds=60, stop=lambda: _echoed(items))
        summary = consumer.run(max_seconds=3, summary=summary)
        assert summary.applied == 0
        assert _pg_rows(items) == _mysql_rows(items)
        with items.pg() as pg:
            metrics = pg.execute(
                "SELECT incoming_side, sum(echoes), sum(applied) FROM mps_sync.stream_metrics "
                "GROUP BY 1 ORDER BY 1"
            ).fetchall()
        echoes = {side: int(e) for side, e, _ in metrics}
        assert echoes.get("mysql", 0) >= 1
        assert echoes.get("postgres", 0) >= 1
        table = items.mappings.tables[0].name
        for side in ("mysql", "postgres"):  # the service's Prometheus view of the same counters
            labels = {"table": table, "incoming_side": side}
            assert (registry.get_sample_value("mps_stream_applied_total", labels) or 0) >= 1
            assert registry.get_sample_value("mps_stream_lag_seconds", labels) is not None
    finally:
        consumer.close()


def _items(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    mapping: TableMapping,
) -> AbstractContextManager[Pipeline]:
    """The `items` table on both sides (no extra PostgreSQL settings), streamed per ``mapping``."""
    return pipeline(
        endpoints, mysql_db, pg_db, mysql_admin, pg_admin, [mapping], [ITEMS_MYSQL], [ITEMS_PG]
    )


@pytest.fixture
def items_default_identity(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    # REPLICA IDENTITY DEFAULT: unchanged TOASTed values are left out of events
    mapping = items_mapping(mysql_db.database)
    with _items(endpoints, mysql_db, pg_db, mysql_admin, pg_admin, mapping) as p:
        yield p


def test_toast_placeholder_keeps_the_target_value_and_new_column_is_reported(
    items_default_identity: Pipeline, mysql_admin: DatabaseEndpoint
) -> None:
    p = items_default_identity
    consumer = p.consumer()
    try:
        with p.pg() as pg:
            # random text does not compress, so PostgreSQL stores it out of line (TOAST)
            pg.execute(
                "INSERT INTO items SELECT 1, 'big', 1, 1, now(),"
                " string_agg(md5(random()::text), '') FROM generate_series(1, 2000)"
            )
            note = pg.execute("SELECT note FROM items WHERE id = 1").fetchone()[0]  # type: ignore[index]
        drive(consumer, lambda: [r[:3] for r in _mysql_rows(p)] == [(1, "big", 1)])
        with p.pg() as pg:
            pg.execute("UPDATE items SET qty = 2 WHERE id = 1")  # note unchanged: a placeholder
        drive(consumer, lambda: [r[:3] for r in _mysql_rows(p)] == [(1, "big", 2)])
        conn = p.mysql()
        cur = conn.cursor()
        cur.execute("SELECT note FROM items WHERE id = 1")
        assert cur.fetchone()[0] == note
        # a column added in MySQL mid-stream: reported as drift, mapped columns keep flowing
        admin = mysql_connect(replace(mysql_admin, database=p.endpoints.mysql.database))
        admin.cursor().execute("ALTER TABLE items ADD COLUMN extra int DEFAULT 7")
        admin.close()
        cur.execute(
            "INSERT INTO items (id, name, qty, price, updated_at) VALUES (2, 'n', 5, 1, NOW(6))"
        )
        conn.close()
        drive(consumer, lambda: [r[0] for r in _pg_rows(p)] == [1, 2])
        with p.pg() as pg:
            drift = pg.execute(
                "SELECT incoming_side, unknown_columns FROM mps_sync.mapping_drift"
            ).fetchall()
        assert [tuple(r) for r in drift] == [("mysql", ["extra"])]
    finally:
        consumer.close()


@pytest.fixture
def postgres_wins_default_identity(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    mapping = items_mapping(mysql_db.database, "postgres_wins")
    with _items(endpoints, mysql_db, pg_db, mysql_admin, pg_admin, mapping) as p:
        yield p


def test_a_toast_update_of_a_row_missing_on_the_target_is_a_dead_letter(
    postgres_wins_default_identity: Pipeline,
) -> None:
    """Found in review: PostgreSQL's update leaves an unchanged TOASTed column out; when the
    row is gone on MySQL and PostgreSQL's change wins, the column-subset UPDATE matched nothing
    and the change was counted as applied. It cannot be inserted without that column."""
    p = postgres_wins_default_identity
    with closing(p.consumer()) as both, p.pg() as pg:
        pg.execute(
            "INSERT INTO items SELECT 1, 'big', 1, 1, now(),"
            " string_agg(md5(random()::text), '') FROM generate_series(1, 2000)"
        )
        drive(both, lambda: [r[:3] for r in _mysql_rows(p)] == [(1, "big", 1)])
    conn = p.mysql()
    conn.cursor().execute("DELETE FROM items WHERE id = 1")  # not consumed below
    conn.close()
    with p.pg() as pg:
        pg.execute("UPDATE items SET qty = 2 WHERE id = 1")  # note: a TOAST placeholder
    with closing(p.consumer(incoming_sides=("postgres",))) as pg_only:
        summary = pg_only.run(max_seconds=15, idle_stop_s=5)
    assert (summary.dead_letters, summary.applied) == (1, 0)
    assert _mysql_rows(p) == []
    with p.pg() as pg:
        letters = pg.execute("SELECT error_class, error FROM mps_sync.dead_letters").fetchall()
    assert [r[0] for r in letters] == ["MissingRowError"]
    assert "missing on the mysql side" in letters[0][1]
    assert "column(s) note" in letters[0][1]


@pytest.fixture
def one_way(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> Iterator[Pipeline]:
    mapping = items_mapping(mysql_db.database).model_copy(update={"direction": "mysql_to_pg"})
    with _items(endpoints, mysql_db, pg_db, mysql_admin, pg_admin, mapping) as p:
        yield p


def test_one_way_table_applies_without_deciding_and_mysql_stays_the_only_writer(
    one_way: Pipeline,
) -> None:
    """A mysql_to_pg table takes the plain path (no lock, no compare, no conflict record): every
    change is applied, a PostgreSQL-side edit is overwritten by MySQL's next change, and a
    second delivery of the same events changes nothing."""
    consumer = one_way.consumer()
    try:
        m = one_way.mysql()
        cur = m.cursor()
        cur.execute(
            "INSERT INTO items VALUES (1, 'a', 1, 1.50, NOW(6), 'x'),"
            " (2, 'b', 2, 2.50, NOW(6), NULL), (3, 'c', 3, 3.50, NOW(6), NULL)"
        )
        cur.execute("UPDATE items SET qty = 10, name = 'a2' WHERE id = 1")
        cur.execute("DELETE FROM items WHERE id = 2")
        want = [(1, "a2", 10), (3, "c", 3)]
        drive(consumer, lambda: [r[:3] for r in _pg_rows(one_way)] == want)
        with one_way.pg() as pg:
            pg.execute("UPDATE items SET qty = 99 WHERE id = 3")  # not captured: one way
        cur.execute("UPDATE items SET name = 'c2' WHERE id = 3")
        drive(consumer, lambda: [r[:3] for r in _pg_rows(one_way)] == [(1, "a2", 10), (3, "c2", 3)])
        m.close()
    finally:
        consumer.close()
    with one_way.pg() as pg:
        stats = pg.execute(
            "SELECT sum(events), sum(skipped_same), sum(conflicts) FROM mps_sync.stream_metrics"
        ).fetchone()
        conflicts = pg.execute("SELECT count(*) FROM mps_sync.conflicts").fetchone()
    assert conflicts == (0,)
    assert stats == (6, 0, 0)  # six changes, none compared with the target, no conflict
    replay = one_way.consumer(group_id=one_way.config.group_id + "-replay")
    try:
        replay.run(max_seconds=15, idle_stop_s=5)
    finally:
        replay.close()
    assert [r[:3] for r in _pg_rows(one_way)] == [(1, "a2", 10), (3, "c2", 3)]
