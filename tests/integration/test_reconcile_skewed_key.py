"""Reconcile on a very skewed integer key: first-level segments come from the backfill planner's
index walk (even row counts), and every injected difference is still found exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.compare import CompareConfig, plan_first_level
from mysql_pg_sync.reconcile.model import table_from_mapping
from mysql_pg_sync.reconcile.run import open_source
from mysql_pg_sync.reconcile.segments import merged_bounds, root_segment
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all, selected_mappings
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

FAR = 10**12
SEGMENT_ROWS = 500


@pytest.fixture
def skewed(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, Path]:
    """ids 1..50000 plus five near 10^12 on both sides; then drift in PostgreSQL: a row gone,
    a changed row (dense part and far part), an extra row past MySQL's max key and one below
    its min."""
    with mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True) as c:
        cur = c.cursor()
        cur.execute("CREATE TABLE ev (id bigint PRIMARY KEY, v varchar(20))")
        cur.execute("INSERT INTO ev SELECT seq, CONCAT('v', seq) FROM seq_1_to_50000")
        cur.execute(f"INSERT INTO ev SELECT {FAR} + seq, CONCAT('v', {FAR} + seq) FROM seq_1_to_5")
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE ev (id bigint PRIMARY KEY, v varchar(20))")
        conn.execute("INSERT INTO ev SELECT g, 'v' || g FROM generate_series(1, 50000) g")
        conn.execute(
            f"INSERT INTO ev SELECT {FAR} + g, 'v' || ({FAR} + g) FROM generate_series(1, 5) g"
        )  # type: ignore[arg-type]
        conn.execute("DELETE FROM ev WHERE id = 31337")
        conn.execute("UPDATE ev SET v = 'changed' WHERE id IN (777, %s)", (FAR + 3,))
        conn.execute(
            "INSERT INTO ev VALUES (%s, 'past the max'), (0, 'below the min')", (FAR * 10,)
        )
    folder = tmp_path / "mappings"
    folder.mkdir()
    mapping = {
        "source": f"{mysql_db.database}.ev",
        "target": "public.ev",
        "key": ["id"],
        "columns": [
            {"name": "id", "column_type": "bigint(20)", "nullable": False},
            {"name": "v", "column_type": "varchar(20)"},
        ],
    }
    (folder / "ev.yaml").write_text(yaml.safe_dump([mapping]))
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def test_first_level_segments_hold_even_row_counts(skewed, mysql_db: DatabaseEndpoint) -> None:
    ends, folder = skewed
    params = ReconcileParams(mappings=str(folder))
    table = table_from_mapping(selected_mappings(params)[0])
    config = CompareConfig(segment_rows=SEGMENT_ROWS)
    with ThreadPoolExecutor(2) as executor:
        source, close = open_source(table, ends.mysql, ends.postgres, executor, 2)
        try:
            (lo_a, hi_a, rows_a), (lo_b, hi_b, rows_b) = source.both(lambda s: s.bounds())
            root = root_segment(*merged_bounds((lo_a, hi_a), (lo_b, hi_b)))
            assert root is not None
            parts, how = plan_first_level(source, root, max(rows_a, rows_b), config, ())
        finally:
            close()
    assert how == "walked"
    segments = [child for seg, split in parts for child in seg.children(split)]
    assert segments[0].lo == 0
    assert segments[-1].hi == FAR * 10 + 1
    with mysql_connect(mysql_db) as conn:
        cur = conn.cursor()
        counts = []
        for s in segments:
            cur.execute("SELECT COUNT(*) FROM ev WHERE id >= %s AND id < %s", (s.lo, s.hi))
            counts.append(int(cur.fetchone()[0]))
    assert sum(counts) == 50_005
    assert len(segments) == 101  # 50,005 rows / 500
    assert set(counts[:-1]) == {SEGMENT_ROWS}
    assert counts[-1] == 5  # the far ids do not drag half the table into one segment


def test_every_injected_difference_is_found_exactly(skewed, tmp_path: Path) -> None:
    ends, folder = skewed
    params = ReconcileParams(
        mappings=str(folder), recheck_delay_s=0, segment_rows=SEGMENT_ROWS, threshold=50
    )
    run, _, _ = reconcile_all(ends, params, folder=tmp_path / "reports")
    (ev,) = run["tables"]
    assert ev["segmentation"] == "walked"
    assert ev["drift"] == {"missing": 1, "extra": 2, "different": 2}
    assert ev["examples"] == {
        "missing": [["31337"]],
        "extra": [["0"], [str(FAR * 10)]],
        "different": [[str(FAR + 3)], ["777"]],
    }
    assert ev["different_columns"] == {"v": 2}
    assert ev["rows_mysql"] == 50_005
    assert ev["rows_postgres"] == 50_006  # one row gone, two extra
