"""Backfill against the real MariaDB and PostgreSQL: end state compared row by row."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import Backfill, BackfillError, ChunksNotDone, RunOptions
from mysql_pg_sync.backfill.target import TargetSchemaError
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

AWKWARD_TEXT = ["tab\there", "new\nline", "back\\slash", "emoji 😀", "", None, 'quote"s', "\\N"]

ITEMS_DDL = """
CREATE TABLE items (
  id bigint NOT NULL PRIMARY KEY,
  qty int NOT NULL,
  name varchar(64) NULL,
  price decimal(12,2) NULL,
  created datetime(6) NULL,
  stamp timestamp(6) NULL DEFAULT NULL,
  flag tinyint(1) NULL,
  body text NULL,
  ratio double NULL,
  day date NULL,
  big bigint unsigned NULL,
  doc json NULL,
  tags set('a','b','c') NULL,
  raw varbinary(16) NULL,
  dur time NULL
)"""

ITEMS_COLUMNS = [
    ("id", "bigint(20)", False),
    ("qty", "int(11)", False),
    ("name", "varchar(64)", True),
    ("price", "decimal(12,2)", True),
    ("created", "datetime(6)", True),
    ("stamp", "timestamp(6)", True),
    ("flag", "tinyint(1)", True),
    ("body", "text", True),
    ("ratio", "double", True),
    ("day", "date", True),
    ("big", "bigint(20) unsigned", True),
    ("doc", "json", True),
    ("tags", "set('a','b','c')", True),
    ("raw", "varbinary(16)", True),
    ("dur", "time", True),
]


def mapping_for(
    db: str, table: str, columns: list[tuple[str, str, bool]], key: tuple[str, ...], **extra: Any
) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": key,
            "columns": [{"name": n, "column_type": t, "nullable": null} for n, t, null in columns],
            **extra,
        }
    )


def make_backfill(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mappings: list[TableMapping],
    tmp_path: Path,
    position: dict[str, Any] | None = None,
) -> Backfill:
    return Backfill(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet(tuple(mappings)),
        capture_check=handoff.assume_capture_running("test"),
        position_reader=lambda topic: position or {topic: {}},
        reports_dir=tmp_path,
    )


def captured_backfill(
    endpoints: Endpoints, mappings: MappingSet, tmp_path: Path, **extra: Any
) -> Backfill:
    """A backfill that checks capture with the real Kafka Connect and records the real Kafka
    end offsets as its position (``extra``: more of Backfill's keyword arguments)."""
    return Backfill(
        endpoints,
        mappings,
        capture_check=handoff.connect_capture_check(endpoints.connect_url),
        position_reader=handoff.kafka_end_offsets(endpoints.kafka_bootstrap),
        reports_dir=tmp_path,
        **extra,
    )


def run_all(bf: Backfill, options: RunOptions, run_id: str = "run1") -> dict[str, Any]:
    bf.start_run(run_id, options)
    outcome = bf.plan(options)
    for table in outcome.tables:
        bf.prepare(options, table["table"])
    for group in outcome.groups:
        bf.copy_group(group, run_id, options.batch_rows)
    for table in outcome.tables:
        bf.finalize(table["table"], strict_counts=options.strict_counts)
    return bf.summarize(run_id, [t["table"] for t in outcome.tables])


def mysql_exec(
    endpoint: DatabaseEndpoint,
    *statements: str,
    rows: list[tuple[Any, ...]] | None = None,
    insert: str | None = None,
) -> None:
    conn = mysql_connect(endpoint, autocommit=True)
    try:
        cur = conn.cursor()
        for sql in statements:
            cur.execute(sql)
        if insert and rows:
            cur.executemany(insert, rows)
    finally:
        conn.close()


def mysql_admin_exec(admin: DatabaseEndpoint, db: str, *statements: str) -> None:
    mysql_exec(replace(admin, database=db), *statements)


def item_rows(n: int, start: int = 1, step: int = 1) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(n):
        k = start + i * step
        rows.append(
            (
                k,
                k % 1000 - 500,
                AWKWARD_TEXT[k % len(AWKWARD_TEXT)],
                Decimal(k % 100000) / 100 if k % 7 else None,
                dt.datetime(2020, 1, 1, 0, 0, 0)
                + dt.timedelta(seconds=k * 37, microseconds=k % 999999),
                dt.datetime(2021, 6, 1) + dt.timedelta(minutes=k) if k % 5 else None,
                k % 2 if k % 3 else None,
                ("body " * (k % 20)) + (AWKWARD_TEXT[(k + 3) % len(AWKWARD_TEXT)] or "")
                if k % 11
                else None,
                k / 7.0 if k % 13 else None,
                dt.date(1999, 12, 31) + dt.timedelta(days=k % 3000),
                18446744073709551615 - k if k % 4 == 0 else k,
                f'{{"k": {k}, "s": "x\\ty"}}' if k % 6 else None,
                ["", "a", "a,b", "b,c", None][k % 5],
                bytes([k % 256, 0, 255]) if k % 9 else None,
                f"{k % 24:02d}:{k % 60:02d}:{(k * 7) % 60:02d}" if k % 10 else None,
            )
        )
    return rows


INSERT_ITEMS = "INSERT INTO items VALUES (" + ", ".join(["%s"] * 15) + ")"


def source_items(endpoint: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    conn = mysql_connect(endpoint)
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT id, qty, name, price, created, stamp, flag, body, ratio, day, big, doc, tags, "
            "raw, dur FROM items ORDER BY id"
        )
        out = []
        for r in cur.fetchall():
            out.append(
                (
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5].replace(tzinfo=dt.UTC) if r[5] else None,
                    None if r[6] is None else bool(r[6]),
                    r[7],
                    r[8],
                    r[9],
                    None if r[10] is None else Decimal(r[10]),
                    None if r[11] is None else _json(r[11]),
                    None
                    if r[12] is None
                    else sorted(x for x in r[12] if x)
                    if isinstance(r[12], set)
                    else (r[12].split(",") if r[12] else []),
                    r[13],
                    None if r[14] is None else (dt.datetime.min + r[14]).time(),
                )
            )
        return out
    finally:
        conn.close()


