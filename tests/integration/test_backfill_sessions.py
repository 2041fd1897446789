"""A worker keeps its PostgreSQL write session between chunks; a lost session costs one chunk
attempt at most, never a partial or duplicate row. Real backend terminations, no stand-ins."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_backfill import (
    ITEMS_COLUMNS,
    items_source,  # noqa: F401  (a fixture)
    make_backfill,
    mapping_for,
    source_items,
    target_items,
)

from mysql_pg_sync.backfill import runner as runner_module
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def _writer_pids(pg_admin: DatabaseEndpoint, database: str, copying: bool = False) -> list[int]:
    """Client sessions on the target database between chunks: the state connections are closed
    by then, so these are the chunk writer's. ``copying``: only a session running a COPY."""
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "
            "'client backend' AND pid <> pg_backend_pid() AND (NOT %s OR query LIKE 'COPY %%')",
            (database, copying),
        ).fetchall()
    return [r[0] for r in rows]


def _terminate(pg_admin: DatabaseEndpoint, pids: list[int]) -> None:
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _chunk_states(pg_db: DatabaseEndpoint) -> dict[int, str]:
    with pg_connect(pg_db) as conn:
        return dict(conn.execute("SELECT seq, state FROM mps_sync.backfill_chunks").fetchall())


def _target_count(pg_db: DatabaseEndpoint) -> int:
    with pg_connect(pg_db) as conn:
        return int(conn.execute("SELECT count(*) FROM public.items").fetchone()[0])


def test_a_session_lost_between_chunks_is_reopened_and_one_lost_mid_chunk_keeps_no_rows(
    endpoints: Endpoints,
    items_source: DatabaseEndpoint,  # noqa: F811  (the fixture imported above)
    pg_db: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    options = RunOptions(chunk_rows=400, batch_rows=64, strict_counts=True)
    bf.start_run("r1", options)
    refs = [ref for g in bf.plan(options).groups for ref in g]
    bf.prepare(options, mapping.name)
    try:
        bf.copy_chunk(refs[0], "r1", options.batch_rows)
        kept = _writer_pids(pg_admin, pg_db.database)
        assert len(kept) == 1, kept  # the worker's write session outlives its chunk
        bf.copy_chunk(refs[1], "r1", options.batch_rows)
        assert _writer_pids(pg_admin, pg_db.database) == kept  # and serves the next one

        _terminate(pg_admin, kept)  # e.g. a PostgreSQL restart between two chunks
        bf.copy_chunk(refs[2], "r1", options.batch_rows)  # a new session, no failed attempt
        assert _chunk_states(pg_db)[2] == "done"
        assert _writer_pids(pg_admin, pg_db.database) not in ([], kept)

        # the session dies while the chunk's COPY runs: the chunk fails with none of its rows
        real = runner_module.convert_batch
        seen = {"batches": 0}

        def killing(*args: Any) -> Any:
            seen["batches"] += 1
            if seen["batches"] == 3:  # two batches are already in the COPY
                _terminate(pg_admin, _writer_pids(pg_admin, pg_db.database, copying=True))
            return real(*args)

        before = _target_count(pg_db)
        monkeypatch.setattr(runner_module, "convert_batch", killing)
        with pytest.raises(Exception) as failed:
            bf.copy_chunk(refs[3], "r1", options.batch_rows)
        monkeypatch.setattr(runner_module, "convert_batch", real)
        assert "terminat" in str(failed.value).lower() or "connection" in str(failed.value).lower()
        assert _chunk_states(pg_db)[3] == "failed"
        assert _target_count(pg_db) == before  # no partial rows of the failed chunk

        for ref in refs[3:]:  # the retry, then the rest
            bf.copy_chunk(ref, "r1", options.batch_rows)
        bf.finalize(mapping.name, strict_counts=True)
        assert target_items(pg_db) == source_items(items_source)
    finally:
        bf.release()
    assert _writer_pids(pg_admin, pg_db.database) == []  # released: the origin is free again
