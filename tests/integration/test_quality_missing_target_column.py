"""A mapped column PostgreSQL does not have yet (the mapping gained it, `make ddl` was
not run) must be one breach per check that says which column is missing and to run `ddl`,
not a raw SQLAlchemy error (SQL text, caret, sqlalche.me link) repeated under every check."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.results import describe
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

STATE_CHECKS = ("reconcile_drift", "conflicts_24h", "dead_letters")


def test_a_mapped_column_missing_in_postgres_names_the_column_and_the_fix(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    conn.cursor().execute(
        "CREATE TABLE t (id int PRIMARY KEY, a varchar(9) NOT NULL, Added int NOT NULL)"
    )
    conn.cursor().execute("INSERT INTO t VALUES (1, 'x', 1), (2, 'y', 2)")
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:  # as before `make ddl` added "Added"
        pg.execute("CREATE TABLE public.t (id integer PRIMARY KEY, a varchar(9))")
        pg.execute("INSERT INTO public.t VALUES (1, 'x'), (2, 'y')")
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "a", "column_type": "varchar(9)", "nullable": False},
                {"name": "Added", "column_type": "int(11)", "nullable": False},
            ],
        }
    )
    run = run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet((mapping,)),
        load_quality_config(tmp_path / "none"),
        "manual__missing_column",
        reports=tmp_path,
    )
    table_checks = [r for r in run.results if r.check not in STATE_CHECKS]
    assert table_checks
    assert not run.success
    for r in table_checks:
        assert r.outcome == "error", r
        text = describe(r)
        assert "public.t" in text, text
        assert "Added" in text, text
        assert "make ddl" in text, text
        assert "sqlalche.me" not in text, text
        assert "[SQL:" not in text, text
