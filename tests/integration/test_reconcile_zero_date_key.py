"""A MySQL zero date in a key column, against the real servers: MySQL reads that key as NULL, so
the table fails with a message naming the table, the key and the fix, and the run still
compares the tables after it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

VALID = "2021-01-01 10:00:00.500"


@pytest.fixture
def setup(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, Path]:
    """a_dtkey (compared first) holds a zero date and a zero month in its DATETIME(3) key,
    which PostgreSQL cannot hold; b_items after it is in sync."""
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("SET SESSION sql_mode = ''")  # zero dates, as a CodeIgniter app writes them
        cur.execute("CREATE TABLE a_dtkey (k datetime(3) PRIMARY KEY, v int)")
        cur.executemany(
            "INSERT INTO a_dtkey VALUES (%s, %s)",
            [("0000-00-00 00:00:00", 7), ("2020-00-15 00:00:00", 8), (VALID, 9)],
        )
        cur.execute("CREATE TABLE b_items (id int PRIMARY KEY, v int)")
        cur.executemany("INSERT INTO b_items VALUES (%s, %s)", [(i, i) for i in range(1, 21)])
    with pg_connect(pg_db, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE a_dtkey (k timestamp(3) PRIMARY KEY, v integer)")
        cur.execute("INSERT INTO a_dtkey VALUES (%s, 9)", (VALID,))
        cur.execute("CREATE TABLE b_items (id integer PRIMARY KEY, v integer)")
        cur.executemany("INSERT INTO b_items VALUES (%s, %s)", [(i, i) for i in range(1, 21)])
    folder = tmp_path / "mappings"
    folder.mkdir()
    key_types = {"a_dtkey": ("k", "datetime(3)"), "b_items": ("id", "int")}
    entries = [
        {
            "source": f"{mysql_db.database}.{table}",
            "target": f"public.{table}",
            "key": [key],
            "direction": "mysql_to_pg",
            "columns": [
                {"name": key, "column_type": key_type, "nullable": False},
                {"name": "v", "column_type": "int", "nullable": True},
            ],
        }
        for table, (key, key_type) in key_types.items()
    ]
    (folder / "tables.yaml").write_text(yaml.safe_dump(entries))
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def test_a_zero_date_key_fails_its_table_with_the_key_and_the_run_goes_on(
    setup: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    ends, folder = setup
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0)
    run, _, html_path = reconcile_all(ends, params, folder=tmp_path / "reports")
    tables = {t["table"].split(".")[1]: t for t in run["tables"]}
    assert [t["table"].split(".")[1] for t in run["tables"]] == ["a_dtkey", "b_items"]
    dtkey = tables["a_dtkey"]
    assert dtkey["status"] == "error"
    error = dtkey["error"]
    assert error.startswith(f"{ends.mysql.database}.a_dtkey: MySQL reads a key as NULL (k=")
    assert "k='0000-00-00 00:00:00'" in error
    assert "k='2020-00-15 00:00:00'" in error
    assert "Give the row a real date in MySQL (or delete it), then run reconcile again" in error
    assert "TypeError" not in error
    items = tables["b_items"]
    assert items["status"] == "in_sync"
    assert items["rows_mysql"] == items["rows_postgres"] == 20
    assert run["status"] == "failed"
    assert "0000-00-00 00:00:00" in html_path.read_text()
