"""Many small tables: their chunks share copy tasks, and one bad table keeps no other from
being copied (real MariaDB and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.integration.test_backfill import make_backfill, mapping_for, mysql_admin_exec

from mysql_pg_sync.backfill.runner import ChunkGroupError, RunOptions
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

COLUMNS = [("id", "int(11)", False), ("d", "time", True)]
SMALL = [f"s{i:02d}" for i in range(12)]
BAD = "s00a"


def _tables(mysql_admin: DatabaseEndpoint, db: str) -> None:
    statements = []
    for i, name in enumerate(SMALL):
        values = ", ".join(f"({k}, '0{k % 10}:00:0{i % 10}')" for k in range(1, 3 + i // 2))
        statements += [f"CREATE TABLE {name} (id int PRIMARY KEY, d time)"]
        statements += [f"INSERT INTO {name} VALUES {values}"]
    # a value PostgreSQL's time cannot hold: this table's chunk fails with a ConversionError.
    # It sorts between s00 and s01, which share its copy task.
    statements += [
        f"CREATE TABLE {BAD} (id int PRIMARY KEY, d time)",
        f"INSERT INTO {BAD} VALUES (1, '10:00:00'), (2, '-05:00:00')",
        "CREATE TABLE wide (id int PRIMARY KEY, d time)",
        "INSERT INTO wide SELECT seq, '01:02:03' FROM seq_1_to_25",
    ]
    mysql_admin_exec(mysql_admin, db, *statements)


def _rows(conn: Any, sql: str) -> list[tuple[str, ...]]:
    cur = conn.cursor()
    cur.execute(sql)
    return [tuple(str(v) for v in row) for row in cur.fetchall()]


def test_small_tables_share_tasks_and_a_bad_one_stops_no_other(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    _tables(mysql_admin, db)
    names = ["wide", *SMALL, BAD]
    mappings = [mapping_for(db, t, COLUMNS, ("id",)) for t in names]
    bf = make_backfill(endpoints, mysql_db, pg_db, mappings, tmp_path)
    options = RunOptions(chunk_rows=10, batch_rows=5)
    bf.start_run("run1", options)
    outcome = bf.plan(options)

    # wide: 25 rows, chunks of 10, 10 and a tail of 5; small table sNN holds 2 + NN // 2 rows
    with pg_connect(pg_db) as conn:
        estimates = dict(
            conn.execute(
                "SELECT source_table || '#' || seq, est_rows FROM mps_sync.backfill_chunks"
            ).fetchall()
        )
    assert [estimates[f"{db}.wide#{seq}"] for seq in range(3)] == [10, 10, 5]
    assert estimates[f"{db}.s00#0"] == 2
    assert estimates[f"{db}.{BAD}#0"] == 2
    assert estimates[f"{db}.s11#0"] == 7
    groups = [[(str(t), int(s)) for t, s in g] for g in outcome.groups]
    chunks = [ref for g in groups for ref in g]
    assert sorted(chunks) == sorted(
        (f"{db}.{t}", s) for t in names for s in range(3 if t == "wide" else 1)
    )
    assert len(groups) < len(chunks)  # 14 tables, 16 chunks
    assert [(f"{db}.wide", 0)] in groups  # a full chunk keeps a task of its own
    # up to 10 rows a task: s00, the bad table, s01 and s02 hold 2 + 2 + 2 + 3
    assert [(f"{db}.{t}", 0) for t in ("s00", BAD, "s01", "s02")] in groups

    for table in outcome.tables:
        bf.prepare(options, table["table"])
    failures: list[ChunkGroupError] = []
    for group in outcome.groups:
        try:
            bf.copy_group(group, "run1", options.batch_rows)
        except ChunkGroupError as exc:
            failures.append(exc)

    assert len(failures) == 1
    assert failures[0].tables == {f"{db}.{BAD}"}
    assert f"{db}.{BAD} #0: ConversionError" in str(failures[0])
    assert "'-05:00:00'" in str(failures[0])  # the value, as the chunk's own error names it
    my = mysql_connect(mysql_db)
    try:
        with pg_connect(pg_db) as pg:
            for name in names:
                if name == BAD:
                    assert pg.execute(f"SELECT count(*) FROM public.{BAD}").fetchone()[0] == 0
                    continue
                bf.finalize(f"{db}.{name}", strict_counts=True)
                source = _rows(my, f"SELECT id, CAST(d AS CHAR) FROM {name} ORDER BY id")
                target = _rows(pg, f"SELECT id, d::text FROM public.{name} ORDER BY id")
                assert target == source, name
            states = dict(
                pg.execute(
                    "SELECT source_table, state FROM mps_sync.backfill_chunks WHERE seq = 0"
                ).fetchall()
            )
    finally:
        my.close()
    assert states.pop(f"{db}.{BAD}") == "failed"
    assert set(states.values()) == {"done"}
