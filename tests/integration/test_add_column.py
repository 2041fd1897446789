"""README "Operations / Add a column" on a running two-way sync: the application's migration
adds columns in MySQL; the stream goes on with the mapped ones and reports drift; then
`mappings generate`, `ddl` (adds the columns to the existing PostgreSQL table), the stream on
the new mappings, and a `reconcile` repair of the rows written in between."""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from tests.integration.stream_harness import (
    ITEMS_MYSQL,
    ITEMS_PG,
    Pipeline,
    drive,
    held_reason,
    items_mapping,
    mysql_rows,
    pg_rows,
    pipeline,
)

from mysql_pg_sync.cdc.metrics import PrometheusMetrics
from mysql_pg_sync.cdc.service import TablesHeldError, fail_if_held
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.slow

COLUMNS = "id, name, qty, price, updated_at, note, coupon, points, tier"
INSERT = (
    "INSERT INTO items (id, name, qty, price, updated_at) "
    "VALUES (%s, %s, %s, 1.50, '2026-01-01 10:00:00.5')"
)
MIGRATION = (
    "ALTER TABLE items ADD COLUMN coupon varchar(20) NULL DEFAULT 'none', "
    "ADD COLUMN points int unsigned NOT NULL DEFAULT 0, "
    "ADD COLUMN tier enum('basic','gold') NOT NULL DEFAULT 'basic'"
)


