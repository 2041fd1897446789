"""A repair copies a FLOAT as the double MySQL holds, not its 6-digit text (123456.7 was
written to PostgreSQL as 123457)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def test_a_repaired_float_keeps_every_digit(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as m:
        cur = m.cursor()
        cur.execute("CREATE TABLE floats (id int PRIMARY KEY, f float)")
        cur.execute("INSERT INTO floats VALUES (1, 123456.7), (2, 0.1), (3, -3.4028234e38)")
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE floats (id integer PRIMARY KEY, f real)")
    mapping = {
        "source": f"{mysql_db.database}.floats",
        "target": "public.floats",
        "key": ["id"],
        "direction": "mysql_to_pg",
        "columns": [
            {"name": "id", "column_type": "int(11)", "nullable": False},
            {"name": "f", "column_type": "float"},
        ],
    }
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "floats.yaml").write_text(yaml.safe_dump([mapping]))
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0, repair=True, dry_run=False)
    both = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    run, _, _ = reconcile_all(both, params, folder=tmp_path)
    assert run["tables"][0]["repairs"] == {"applied": 3}
    with pg_connect(pg_db, autocommit=True) as conn:
        rows = conn.execute("SELECT id, f::float8 FROM floats ORDER BY id").fetchall()
    assert rows == [(1, 123456.703125), (2, 0.10000000149011612), (3, -3.4028234663852886e38)]
    again, _, _ = reconcile_all(both, params, folder=tmp_path)
    assert again["tables"][0]["status"] == "in_sync"
