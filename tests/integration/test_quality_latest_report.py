"""``latest.html``, which the status page links as "the latest data-quality report", is a full
run's page: a run limited by the ``tables`` Param overwrote it before, and its green page hid
the other tables' failures. Such a run writes it only while no full run has, saying so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def _mapping(db: str, table: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "name", "column_type": "varchar(9)", "nullable": False},
            ],
        }
    )


def test_a_run_of_some_tables_leaves_latest_html_to_the_full_run(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    with pg_connect(pg_db, autocommit=True) as pg:
        for table in ("good", "bad"):
            conn.cursor().execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name varchar(9))")
            conn.cursor().execute(f"INSERT INTO {table} VALUES (1, 'x')")
            pg.execute(f"CREATE TABLE public.{table} (id integer PRIMARY KEY, name varchar(9))")  # type: ignore[arg-type]
        pg.execute("INSERT INTO public.good VALUES (1, 'x')")
        pg.execute("INSERT INTO public.bad VALUES (1, NULL)")  # a not_null breach
    conn.close()
    mappings = MappingSet((_mapping(db, "good"), _mapping(db, "bad")))

    def run(run_id: str, tables: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
        return run_quality(
            replace(endpoints, mysql=mysql_db, postgres=pg_db),
            mappings,
            load_quality_config(tmp_path / "none"),
            run_id,
            tables=tables,
            reports=tmp_path,
        )

    latest = tmp_path / "quality" / "latest.html"
    first = run("manual__first", ("public.good",))  # no full run yet: its page, marked partial
    assert first.success
    assert f"Only the tables this run's <code>tables</code> Param selected: {db}.good." in (
        latest.read_text()
    )

    full = run("manual__full")
    assert not full.success
    page = latest.read_text()
    assert "manual__full" in page
    assert "Only the tables" not in page

    some = run("manual__some", ("public.good",))
    assert some.success
    assert Path(some.report_path or "").exists()  # the run's own report is still written
    assert latest.read_text() == page  # the full run's failure stays what the status page shows

    run("manual__full2")
    assert "manual__full2" in latest.read_text()
