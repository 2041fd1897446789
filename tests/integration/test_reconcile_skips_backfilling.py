"""A table whose backfill is still copying is skipped by reconcile, not failed: the nightly run
failed and alerted through every normal backfill. Only a backfill that stopped moving is an
error, whose advice says to resume it only if no backfill run is active (resuming beside a live
run copies the same chunks twice). A skipped row is no reading of the table: the status page
and the data-quality check keep judging the latest run that compared it."""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import TableMapping, dump_yaml_entry
from mysql_pg_sync.quality.facts import reconcile_facts
from mysql_pg_sync.reconcile.report import headline
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema
from mysql_pg_sync.status.read import read_snapshot

pytestmark = pytest.mark.integration
TABLES = ("settled", "copying")


def _mapping(db: str, name: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "label", "column_type": "varchar(20)"},
            ],
            "direction": "mysql_to_pg",
        }
    )


def test_a_moving_backfill_is_skipped_and_a_stalled_one_is_an_error(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    my = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    with pg_connect(pg_db, autocommit=True) as pg:
        for name in TABLES:
            my.cursor().execute(f"CREATE TABLE {name} (id int PRIMARY KEY, label varchar(20))")
            my.cursor().execute(f"INSERT INTO {name} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
            pg.execute(f"CREATE TABLE public.{name} (id integer PRIMARY KEY, label varchar(20))")
            pg.execute(f"INSERT INTO public.{name} VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        ensure_schema(pg)
    my.close()
    mappings = [_mapping(db, name) for name in TABLES]
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "tables.yaml").write_text(yaml.safe_dump([dump_yaml_entry(m) for m in mappings]))
    eps = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0, repair=True, dry_run=False)
    copying = f"{db}.copying"

    compared, _, _ = reconcile_all(eps, params, folder=tmp_path / "reports")
    assert [t["status"] for t in compared["tables"]] == ["in_sync", "in_sync"]

    # a reload of `copying` is under way: its target emptied, 1 of 4 chunks copied just now
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("DELETE FROM public.copying WHERE id > 1")
        pg.execute(
            "INSERT INTO mps_sync.table_state (source_table, target_table, state) "
            "VALUES (%s, 'public.copying', 'backfilling')",
            (copying,),
        )
        pg.execute(
            "INSERT INTO mps_sync.backfill_tables (source_table, target_table, key_columns, "
            "strategy, reader, chunk_rows) VALUES (%s, 'public.copying', '{id}', 'integer', "
            "'mysqlclient', 1)",
            (copying,),
        )
        pg.execute(
            "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, rows) "
            "SELECT %s, s, CASE WHEN s = 1 THEN 'done' ELSE 'planned' END, "
            "CASE WHEN s = 1 THEN 1 END FROM generate_series(1, 4) s",
            (copying,),
        )

    run, json_path, html_path = reconcile_all(eps, params, folder=tmp_path / "reports")
    by_name = {t["table"]: t for t in run["tables"]}
    assert run["status"] == "succeeded"
    assert by_name[f"{db}.settled"]["status"] == "in_sync"
    skipped = by_name[copying]
    assert skipped["status"] == "skipped"
    assert skipped["error"] == (
        "backfilling (1/4 chunks done): not compared; it will be compared by the first "
        "reconcile after its backfill finishes"
    )
    assert headline(run) == "in sync: 1 of 2 table(s); 1 skipped while backfilling"
    assert "1 skipped while backfilling" in html_path.read_text(encoding="utf-8")
    assert '"status": "skipped"' in json_path.read_text(encoding="utf-8")
    with pg_connect(pg_db, autocommit=True) as pg:
        assert pg.execute("SELECT count(*) FROM public.copying").fetchone() == (1,)  # no repair
        stored = pg.execute(
            "SELECT status FROM mps_sync.reconcile_tables WHERE run_id = %s AND source_table = %s",
            (run["run_id"], copying),
        ).fetchone()
        assert stored == ("skipped",)
        # the skipped row is no fresh reading: both go by the run that compared the table
        facts = reconcile_facts(pg, [copying])
    assert facts[copying].run_id == compared["run_id"]
    assert facts[copying].status == "in_sync"
    snapshot = read_snapshot(eps, with_connectors=False)
    assert snapshot.reconcile is not None
    assert snapshot.reconcile[copying]["run_id"] == compared["run_id"]

    # the backfill stopped: no chunk of any table changed for two hours
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("UPDATE mps_sync.backfill_chunks SET updated_at = now() - interval '2 hours'")
    stalled, _, _ = reconcile_all(eps, params, folder=tmp_path / "reports")
    (error,) = [t for t in stalled["tables"] if t["table"] == copying]
    assert stalled["status"] == "failed"
    assert error["status"] == "error"
    assert f"{copying} is backfilling, so it was not compared" in error["error"]
    assert "no backfill progress for 2 h (1/4 chunks done)" in error["error"]
    assert "if no backfill run is active" in error["error"]
    assert "`make cli ARGS=status`" in error["error"]
    assert f"`backfill run --mode resume --tables {copying}`), then reconcile it" in error["error"]

    # no chunk planned at all (the plan was dropped): stalled too
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("DELETE FROM mps_sync.backfill_tables WHERE source_table = %s", (copying,))
    unplanned, _, _ = reconcile_all(eps, params, folder=tmp_path / "reports")
    (error,) = [t for t in unplanned["tables"] if t["table"] == copying]
    assert error["status"] == "error"
    assert "no chunk of it is planned" in error["error"]


def test_the_migration_that_allows_skipped_applies_twice(pg_db: DatabaseEndpoint) -> None:
    migration = resources.files("mysql_pg_sync.state") / "sql" / "200_reconcile_skipped.sql"
    with pg_connect(pg_db, autocommit=True) as pg:
        ensure_schema(pg)
        pg.execute(migration.read_text(encoding="utf-8"))  # idempotent: applied once already
        run = pg.execute("INSERT INTO mps_sync.reconcile_runs DEFAULT VALUES RETURNING run_id")
        run_id = run.fetchone()[0]  # type: ignore[index]
        pg.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status) "
            "VALUES (%s, 'db.t', 'public.t', 'skipped')",
            (run_id,),
        )
