"""`backfill plan` from any directory: mappings from $MPS_MAPPINGS_DIR, `--chunk-rows 0` meaning
each mapping's chunk_rows, an out-of-range value refused before planning (real MariaDB and
PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.settings import DatabaseEndpoint

pytestmark = pytest.mark.integration

ROWS = 30


@pytest.fixture
def planned_env(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE products (id int PRIMARY KEY, sku varchar(32) NOT NULL)")
        cur.execute(f"INSERT INTO products SELECT seq, concat('s', seq) FROM seq_1_to_{ROWS}")
    finally:
        conn.close()
    maps = tmp_path / "maps"
    monkeypatch.setenv("MPS_MYSQL_DATABASE", mysql_db.database)
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    assert main(["mappings", "generate", "--out", str(maps)]) == 0
    entry = maps / f"{mysql_db.database}.products.yaml"
    entry.write_text(entry.read_text().replace("chunk_rows: 250000", "chunk_rows: 7"))
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # no include/mappings here
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(maps))
    return maps


def test_plan_reads_mps_mappings_dir_and_zero_means_the_mappings_chunk_rows(
    planned_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    argv = ["backfill", "plan", "--dry-run", "--mode", "reload", "--tables", "products"]
    assert main([*argv, "--chunk-rows", "0"]) == 0
    (table,) = json.loads(capsys.readouterr().out)["tables"]
    assert (table["chunk_rows"], table["chunks"]) == (7, 5)  # 30 rows: 4 of 7, a tail of 2
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--chunk-rows", "-10"])
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert "argument --chunk-rows: must be an integer >= 0" in captured.err
    assert captured.out == ""  # refused before anything was planned
