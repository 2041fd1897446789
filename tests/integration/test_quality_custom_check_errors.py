"""A custom expectation GE cannot evaluate fails the run, whatever its severity.

Before, such a check became an ``error`` result with the default ``warn`` severity, which does
not fail a run: the DAG was green every night while the check never ran. Kwargs GE rejects are
refused when the YAML loads (tests/unit/test_quality_custom_kwargs.py); this is the rest: kwargs
GE accepts but PostgreSQL cannot run (an invalid regular expression).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_a_custom_check_that_cannot_run_fails_the_run(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, email varchar(64))")
    conn.cursor().execute("INSERT INTO t VALUES (1, 'a@b')")
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute("CREATE TABLE public.t (id integer PRIMARY KEY, email varchar(64))")
        pg.execute("INSERT INTO public.t VALUES (1, 'a@b')")
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "email", "column_type": "varchar(64)"},
            ],
        }
    )
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    (expectations / "t.yaml").write_text(
        "tables:\n"
        "  t:\n"
        "    expectations:\n"
        "      - name: email_format\n"
        "        type: expect_column_values_to_match_regex\n"
        '        kwargs: {column: email, regex: "(unclosed"}\n'  # severity: warn by default
    )
    run = run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet((mapping,)),
        load_quality_config(expectations),
        "manual__custom_error",
        reports=tmp_path / "reports",
    )
    (custom,) = [r for r in run.results if r.check == "custom"]
    assert custom.outcome == "error", custom
    assert custom.severity == "fail"
    assert "regular expression" in custom.detail, custom.detail
    assert not run.success
    assert "custom:email_format" in run.summary()
