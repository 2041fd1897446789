"""A UUID key kept as binary(16) in MySQL and as uuid in PostgreSQL: the drivers hand the same
key out as bytes and as UUID, and reconcile looks up and repairs keys across both."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

KEYS = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % (1 << 128)) for i in range(1, 41)]
MISSING, CHANGED, EXTRA = KEYS[3], KEYS[17], uuid.UUID(int=1 << 127)
TABLES = {"to_pg": "mysql", "to_mysql": "postgres"}  # table -> authoritative side


def _mapping(table: str, authoritative: str) -> dict[str, Any]:
    return {
        "source": f"{{db}}.{table}",
        "target": f"public.{table}",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "binary(16)", "pg_type": "uuid", "nullable": False},
            {"name": "label", "column_type": "varchar(20)"},
        ],
        "reconcile": {"authoritative": authoritative},
    }


@pytest.fixture
def setup(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, Path]:
    mysql_rows = [(k.bytes, f"row {i}") for i, k in enumerate(KEYS)]
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        for table in TABLES:
            cur.execute(f"CREATE TABLE {table} (id binary(16) PRIMARY KEY, label varchar(20))")
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", mysql_rows)
    with pg_connect(pg_db, autocommit=True) as conn, conn.cursor() as cur:
        for table in TABLES:
            cur.execute(f"CREATE TABLE {table} (id uuid PRIMARY KEY, label varchar(20))")  # type: ignore[arg-type]
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, %s)",  # type: ignore[arg-type]
                [(uuid.UUID(bytes=k), v) for k, v in mysql_rows],
            )
            cur.execute(f"DELETE FROM {table} WHERE id = %s", (MISSING,))  # type: ignore[arg-type]
            cur.execute(f"UPDATE {table} SET label = 'pg' WHERE id = %s", (CHANGED,))  # type: ignore[arg-type]
            cur.execute(f"INSERT INTO {table} VALUES (%s, 'pg only')", (EXTRA,))  # type: ignore[arg-type]
    folder = tmp_path / "mappings"
    folder.mkdir()
    mappings = [_mapping(t, side) for t, side in TABLES.items()]
    (folder / "tables.yaml").write_text(yaml.safe_dump(mappings).replace("{db}", mysql_db.database))
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _rows(ends: Endpoints, table: str) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    with mysql_connect(ends.mysql) as conn:
        cur = conn.cursor()
        cur.execute(f"SELECT id, label FROM {table}")
        mysql = {uuid.UUID(bytes=bytes(k)): v for k, v in cur.fetchall()}
    with pg_connect(ends.postgres) as pg:
        postgres = dict(pg.execute(f"SELECT id, label FROM {table}").fetchall())  # type: ignore[arg-type]
    return mysql, postgres


def test_drift_on_a_uuid_key_is_found_and_repaired_toward_either_side(setup, tmp_path) -> None:
    ends, folder = setup
    params = ReconcileParams(
        mappings=str(folder), recheck_delay_s=0, segment_rows=8, dry_run=False, repair=True
    )
    run, _, html_path = reconcile_all(ends, params, folder=tmp_path / "reports")
    tables = {t["table"].split(".")[1]: t for t in run["tables"]}
    for table in TABLES:
        assert tables[table]["error"] is None, tables[table]["error"]
        assert tables[table]["drift"] == {"missing": 1, "extra": 1, "different": 1}
        assert tables[table]["status"] == "repaired", json.dumps(tables[table], default=str)
        mysql, postgres = _rows(ends, table)
        assert mysql == postgres
    mysql, _ = _rows(ends, "to_pg")  # MySQL's rows won
    assert mysql[CHANGED] == "row 17"
    assert MISSING in mysql
    assert EXTRA not in mysql
    mysql, _ = _rows(ends, "to_mysql")  # PostgreSQL's rows won
    assert mysql[CHANGED] == "pg"
    assert MISSING not in mysql
    assert mysql[EXTRA] == "pg only"
    # the report names each key alike whichever side's driver read it: as its hex text
    shown = {MISSING.hex.upper(), CHANGED.hex.upper(), EXTRA.hex.upper()}
    for table in TABLES:
        examples = tables[table]["drift_examples"]
        assert {e["key"][0] for found in examples.values() for e in found} == shown
        repaired = tables[table]["repair_details"]
        assert {k[0] for d in repaired for k in d["example_keys"]} == shown
    page = html_path.read_text()
    assert all(key in page for key in shown)
    assert "bytes" not in page