def _json(text: str) -> Any:
    import json

    return json.loads(text)


def target_items(endpoint: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(endpoint) as conn:
        rows = conn.execute(
            "SELECT id, qty, name, price, created, stamp, flag, body, ratio, day, big, doc, tags, "
            "raw, dur FROM public.items ORDER BY id"
        ).fetchall()
    return [
        (
            *r[:12],
            None if r[12] is None else sorted(r[12]),
            None if r[13] is None else bytes(r[13]),
            r[14],
        )
        for r in rows
    ]


@pytest.fixture
def items_source(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    mysql_admin_exec(mysql_admin, mysql_db.database, ITEMS_DDL)
    # sparse, skewed keys: a dense run, then big gaps
    rows = item_rows(1500, start=1) + item_rows(300, start=1_000_000, step=9973)
    mysql_exec(replace(mysql_admin, database=mysql_db.database), insert=INSERT_ITEMS, rows=rows)
    return mysql_db


def test_full_copy_equals_source(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(
        endpoints, items_source, pg_db, [mapping], tmp_path, {"test.x.items": {"0": 42}}
    )
    options = RunOptions(chunk_rows=250, batch_rows=100, strict_counts=True)
    summary = run_all(bf, options)

    assert target_items(pg_db) == source_items(items_source)
    table = summary["tables"][mapping.name]
    assert table["rows"] == 1800
    assert table["chunks"] == table["chunks_done"] == 8  # 1800 rows / 250: sparse keys, even chunks
    assert Path(summary["report"]["json"]).exists()
    assert Path(summary["report"]["html"]).read_text().count("<tr>") == 2
    with pg_connect(pg_db) as conn:
        state = conn.execute(
            "SELECT state, kafka_position FROM mps_sync.table_state WHERE source_table = %s",
            (mapping.name,),
        ).fetchone()
        rows_per_chunk = [
            r[0]
            for r in conn.execute(
                "SELECT rows FROM mps_sync.backfill_chunks ORDER BY seq"
            ).fetchall()
        ]
    assert state == ("streaming", {"test.x.items": {"0": 42}})
    assert rows_per_chunk == [250] * 7 + [50]


def test_resume_after_failed_chunk_skips_done_and_matches(
    endpoints: Endpoints,
    items_source: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    options = RunOptions(chunk_rows=400, batch_rows=64)
    bf.start_run("r1", options)
    outcome = bf.plan(options)
    bf.prepare(options, mapping.name)
    groups = outcome.groups
    refs = [ref for g in groups for ref in g]
    # chunk 2 dies half way through its COPY (after some batches went in): the "kill"
    from mysql_pg_sync.backfill import runner as runner_module

    real = runner_module.convert_batch
    calls = {"n": 0}

    def dying(mapping: Any, batch: Any, *args: Any) -> Any:
        if batch.num_rows and refs_in_progress[0] == 2:
            calls["n"] += 1
            if calls["n"] == 3:
                raise RuntimeError("worker killed")
        return real(mapping, batch, *args)

    refs_in_progress = [0]
    monkeypatch.setattr(runner_module, "convert_batch", dying)
    for ref in refs[:3]:
        refs_in_progress[0] = ref[1]
        if ref[1] == 2:
            with pytest.raises(RuntimeError, match="worker killed"):
                bf.copy_chunk(ref, "r1", options.batch_rows)
        else:
            bf.copy_chunk(ref, "r1", options.batch_rows)
    monkeypatch.setattr(runner_module, "convert_batch", real)
    with pg_connect(pg_db) as conn:
        states = dict(conn.execute("SELECT seq, state FROM mps_sync.backfill_chunks").fetchall())
        partial = conn.execute("SELECT count(*) FROM public.items").fetchone()[0]
    assert states[2] == "failed"
    assert states[0] == states[1] == "done"
    assert partial == 800  # nothing of the failed chunk was kept

    # re-trigger in resume mode: done chunks are skipped, the rest copied, nothing duplicated
    resumed = RunOptions(chunk_rows=400, batch_rows=64, mode="resume", strict_counts=True)
    bf.start_run("r2", resumed)
    outcome2 = bf.plan(resumed)
    assert [r for g in outcome2.groups for r in g] == [r for r in refs if r[1] >= 2]
    bf.prepare(resumed, mapping.name)
    results = [bf.copy_chunk(r, "r2", 64) for g in outcome.groups for r in g]
    assert [r.get("skipped") for r in results[:2]] == ["done", "done"]
    bf.finalize(mapping.name, strict_counts=True)
    assert target_items(pg_db) == source_items(items_source)


def test_retried_chunk_does_not_duplicate(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    options = RunOptions(chunk_rows=1000)
    run_all(bf, options)
    again = bf.plan(options)  # re-triggered: a finished table is left alone (still streaming)
    assert (again.tables, again.finished, again.groups) == ([], [mapping.name], [])
    with pg_connect(pg_db, autocommit=True) as conn:  # an operator re-queues a done chunk
        conn.execute("UPDATE mps_sync.backfill_chunks SET state = 'planned' WHERE seq = 0")
    bf.copy_chunk((mapping.name, 0), "again", 500)
    assert target_items(pg_db) == source_items(items_source)


def test_conversion_failure_names_table_key_column_value(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (id int PRIMARY KEY, d time)",
        "INSERT INTO t VALUES (1, '10:00:00'), (2, '-05:00:00')",
    )
    mapping = mapping_for(
        mysql_db.database, "t", [("id", "int(11)", False), ("d", "time", True)], ("id",)
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    with pytest.raises(
        ConversionError, match=r"t: key \{'id': 2\}: column 'd': value '-05:00:00' .*interval"
    ):
        run_all(bf, RunOptions())
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.t").fetchone()[0] == 0
        assert conn.execute("SELECT state FROM mps_sync.backfill_chunks").fetchone()[0] == "failed"


def test_rows_the_stream_wrote_before_the_first_backfill_are_refused_with_reload_as_the_fix(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    """A table added while the stream runs: its changes since `connectors apply` are applied
    to the new, empty target before its backfill starts (walkthrough 5)."""
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions())
    with pg_connect(pg_db, autocommit=True) as conn:  # as if no backfill had run: no state
        conn.execute("DELETE FROM mps_sync.backfill_tables")
        conn.execute("DELETE FROM mps_sync.table_state")
        conn.execute("DELETE FROM public.items WHERE id > 5")
    with pytest.raises(BackfillError) as err:
        run_all(bf, RunOptions(), "run2")
    message = str(err.value)
    assert "target public.items already holds rows this backfill did not write" in message
    assert "rows the app wrote since `connectors apply`" in message
    assert f'backfill run --tables {mapping.name} --mode reload"' in message
    run_all(bf, RunOptions(mode="reload"), "run3")
    assert target_items(pg_db) == source_items(items_source)


def test_a_reload_planned_but_never_copied_is_named_as_such_and_finished_by_a_reload(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    """`backfill plan --mode reload` (without --dry-run) stores the plan it shows, replacing a
    finished table's record: the next run refused the table with "already holds rows this
    backfill did not write", which was untrue."""
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions())
    bf.plan(RunOptions(mode="reload"))
    with pytest.raises(BackfillError) as err:
        run_all(bf, RunOptions(), "run2")
    message = str(err.value)
    assert f"{mapping.name}: its chunk plan was replaced by a reload that never copied" in message
    assert "did not write" not in message
    assert f'backfill run --tables {mapping.name} --mode reload"' in message
    assert target_items(pg_db) == source_items(items_source)  # nothing was changed
    run_all(bf, RunOptions(mode="reload"), "run3")
    assert target_items(pg_db) == source_items(items_source)


def test_incompatible_target_is_refused_before_any_copy(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.items (id bigint PRIMARY KEY, qty text, extra int NOT NULL)"
        )
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    with pytest.raises(TargetSchemaError) as err:
        run_all(bf, RunOptions())
    message = str(err.value)
    assert "column 'qty' is text but the mapping says integer" in message
    assert "column 'name' (character varying(64)) is missing" in message
    assert "'extra' (integer) is NOT NULL without a default" in message
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.items").fetchone()[0] == 0
        assert (
            conn.execute(
                "SELECT count(*) FROM mps_sync.backfill_chunks WHERE state <> 'planned'"
            ).fetchone()[0]
            == 0
        )
    # finalize (the DAG runs it after a failed prepare) names the refusal, not a killed worker
    with pytest.raises(ChunksNotDone) as not_done:
        bf.finalize(mapping.name)
    text = str(not_done.value)
    assert "nothing was copied: the run's prepare step failed" in text
    assert "column 'qty' is text but the mapping says integer" in text
    assert "killed worker" not in text
    assert "mode=resume" not in text


def test_keyless_table_is_refused_with_reason(
    endpoints: Endpoints, mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    keyless = mapping_for(
        mysql_db.database,
        "log",
        [("msg", "text", True)],
        (),
        unsupported="no primary or unique key",
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [keyless], tmp_path)
    with pytest.raises(
        BackfillError, match=r"log is refused \(unsupported: no primary or unique key\)"
    ):
        bf.plan(RunOptions(tables=(keyless.name,)))
    with pytest.raises(BackfillError, match="'lo\\*' selects no table the backfill can copy"):
        bf.plan(RunOptions(tables=("lo*",)))  # a glob of refused tables only: not a green no-op
    outcome = bf.plan(RunOptions())  # all tables: refused, listed, not copied
    assert outcome.tables == []
    assert outcome.refused == [
        {"table": keyless.name, "reason": "unsupported: no primary or unique key"}
    ]


def test_string_and_composite_keys_with_collation_differences(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    # utf8mb4_unicode_ci orders 'a' < 'B' < 'c' and 'é' next to 'e'; PostgreSQL's C order differs
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE k (region varchar(20) NOT NULL, code varchar(20) NOT NULL, v int, "
        "PRIMARY KEY (region, code)) COLLATE utf8mb4_unicode_ci",
    )
    words = ["a", "B", "c", "é", "e", "Z", "ä", "zz", "A1", "b2", "😀", "Ω", " lead", "trail"]
    rows = [(r, f"{w}-{i}", i) for i, w in enumerate(words * 15) for r in ("North", "süd", "EAST")]
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        insert="INSERT INTO k VALUES (%s,%s,%s)",
        rows=rows,
    )
    mapping = mapping_for(
        mysql_db.database,
        "k",
        [("region", "varchar(20)", False), ("code", "varchar(20)", False), ("v", "int(11)", True)],
        ("region", "code"),
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    summary = run_all(bf, RunOptions(chunk_rows=37, strict_counts=True))
    assert summary["tables"][mapping.name]["chunks"] == -(-len(rows) // 37)
    # a retried keyset chunk deletes exactly its own keys
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("UPDATE mps_sync.backfill_chunks SET state = 'planned' WHERE seq IN (1, 5)")
    bf.copy_chunk((mapping.name, 1), "again", 10)
    bf.copy_chunk((mapping.name, 5), "again", 10)
    with pg_connect(pg_db) as conn:
        got = sorted(conn.execute("SELECT region, code, v FROM public.k").fetchall())
    assert got == sorted(rows)


def test_keyset_chunks_carry_columns_sent_in_postgres_binary_format(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """jsonb, numeric and bit varying reach COPY already in PostgreSQL's binary format; a
    keyset chunk stages them first, in a table of the target's types (it once staged bytea)."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE k (region varchar(20) NOT NULL, code varchar(20) NOT NULL, doc json, "
        "price decimal(12,2), flags bit(12), PRIMARY KEY (region, code))",
    )
    rows = [
        ("r", f"c{i}", json.dumps({"b": i, "a": [1, "x"]}), f"{(-1) ** i * i * 1.25:.2f}", i * 37)
        for i in range(60)
    ] + [("s", "null", None, None, None)]
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database),
        insert="INSERT INTO k VALUES (%s,%s,%s,%s,%s)",
        rows=rows,
    )
    mapping = mapping_for(
        mysql_db.database,
        "k",
        [
            ("region", "varchar(20)", False),
            ("code", "varchar(20)", False),
            ("doc", "json", True),
            ("price", "decimal(12,2)", True),
            ("flags", "bit(12)", True),
        ],
        ("region", "code"),
    )
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions(chunk_rows=25, strict_counts=True))
    with pg_connect(pg_db) as conn:
        got = conn.execute(
            "SELECT region, code, doc, price, flags FROM public.k ORDER BY region, code"
        ).fetchall()
    want = sorted(
        (
            r,
            c,
            None if d is None else json.loads(d),
            None if p is None else Decimal(p),
            None if f is None else format(f, "012b"),
        )
        for r, c, d, p, f in rows
    )
    assert [(r, c, d, p, None if f is None else str(f)) for r, c, d, p, f in got] == want


def test_fallback_reader_gives_the_same_end_state(
    endpoints: Endpoints,
    items_source: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MPS_BACKFILL_READER", "mysqlclient")
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions(chunk_rows=700, batch_rows=128, strict_counts=True))
    assert target_items(pg_db) == source_items(items_source)
    with pg_connect(pg_db) as conn:
        readers = {r[0] for r in conn.execute("SELECT reader FROM mps_sync.backfill_chunks")}
    assert readers == {"mysqlclient"}


def test_zero_dates_switch_the_chunk_to_the_fallback_reader(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "SET SESSION sql_mode = ''",
        "CREATE TABLE z (id int PRIMARY KEY, d date, t datetime, u bigint unsigned, b bit(5))",
        "INSERT INTO z VALUES "
        "(1, '0000-00-00', '0000-00-00 00:00:00', 18446744073709551615, b'10101'),"
        " (2, '2024-02-29', '2024-02-29 23:59:59', 9223372036854775808, b'00000')",
    )
    cols = [
        ("id", "int(11)", False),
        ("d", "date", True),
        ("t", "datetime", True),
        ("u", "bigint(20) unsigned", True),
        ("b", "bit(5)", True),
    ]
    mapping = mapping_for(mysql_db.database, "z", cols, ("id",))
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    run_all(bf, RunOptions(strict_counts=True))
    with pg_connect(pg_db) as conn:
        rows = conn.execute("SELECT id, d, t, u, b::text FROM public.z ORDER BY id").fetchall()
        reader = conn.execute("SELECT reader FROM mps_sync.backfill_chunks").fetchone()
    assert rows == [
        (1, None, None, Decimal("18446744073709551615"), "10101"),
        (2, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59), Decimal(2**63), "00000"),
    ]
    assert reader == ("mysqlclient",)  # connectorx cannot hold a zero date: chunk re-read


def _backfill_state(pg_db: DatabaseEndpoint, *targets: str) -> dict[str, Any]:
    """Everything a backfill writes in PostgreSQL, to show a dry run changed none of it."""
    tables = (
        "mps_sync.backfill_tables",
        "mps_sync.backfill_chunks",
        "mps_sync.backfill_runs",
        "mps_sync.table_state",
        *targets,
    )
    with pg_connect(pg_db) as conn:
        return {
            table: conn.execute(
                f"SELECT to_jsonb(t)::text AS row FROM {table} t ORDER BY row"
            ).fetchall()
            for table in tables
        }


def test_dry_run_resume_reports_the_existing_plan_and_writes_nothing(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    options = RunOptions(chunk_rows=400, batch_rows=64)
    bf.start_run("r1", options)
    assert bf.plan(options).tables[0]["chunks"] == 5  # 1800 rows
    bf.prepare(options, mapping.name)
    for seq in (0, 1, 3):
        bf.copy_chunk((mapping.name, seq), "r1", 64)
    with pg_connect(pg_db, autocommit=True) as conn:  # a chunk that failed in the first run
        conn.execute(
            "UPDATE mps_sync.backfill_chunks SET state = 'failed', error = 'boom' WHERE seq = 2"
        )
    before = _backfill_state(pg_db, "public.items")

    for mode in ("resume", "create_missing"):  # both continue an existing plan
        dry = bf.plan(RunOptions(chunk_rows=999, mode=mode, dry_run=True))
        (table,) = dry.tables
        assert table["action"] == "resume"
        assert (table["done"], table["failed"], table["planned"]) == (3, 1, 1)
        assert (table["to_copy"], table["to_copy_seqs"]) == (2, "2, 4")
        assert table["first_error"] == "#2: boom"
        assert (table["chunk_rows"], table["strategy"]) == (400, "integer")  # the kept plan's
        assert dry.groups == [[(mapping.name, 2)], [(mapping.name, 4)]]
    assert _backfill_state(pg_db, "public.items") == before


def test_dry_run_resume_without_a_plan_names_the_tables_and_writes_nothing(
    endpoints: Endpoints,
    items_source: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(mysql_admin, items_source.database, "CREATE TABLE other (id int PRIMARY KEY)")
    items = mapping_for(items_source.database, "items", ITEMS_COLUMNS, ("id",))
    other = mapping_for(items_source.database, "other", [("id", "int(11)", False)], ("id",))
    bf = make_backfill(endpoints, items_source, pg_db, [items, other], tmp_path)
    dry = RunOptions(mode="resume", dry_run=True)
    with pytest.raises(
        BackfillError,
        match=r"mode=resume continues an existing plan, but 2 table\(s\) have none \(no backfill "
        r"ran in this database yet\): .*items, .*other; .* Use mode=create_missing",
    ):
        bf.plan(dry)
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT to_regnamespace('mps_sync')").fetchone()[0] is None

    bf.plan(RunOptions(tables=(items.name,)))  # items planned: only other lacks a plan
    before = _backfill_state(pg_db)
    with pytest.raises(BackfillError, match=r"1 table\(s\) have none: [^,]*other; nothing was"):
        bf.plan(dry)
    assert _backfill_state(pg_db) == before


def test_key_hint_keyset_replaces_an_integer_key_chunk_by_its_exact_keys(
    endpoints: Endpoints, items_source: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    mapping = mapping_for(
        items_source.database, "items", ITEMS_COLUMNS, ("id",), backfill={"key_hint": "keyset"}
    )
    bf = make_backfill(endpoints, items_source, pg_db, [mapping], tmp_path)
    dry = bf.plan(RunOptions(chunk_rows=500, dry_run=True))
    assert dry.tables[0]["strategy"] == "keyset"
    run_all(bf, RunOptions(chunk_rows=500, strict_counts=True))
    with pg_connect(pg_db, autocommit=True) as conn:
        assert conn.execute("SELECT strategy FROM mps_sync.backfill_tables").fetchone() == (
            "keyset",
        )
        # a retried chunk goes through the staged, exact-key delete: nothing duplicated
        conn.execute("UPDATE mps_sync.backfill_chunks SET state = 'planned' WHERE seq = 1")
    bf.copy_chunk((mapping.name, 1), "again", 100)
    assert target_items(pg_db) == source_items(items_source)


KEYED_T = [("id", "int(11)", False), ("v", "varchar(10)", True)]


@pytest.mark.parametrize(
    ("pg_ddl", "expected"),
    [
        (
            [],
            "no primary key or unique index on exactly the key (id): the copy would load, but "
            'the stream\'s INSERT ... ON CONFLICT ("id") would fail on the first change; add one '
            'before the backfill: ALTER TABLE "public"."t" ADD PRIMARY KEY ("id")',
        ),
        (
            ["ALTER TABLE public.t ADD PRIMARY KEY (id, v)"],
            "(found: primary key t_pkey on (id, v)): the copy would load, but the stream's "
            'INSERT ... ON CONFLICT ("id") would fail on the first change; add one before the '
            'backfill: CREATE UNIQUE INDEX ON "public"."t" ("id")',
        ),
        (
            ["CREATE UNIQUE INDEX t_positive ON public.t (id) WHERE id > 0"],
            "unique index t_positive on (id) cannot be used: it is partial (WHERE ...)",
        ),
        (
            ["ALTER TABLE public.t ADD CONSTRAINT t_pk PRIMARY KEY (id) DEFERRABLE"],
            "primary key t_pk on (id) cannot be used: it is DEFERRABLE",
        ),
        (["CREATE UNIQUE INDEX t_id ON public.t (id) INCLUDE (v)"], None),  # usable: loads
    ],
    ids=["no_key", "pk_on_more_columns", "partial_unique", "deferrable_pk", "unique_index_ok"],
)
def test_existing_target_needs_a_unique_index_on_exactly_the_key(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    pg_ddl: list[str],
    expected: str | None,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (id int PRIMARY KEY, v varchar(10))",
        "INSERT INTO t VALUES (1, 'a'), (2, NULL), (3, 'c')",
    )
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.t (id integer NOT NULL, v varchar(10))")
        for sql in pg_ddl:
            conn.execute(sql)
    mapping = mapping_for(mysql_db.database, "t", KEYED_T, ("id",))
    bf = make_backfill(endpoints, mysql_db, pg_db, [mapping], tmp_path)
    # what the stream will run: the check must agree with PostgreSQL's own arbiter rules
    with pg_connect(pg_db) as conn:
        try:
            with conn.transaction(force_rollback=True):
                conn.execute("INSERT INTO public.t (id) VALUES (7) ON CONFLICT (id) DO NOTHING")
            upsert_error = None
        except psycopg.Error as exc:
            upsert_error = exc
    if expected is None:
        assert upsert_error is None
        run_all(bf, RunOptions(strict_counts=True))
        with pg_connect(pg_db) as conn:
            assert conn.execute("SELECT count(*) FROM public.t").fetchone()[0] == 3
        return
    assert upsert_error is not None
    with pytest.raises(TargetSchemaError) as err:
        run_all(bf, RunOptions())
    message = str(err.value)
    assert f"{mapping.name}: target table public.t is incompatible with the mapping" in message
    assert "(nothing was copied)" in message
    assert expected in message
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.t").fetchone()[0] == 0
        states = conn.execute("SELECT DISTINCT state FROM mps_sync.backfill_chunks").fetchall()
    assert states == [("planned",)]
