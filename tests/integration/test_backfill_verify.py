"""A backfill verified with reconcile's differ: 0 drift after the load; a row changed in
PostgreSQL afterwards (no stream running to undo it) is reported with its key and column."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.backfill import handoff
from mysql_pg_sync.backfill.runner import Backfill, RunOptions
from mysql_pg_sync.backfill.verify import VerifyOptions, add_to_report, verify_tables
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.compare import CompareConfig
from mysql_pg_sync.reconcile.recheck import DelayWaiter
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

OPTIONS = RunOptions(chunk_rows=1_000)
NO_WAIT = DelayWaiter(0)  # no stream runs here: nothing in flight to wait for


def _mapping(db: str, table: str, key: list[str], columns: list[tuple[str, str]]) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": key,
            "columns": [
                {"name": n, "column_type": t, "nullable": n not in key} for n, t in columns
            ],
        }
    )


@pytest.fixture
def loaded(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Backfill, dict[str, Any]]:
    """Two tables backfilled: ``ev`` (integer key, 3 chunks, a far outlier) and ``tags`` (string
    key)."""
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE ev (id bigint PRIMARY KEY, v varchar(20), n int)")
        cur.execute("INSERT INTO ev SELECT seq, CONCAT('v', seq), seq % 7 FROM seq_1_to_2500")
        cur.execute("INSERT INTO ev VALUES (1000000000000, 'far', 1)")
        cur.execute("CREATE TABLE tags (code varchar(20) PRIMARY KEY, label text)")
        cur.execute(
            "INSERT INTO tags SELECT CONCAT('t', seq), CONCAT('label ', seq) FROM seq_1_to_300"
        )
    db = mysql_db.database
    mappings = [
        _mapping(db, "ev", ["id"], [("id", "bigint(20)"), ("v", "varchar(20)"), ("n", "int(11)")]),
        _mapping(db, "tags", ["code"], [("code", "varchar(20)"), ("label", "text")]),
    ]
    bf = Backfill(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet(tuple(mappings)),
        capture_check=handoff.assume_capture_running("test"),
        position_reader=lambda topic: {topic: {}},
        reports_dir=tmp_path,
    )
    bf.start_run("run1", OPTIONS)
    outcome = bf.plan(OPTIONS)
    for table in outcome.tables:
        bf.prepare(OPTIONS, table["table"])
    for group in outcome.groups:
        bf.copy_group(group, "run1", OPTIONS.batch_rows)
    for table in outcome.tables:
        bf.finalize(table["table"], strict_counts=True)
    return bf, bf.summarize("run1", [t["table"] for t in outcome.tables])


def _verify(bf: Backfill) -> dict[str, Any]:
    options = VerifyOptions(compare=CompareConfig(segment_rows=200))
    result = verify_tables(bf.endpoints, bf.mappings.tables, options, "run1", NO_WAIT)
    return {t["table"].split(".")[-1]: t for t in result["tables"]} | {"_run": result}


def test_a_clean_load_verifies_with_no_drift(loaded) -> None:
    bf, summary = loaded
    verified = _verify(bf)
    ev, tags = verified["ev"], verified["tags"]
    assert verified["_run"]["drift"] == 0
    assert ev["status"] == tags["status"] == "in_sync"
    assert ev["drift"] == {"missing": 0, "extra": 0, "different": 0}
    assert ev["rows_compared"] == 2_501
    assert ev["chunk_boundaries"] == 2  # 2,501 rows in chunks of 1,000
    assert ev["segments"] >= 3
    assert tags["rows_compared"] == 300
    add_to_report(summary, verified["_run"])
    report = json.loads(Path(summary["report"]["json"]).read_text())
    assert report["verify"]["drift"] == 0
    assert "Verification" in Path(summary["report"]["html"]).read_text()


def test_a_row_changed_after_the_load_is_reported_with_key_and_column(
    loaded, pg_db: DatabaseEndpoint
) -> None:
    bf, _ = loaded
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("UPDATE public.ev SET v = 'tampered' WHERE id = 1234")
        conn.execute("DELETE FROM public.ev WHERE id = 1000000000000")
        conn.execute("UPDATE public.tags SET label = 'label 42 ' WHERE code = 't42'")
    verified = _verify(bf)
    ev, tags = verified["ev"], verified["tags"]
    assert ev["status"] == "drift"
    assert ev["drift"] == {"missing": 1, "extra": 0, "different": 1}
    assert ev["examples"] == {"missing": [["1000000000000"]], "different": [["1234"]]}
    assert ev["different_columns"] == {"v": 1}
    assert tags["drift"] == {"missing": 0, "extra": 0, "different": 1}
    assert tags["examples"] == {"different": [["t42"]]}
    assert tags["different_columns"] == {"label": 1}
    assert verified["_run"]["drift"] == 3
    with pg_connect(pg_db) as conn:  # dry run: the tampered row is left as it is
        row = conn.execute("SELECT v FROM public.ev WHERE id = 1234").fetchone()
    assert row == ("tampered",)


def test_counts_mode_compares_nothing(loaded) -> None:
    bf, _ = loaded
    result = verify_tables(bf.endpoints, bf.mappings.tables, VerifyOptions(mode="counts"))
    assert result == {"mode": "counts", "tables": []}


def test_the_cli_run_verifies_and_prints_the_result(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        c.cursor().execute(
            "CREATE TABLE ev AS SELECT CAST(seq AS signed) AS id, CONCAT('v', seq) AS v "
            "FROM seq_1_to_700"
        )
        c.cursor().execute("ALTER TABLE ev ADD PRIMARY KEY (id)")
    mapping = _mapping(mysql_db.database, "ev", ["id"], [("id", "bigint(20)"), ("v", "text")])
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "ev.yaml").write_text(
        json.dumps([mapping.model_dump(mode="json", exclude_defaults=True)])
    )
    env = {
        **os.environ,
        "MPS_MYSQL_DATABASE": mysql_db.database,
        "MPS_PG_DATABASE": pg_db.database,
        "MPS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    command = ["backfill", "run", "--mappings", str(folder), "--no-capture-check"]
    done = subprocess.run(
        [sys.executable, "-m", "mysql_pg_sync", *command, "--chunk-rows", "300"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    (table,) = summary["verify"]["tables"]
    assert table["rows_compared"] == 700
    assert table["chunk_boundaries"] == 2
    assert table["status"] == "in_sync"
