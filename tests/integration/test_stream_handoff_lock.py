"""A backfill's takeover of a table is ordered against the stream's batches by a per-table
advisory lock in PostgreSQL. The consumer reads the table states only every few seconds: a
batch between a reload's mark (and TRUNCATE) and that refresh wrote into the table being
emptied and copied, and the copy failed on a duplicate key (walkthrough 5, D16)."""

from __future__ import annotations

import threading
import time
from contextlib import closing

import pytest
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    PipelineFactory,
    drive,
    items_mapping,
    pg_rows,
)

from mysql_pg_sync.backfill import state
from mysql_pg_sync.cdc.metrics import lock_table_states
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.schema import ensure_schema

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO items (id, name, qty, price, updated_at) "
    "VALUES (%s, %s, 1, 1.50, '2026-01-01 10:00:00.5')"
)


def test_a_batch_after_the_takeover_leaves_the_table_alone_until_it_streams_again(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint
) -> None:
    """One long run: it reads the states at its start only (an hour between refreshes), so
    only the batch's own look at the state can see the takeover."""
    table = f"{mysql_db.database}.items"
    with make_pipeline([items_mapping(mysql_db.database)], [ITEMS_MYSQL], [ITEMS_PG]) as p:

        def ids() -> list[int]:
            return [r[0] for r in pg_rows(p, "SELECT id FROM public.items ORDER BY id")]

        with closing(p.consumer(state_refresh_s=3600)) as running:
            with closing(p.mysql()) as conn:
                conn.cursor().execute(INSERT, (1, "before"))
            drive(running, lambda: ids() == [1])
            # ends once a batch has paused the table (or after 12 s, having applied it): the
            # paused table is what the asserts below look at, and a run that applied row 2
            # instead goes on to its end as before
            worker = threading.Thread(
                target=lambda: running.run(max_seconds=12, stop=lambda: bool(running.paused))
            )
            worker.start()
            time.sleep(2)  # the run has read the states: items streams
            with pg_connect(p.endpoints.postgres) as conn, conn.transaction():
                state.lock_handoff(conn, [table])
                state.set_table_state(conn, table, "public.items", "paused")
            with closing(p.mysql()) as conn:
                conn.cursor().execute(INSERT, (2, "while paused"))
            worker.join(30)
            assert not worker.is_alive()
            assert ids() == [1]  # its batch took it out, and paused the table

            with pg_connect(p.endpoints.postgres) as conn:
                state.set_table_state(conn, table, "public.items", "streaming")
            drive(running, lambda: ids() == [1, 2])


def test_the_takeover_waits_for_a_batch_in_flight_and_the_next_batch_sees_it(
    pg_db: DatabaseEndpoint,
) -> None:
    table = "legacy.items"
    with pg_connect(pg_db) as conn:
        ensure_schema(conn)
        conn.commit()
    batch = pg_connect(pg_db)  # a stream batch's transaction on the target
    assert lock_table_states(batch, [table]) == {}
    marked = threading.Event()

    def takeover() -> None:
        with pg_connect(pg_db) as conn, conn.transaction():
            state.lock_handoff(conn, [table])
            state.set_table_state(conn, table, "public.items", "backfilling")
        marked.set()

    backfill = threading.Thread(target=takeover)
    backfill.start()
    assert not marked.wait(1.5)  # the batch in flight commits first
    batch.commit()
    backfill.join(10)
    assert marked.is_set()
    assert lock_table_states(batch, [table]) == {table: "backfilling"}
    batch.rollback()
    batch.close()