def _rows(p: Pipeline) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every column of every row: MySQL's, PostgreSQL's."""
    source = mysql_rows(p, f"SELECT {COLUMNS} FROM items ORDER BY id")
    target = pg_rows(p, f"SELECT {COLUMNS} FROM public.items ORDER BY id")
    return source, target


def _pg(p: Pipeline, key: int) -> list[tuple[Any, ...]]:
    return pg_rows(p, f"SELECT name, coupon, points, tier::text FROM public.items WHERE id = {key}")


def test_a_column_added_in_mysql_reaches_postgresql_and_flows_both_ways(
    items: Pipeline,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = items.endpoints.mysql.database
    monkeypatch.setenv("MPS_PG_DATABASE", items.endpoints.postgres.database)
    folder = tmp_path / "mappings"
    assert main(["mappings", "generate", "--database", db, "--out", str(folder)]) == 0
    p = replace(items, mappings=load_mappings(folder))  # the running sync's mappings
    with closing(p.mysql()) as conn:
        conn.cursor().executemany(INSERT, [(i, f"n{i}", i) for i in range(1, 21)])
    with closing(p.consumer()) as running:
        drive(running, lambda: len(pg_rows(p, "SELECT id FROM public.items")) == 20)

        # 1. the application's migration, then writes that use the new columns
        with closing(mysql_connect(replace(mysql_admin, database=db), autocommit=True)) as conn:
            conn.cursor().execute(MIGRATION)
        with closing(p.mysql()) as conn:
            cur = conn.cursor()
            cur.execute(
                "INSERT INTO items (id, name, qty, price, updated_at, coupon, points, tier) "
                "VALUES (21, 'n21', 21, 1.50, '2026-01-01 10:00:00.5', 'X10', 5, 'gold')"
            )
            cur.execute("UPDATE items SET coupon = NULL, points = 7, name = 'u3' WHERE id = 3")
        # the stream goes on with the mapped columns, and says what it leaves out
        with caplog.at_level(logging.WARNING):
            drive(running, lambda: _name(p, 3) == [("u3",)])
        drift = [r.getMessage() for r in caplog.records if "mapping drift" in r.getMessage()]
        assert drift, "no mapping drift reported"
        assert "coupon, points, tier" in drift[0], drift
        assert "run `make mappings-generate`" in drift[0], drift  # a command that exists
        # more batches of the same schema version: said once, not once per batch
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET name = 'u19' WHERE id = 19")
        with caplog.at_level(logging.WARNING):
            drive(running, lambda: _name(p, 19) == [("u19",)])
        again = [r.getMessage() for r in caplog.records if "mapping drift" in r.getMessage()]
        assert len(again) == len(drift), again

    # 2. `make mappings-generate` reports the new columns and adds them to the entry
    capsys.readouterr()
    assert main(["mappings", "generate", "--database", db, "--out", str(folder)]) == 0
    out, err = capsys.readouterr()
    for column in ("coupon varchar(20)", "points int(10) unsigned", "tier enum("):
        assert f"new column: {db}.items.{column}" in out, out
    assert "next: `make ddl` creates the new tables and adds the new columns" in err
    p = replace(p, mappings=load_mappings(folder))

    # a stream run on the new mappings before `ddl`: holds the table, names it and the fix,
    # and applies none of its changes (a later run resumes from them)
    with closing(p.mysql()) as conn:
        conn.cursor().execute("UPDATE items SET coupon = 'early', name = 'e4' WHERE id = 4")
    with closing(p.consumer()) as early:
        held = held_reason(early, f"{db}.items (mysql)")
    assert f"{db}.items: the postgres table " in held
    assert '"coupon"' in held
    assert "run `make ddl`" in held
    assert _name(p, 4) == [("n4",)]

    # 3. `make ddl ARGS=--dry-run`, then `make ddl`: the existing table gets the columns, with
    # MySQL's defaults for the rows it has (as MySQL's ALTER gave its own rows)
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    planned = capsys.readouterr().out
    assert 'ALTER TABLE "public"."items"\n  ADD COLUMN "coupon" varchar(20) DEFAULT \'none\',' in (
        planned
    ), planned
    assert 'ADD COLUMN "points" bigint DEFAULT 0 NOT NULL' in planned
    assert "CREATE TABLE" not in planned
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert _pg(p, 1) == [("n1", "none", 0, "basic")]
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    assert "ALTER TABLE" not in capsys.readouterr().out  # a second run adds nothing

    # 4. the stream on the new mappings: the held-back change, then live ones, both ways
    with closing(p.consumer()) as running:
        drive(running, lambda: _pg(p, 4) == [("e4", "early", 0, "basic")])
        with closing(p.mysql()) as conn:
            conn.cursor().execute("UPDATE items SET tier = 'gold', points = 9 WHERE id = 5")
        drive(running, lambda: _pg(p, 5) == [("n5", "none", 9, "gold")])

        # 5. `reconcile` repairs what was written between the migration and `ddl`
        params = ReconcileParams(
            mappings=str(folder), tables=("items",), recheck_delay_s=0, repair=True, dry_run=False
        )
        run, _, _ = reconcile_all(p.endpoints, params, folder=tmp_path)
        (table,) = run["tables"]
        assert table["drift"] == {"missing": 0, "extra": 0, "different": 2}, table
        assert table["status"] == "repaired", table
        source, target = _rows(p)
        assert target == source
        assert _pg(p, 21) == [("n21", "X10", 5, "gold")]

        with closing(p.pg()) as conn:
            conn.execute("UPDATE public.items SET coupon = 'from pg', tier = 'gold' WHERE id = 6")
        drive(
            running,
            lambda: (
                mysql_rows(p, "SELECT coupon, tier FROM items WHERE id = 6")
                == [("from pg", "gold")]
            ),
        )
        source, target = _rows(p)
        assert target == source


def _name(p: Pipeline, key: int) -> list[tuple[Any, ...]]:
    return pg_rows(p, f"SELECT name FROM public.items WHERE id = {key}")


def test_a_mapped_column_mysql_lacks_holds_the_table_with_the_mysql_side_fix(
    items: Pipeline,
) -> None:
    """The PostgreSQL side's column reaches a mapping before MySQL's migration ran."""
    p = items
    with closing(p.pg()) as conn:
        conn.execute("ALTER TABLE public.items ADD COLUMN coupon varchar(20)")
    entry = p.mappings.tables[0].model_dump(mode="json", exclude_none=True)
    entry["columns"].append({"name": "coupon", "column_type": "varchar(20)"})
    p = replace(p, mappings=MappingSet((TableMapping.model_validate(entry),)))
    with closing(p.pg()) as conn:
        conn.execute(
            "INSERT INTO public.items (id, name, updated_at, coupon) VALUES (1, 'a', now(), 'c')"
        )
    with closing(p.consumer()) as running:
        message = held_reason(running, f"{p.endpoints.mysql.database}.items (postgres)")
    assert f"{p.endpoints.mysql.database}.items: the mysql table " in message
    assert "Unknown column 'coupon'" in message
    assert "add the column in MySQL (the application's migration)" in message
    assert mysql_rows(p, "SELECT count(*) FROM items") == [(0,)]


def test_a_table_waiting_for_its_column_does_not_hold_up_the_others(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
) -> None:
    """`mappings generate` ran, `ddl` not yet: `items` waits for its column, `tags` streams on,
    and `items` resumes by itself from its first held change once the column is there."""
    db = mysql_db.database
    items = items_mapping(db)
    tags = TableMapping.model_validate(
        {
            **items.model_dump(mode="json", exclude_none=True),
            "source": f"{db}.tags",
            "target": "public.tags",
        }
    )
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        [items, tags],
        [ITEMS_MYSQL, ITEMS_MYSQL.replace("items", "tags")],
        [ITEMS_PG, ITEMS_PG.replace("items", "tags")],
    ) as p:
        with closing(p.mysql()) as conn:
            cur = conn.cursor()
            cur.executemany(INSERT, [(i, f"n{i}", i) for i in range(1, 4)])
            cur.executemany(INSERT.replace("items", "tags"), [(i, f"t{i}", i) for i in (1, 2, 3)])
        with closing(p.consumer()) as running:
            drive(running, lambda: _count(p, "items") == 3 and _count(p, "tags") == 3)

        # the MySQL migration, and a mapping that lists the new column; PostgreSQL lacks it
        with closing(mysql_connect(replace(mysql_admin, database=db), autocommit=True)) as conn:
            conn.cursor().execute("ALTER TABLE items ADD COLUMN coupon varchar(20) NULL")
        entry = items.model_dump(mode="json", exclude_none=True)
        entry["columns"].append({"name": "coupon", "column_type": "varchar(20)"})
        p = replace(p, mappings=MappingSet((TableMapping.model_validate(entry), tags)))

        def write(n: int) -> None:
            with closing(p.mysql()) as conn:
                cur = conn.cursor()
                cur.execute(f"UPDATE items SET coupon = 'c{n}', name = 'i{n}' WHERE id = 1")
                cur.execute(INSERT.replace("items", "tags"), (10 + n, f"t{10 + n}", n))
                cur.execute(f"UPDATE tags SET name = 'u{n}' WHERE id = 2")

        registry = CollectorRegistry()
        metrics = PrometheusMetrics(registry)
        gauge = {"table": f"{db}.items", "incoming_side": "mysql"}
        with closing(p.consumer(metrics, state_refresh_s=0.5)) as running:
            write(1)
            held = held_reason(running, f"{db}.items (mysql)")
            assert '"coupon"' in held
            assert "run `make ddl`" in held
            # what a stream service (no failing task) shows: the status page's row and a gauge
            assert pg_rows(p, _HOLDS) == [(f"{db}.items", "mysql", held)]
            assert registry.get_sample_value("mps_stream_table_held", gauge) == 1
            drive(running, lambda: _count(p, "tags") == 4)
            write(2)  # more of both while items waits
            with closing(p.pg()) as conn:  # items' other direction is not held
                conn.execute("UPDATE public.items SET qty = 99 WHERE id = 3")
            # and tag 2's update: another key, maybe another partition, so maybe a later batch
            drive(
                running,
                lambda: (
                    _count(p, "tags") == 5
                    and pg_rows(p, "SELECT name FROM public.tags WHERE id = 2") == [("u2",)]
                ),
            )
            drive(running, lambda: mysql_rows(p, "SELECT qty FROM items WHERE id = 3") == [(99,)])
            assert pg_rows(p, "SELECT name FROM public.tags WHERE id = 2") == [("u2",)]
            assert pg_rows(p, "SELECT name FROM public.items WHERE id = 1") == [("n1",)]
            with pytest.raises(TablesHeldError, match=f"{db}.items"):
                fail_if_held(running.run(max_seconds=0.5).as_dict())

            # `ddl` adds the column: the same consumer resumes items from its first held change
            with closing(p.pg()) as conn:
                conn.execute("ALTER TABLE public.items ADD COLUMN coupon varchar(20)")
            drive(
                running,
                lambda: (
                    pg_rows(p, "SELECT name, coupon FROM public.items WHERE id = 1")
                    == [("i2", "c2")]
                ),
            )
            assert running.run(max_seconds=0.5).held == {}
            assert pg_rows(p, _HOLDS) == []
            assert registry.get_sample_value("mps_stream_table_held", gauge) == 0
        for table in ("items", "tags"):
            cols = "id, name, qty, price, updated_at"
            source = mysql_rows(p, f"SELECT {cols} FROM {table} ORDER BY id")
            assert pg_rows(p, f"SELECT {cols} FROM public.{table} ORDER BY id") == source


_HOLDS = "SELECT source_table, incoming_side, reason FROM mps_sync.stream_holds"


def _count(p: Pipeline, table: str) -> int:
    return int(pg_rows(p, f"SELECT count(*) FROM public.{table}")[0][0])
