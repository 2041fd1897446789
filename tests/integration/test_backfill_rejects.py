"""backfill.on_bad_value: reject against the real MariaDB and PostgreSQL: the good rows are
copied, every bad row is in mps_sync.backfill_rejects with its key, column and value, the counts
add up, and a retried or re-queued chunk never duplicates its rejects. The default still fails."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_backfill import (
    make_backfill,
    mapping_for,
    mysql_admin_exec,
    mysql_exec,
    run_all,
)

from mysql_pg_sync.backfill import runner as runner_module
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

ROWS = 200
COLUMNS = [
    ("id", "int(11)", False),
    ("flag", "tinyint(1)", True),  # -> boolean: only 0/1 convert
    ("body", "text", True),  # values.nul_bytes: fail (the default)
    ("d", "time", True),  # -> time: only 00:00-24:00 converts
]
# key -> (column named in the reject, its value as recorded: Python repr of the value read)
BAD = {
    5: ("flag", "7"),
    50: ("body", repr("nul\x00inside")),
    51: ("d", repr("-05:00:00")),  # as MySQL prints it (the reader delivers microseconds)
    150: ("flag", "2"),  # body is bad too: the first bad column is recorded, the other named
    200: ("body", repr("\x00")),
}


def _row(k: int) -> tuple[Any, ...]:
    flag, body, d = k % 2, f"row {k}", f"{k % 24:02d}:00:00"
    if k in (5, 150):
        flag = {5: 7, 150: 2}[k]
    if k in (50, 150):
        body = "nul\x00inside"
    if k == 200:
        body = "\x00"
    if k == 51:
        d = "-05:00:00"
    return (k, flag, body, d)


@pytest.fixture
def bad_source(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE r (id int NOT NULL PRIMARY KEY, flag tinyint(1) NULL, body text NULL, "
        "d time NULL)",
    )
    mysql_exec(
        mysql_db,
        insert="INSERT INTO r VALUES (%s, %s, %s, %s)",
        rows=[_row(k) for k in range(1, ROWS + 1)],
    )
    return mysql_db


def _rejects(pg_db: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db) as conn:
        return conn.execute(
            "SELECT (key->>'id')::int, column_name, value, seq, run_id, error "
            "FROM mps_sync.backfill_rejects ORDER BY 1"
        ).fetchall()


def _target(pg_db: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db) as conn:
        return conn.execute("SELECT id, flag, body FROM public.r ORDER BY id").fetchall()


def _chunks(pg_db: DatabaseEndpoint) -> dict[int, tuple[str, int, int]]:
    with pg_connect(pg_db) as conn:
        rows = conn.execute(
            "SELECT seq, state, coalesce(rows, 0), rejected FROM mps_sync.backfill_chunks"
        ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def test_bad_rows_go_to_the_reject_table_and_the_counts_add_up(
    endpoints: Endpoints,
    bad_source: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    mapping = mapping_for(
        bad_source.database, "r", COLUMNS, ("id",), backfill={"on_bad_value": "reject"}
    )
    bf = make_backfill(endpoints, bad_source, pg_db, [mapping], tmp_path)
    with caplog.at_level(logging.WARNING, logger="mysql_pg_sync.backfill.runner"):
        summary = run_all(bf, RunOptions(chunk_rows=60, batch_rows=16, strict_counts=True))

    good = [k for k in range(1, ROWS + 1) if k not in BAD]
    assert _target(pg_db) == [(k, bool(k % 2), f"row {k}") for k in good]
    rejects = _rejects(pg_db)
    assert [(r[0], r[1], r[2]) for r in rejects] == [(k, *v) for k, v in BAD.items()]
    assert {r[4] for r in rejects} == {"run1"}
    by_key = {r[0]: r[5] for r in rejects}
    assert "boolean" in by_key[5]
    assert "also bad: body" in by_key[150]
    assert "NUL" in by_key[50]
    assert "interval" in by_key[51]

    chunks = _chunks(pg_db)
    assert all(s == "done" for s, _, _ in chunks.values())
    assert sum(r for _, r, _ in chunks.values()) == len(good)
    assert sum(j for _, _, j in chunks.values()) == len(BAD)
    for seq, (_, _, rejected) in chunks.items():  # each chunk counts its own rejects
        assert rejected == sum(1 for r in rejects if r[3] == seq)

    table = summary["tables"][mapping.name]
    assert table["rows"] + table["rejected"] == ROWS
    assert (table["rejected"], summary["total"]["rejected"]) == (len(BAD), len(BAD))
    assert summary["rejects"]["table"] == "mps_sync.backfill_rejects"
    assert "backfill_rejects" in Path(summary["report"]["html"]).read_text()
    with pg_connect(pg_db) as conn:  # the pointer's query runs and finds them all
        assert len(conn.execute(summary["rejects"]["query"]).fetchall()) == len(BAD)

    logged = [r.getMessage() for r in caplog.records if "row rejected" in r.getMessage()]
    assert len(logged) == len(BAD)
    assert any("key {'id': 5}: column 'flag': value 7" in m for m in logged)
    assert any(f"key {{'id': 50}}: column 'body': value {BAD[50][1]}" in m for m in logged)


def test_retried_and_requeued_chunks_do_not_duplicate_rejects(
    endpoints: Endpoints,
    bad_source: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = mapping_for(
        bad_source.database, "r", COLUMNS, ("id",), backfill={"on_bad_value": "reject"}
    )
    bf = make_backfill(endpoints, bad_source, pg_db, [mapping], tmp_path)
    options = RunOptions(chunk_rows=100, batch_rows=16)
    bf.start_run("r1", options)
    outcome = bf.plan(options)
    bf.prepare(options, mapping.name)
    refs = [ref for g in outcome.groups for ref in g]
    assert len(refs) == 2

    # the first chunk (keys 1-100: rejects 5, 50, 51) dies after its rejects were found
    real = runner_module.convert_batch
    calls = {"n": 0}

    def dying(mapping: Any, batch: Any, *args: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("worker killed")
        return real(mapping, batch, *args)

    monkeypatch.setattr(runner_module, "convert_batch", dying)
    with pytest.raises(RuntimeError, match="worker killed"):
        bf.copy_chunk(refs[0], "r1", options.batch_rows)
    monkeypatch.setattr(runner_module, "convert_batch", real)
    assert _rejects(pg_db) == []  # rolled back with the chunk's rows
    assert _chunks(pg_db)[0][0] == "failed"

    # resumed: exactly one reject per bad row
    resumed = RunOptions(chunk_rows=100, batch_rows=16, mode="resume", strict_counts=True)
    bf.start_run("r2", resumed)
    run_all(bf, resumed, run_id="r2")
    first = _rejects(pg_db)
    assert [(r[0], r[1]) for r in first] == [(k, v[0]) for k, v in BAD.items()]

    # an operator re-queues a done chunk: its rejects are replaced, not added
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("UPDATE mps_sync.backfill_chunks SET state = 'planned' WHERE seq = 0")
    bf.copy_chunk(refs[0], "r3", options.batch_rows)
    again = _rejects(pg_db)
    assert [(r[0], r[1], r[2]) for r in again] == [(r[0], r[1], r[2]) for r in first]
    assert [r[4] for r in again] == ["r3", "r3", "r3", "r2", "r2"]
    assert _chunks(pg_db)[0] == ("done", 97, 3)
    assert len(_target(pg_db)) == ROWS - len(BAD)

    # mode=reload re-plans: the old chunks' rejects go with them, the copy records them anew
    reload = RunOptions(chunk_rows=100, batch_rows=16, mode="reload", strict_counts=True)
    run_all(bf, reload, run_id="r4")
    assert [(r[0], r[1], r[4]) for r in _rejects(pg_db)] == [
        (k, v[0], "r4") for k, v in BAD.items()
    ]


def test_keyset_chunks_reject_too(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE s (code varchar(20) NOT NULL PRIMARY KEY, flag tinyint(1) NULL)",
    )
    rows = [(f"c{k:03d}", 3 if k in (7, 40) else k % 2) for k in range(60)]
    mysql_exec(mysql_db, insert="INSERT INTO s VALUES (%s, %s)", rows=rows)
    mapping = mapping_for(
        mysql_db.database,
        "s",
        [("code", "varchar(20)", False), ("flag", "tinyint(1)", True)],
        ("code",),
        backfill={"on_bad_value": "reject"},
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    summary = run_all(bf, RunOptions(chunk_rows=25, batch_rows=10, strict_counts=True))
    with pg_connect(pg_db) as conn:
        copied = conn.execute("SELECT count(*) FROM public.s").fetchone()[0]
        rejects = conn.execute(
            "SELECT key, column_name, value FROM mps_sync.backfill_rejects ORDER BY 1"
        ).fetchall()
    assert copied == 58
    assert rejects == [({"code": "c007"}, "flag", "3"), ({"code": "c040"}, "flag", "3")]
    assert summary["tables"][mapping.name]["rejected"] == 2

    # a copied row turns bad, then its chunks are copied again: its stale copy goes too (as the
    # integer path's range delete does) and it joins the rejects, which are not duplicated
    mysql_exec(mysql_db, "UPDATE s SET flag = 4 WHERE code = 'c010'")
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("UPDATE mps_sync.backfill_chunks SET state = 'planned'")
        chunks = [r[0] for r in conn.execute("SELECT seq FROM mps_sync.backfill_chunks")]
    for seq in chunks:
        bf.copy_chunk((mapping.name, seq), "again", 10)
    with pg_connect(pg_db) as conn:
        codes = [r[0] for r in conn.execute("SELECT code FROM public.s ORDER BY code")]
        rejected = conn.execute(
            "SELECT key->>'code', value FROM mps_sync.backfill_rejects ORDER BY 1"
        ).fetchall()
    assert codes == [f"c{k:03d}" for k in range(60) if k not in (7, 10, 40)]
    assert rejected == [("c007", "3"), ("c010", "4"), ("c040", "3")]


def test_default_still_fails_naming_table_key_column_value(
    endpoints: Endpoints, bad_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = mapping_for(bad_source.database, "r", COLUMNS, ("id",))
    assert mapping.backfill.on_bad_value == "fail"
    bf = make_backfill(endpoints, bad_source, pg_db, [mapping], tmp_path)
    with pytest.raises(
        ConversionError, match=r"r: key \{'id': 5\}: column 'flag': value 7 cannot be converted"
    ):
        run_all(bf, RunOptions(chunk_rows=60, batch_rows=16))
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM mps_sync.backfill_rejects").fetchone()[0] == 0
        state, error = conn.execute(
            "SELECT state, error FROM mps_sync.backfill_chunks WHERE seq = 0"
        ).fetchone()
    assert state == "failed"
    assert "key {'id': 5}" in error
