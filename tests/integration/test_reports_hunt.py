"""Do the numbers and words of the reports operators read tell the truth? Backfill run reports
and reconcile reports, checked against mps_sync's own rows on the real servers."""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.integration.test_backfill import (
    INSERT_ITEMS,
    ITEMS_COLUMNS,
    ITEMS_DDL,
    item_rows,
    make_backfill,
    mapping_for,
    mysql_admin_exec,
    mysql_exec,
)

from mysql_pg_sync.airflow.reconcile_summary import summarize as airflow_summary
from mysql_pg_sync.backfill import report as backfill_report
from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.backfill.verify import VerifyOptions, verify_tables
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

# a composite key of a string and a binary part; values an HTML page must escape
MYSQL_DDL = [
    "CREATE TABLE kv (code varchar(20) NOT NULL, bin varbinary(4) NOT NULL, note varchar(40),"
    " PRIMARY KEY (code, bin))",
    "CREATE TABLE nums (id bigint PRIMARY KEY, v varchar(20))",
    "CREATE TABLE more (id bigint PRIMARY KEY, v varchar(20))",
    "CREATE TABLE broken (id bigint PRIMARY KEY, v varchar(20))",
]
PG_DDL = [
    "CREATE TABLE kv (code varchar(20) NOT NULL, bin bytea NOT NULL, note varchar(40),"
    " PRIMARY KEY (code, bin))",
    "CREATE TABLE nums (id bigint PRIMARY KEY, v varchar(20))",
    "CREATE TABLE more (id bigint PRIMARY KEY, v varchar(20))",
    "CREATE TABLE broken (id bigint PRIMARY KEY)",  # the mapped column v is missing
]
KV_ROWS = [(f"<k&{i}\"'>", bytes([i, 0, 255]), f"note {i}") for i in range(1, 21)]
NUM_ROWS = [(i, f"v{i}") for i in range(1, 51)]


def _mapping(table: str, key: list[str], columns: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "source": f"{{db}}.{table}",
        "target": f"public.{table}",
        "key": key,
        "columns": [{"name": n, "column_type": t, "nullable": True} for n, t in columns],
    }


MAPPINGS = [
    _mapping(
        "kv",
        ["code", "bin"],
        [("code", "varchar(20)"), ("bin", "varbinary(4)"), ("note", "varchar(40)")],
    ),
    _mapping("nums", ["id"], [("id", "bigint"), ("v", "varchar(20)")]),
    _mapping("more", ["id"], [("id", "bigint"), ("v", "varchar(20)")]),
    _mapping("broken", ["id"], [("id", "bigint"), ("v", "varchar(20)")]),
]


@pytest.fixture
def pair(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, Path]:
    admin = replace(mysql_admin, database=mysql_db.database)
    with mysql_connect(admin, autocommit=True) as conn:
        cur = conn.cursor()
        for ddl in MYSQL_DDL:
            cur.execute(ddl)
        cur.executemany("INSERT INTO kv VALUES (%s, %s, %s)", KV_ROWS)
        for table in ("nums", "more", "broken"):
            cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", NUM_ROWS)
    with pg_connect(pg_db, autocommit=True) as conn:
        for ddl in PG_DDL:
            conn.execute(ddl)
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO kv VALUES (%s, %s, %s)", KV_ROWS)
            for table in ("nums", "more"):
                cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", NUM_ROWS)
            cur.executemany("INSERT INTO broken VALUES (%s)", [(i,) for i, _ in NUM_ROWS])
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = yaml.safe_dump(MAPPINGS).replace("{db}", mysql_db.database)
    (folder / "tables.yaml").write_text(text)
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _pg(ends: Endpoints, *statements: str) -> None:
    with pg_connect(ends.postgres, autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def _params(folder: Path, *tables: str, **kw: Any) -> ReconcileParams:
    return ReconcileParams(
        mappings=str(folder), tables=tables, recheck_delay_s=0, segment_rows=100, **kw
    )


def _text(page: str) -> str:
    body = page[page.index("<body>") :] if "<body>" in page else page
    body = re.sub(r"</?(em|strong|code|small|b)>", "", body)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


def _stored(ends: Endpoints, run_id: int) -> tuple[dict[str, Counter[str]], ...]:
    """Drift by table and class, repairs by table and status, as mps_sync holds them."""
    with pg_connect(ends.postgres) as conn:
        drift = conn.execute(
            "SELECT source_table, drift, key_text FROM mps_sync.reconcile_drift WHERE run_id = %s",
            (run_id,),
        ).fetchall()
        repairs = conn.execute(
            "SELECT source_table, status FROM mps_sync.reconcile_repairs WHERE run_id = %s",
            (run_id,),
        ).fetchall()
    by_drift: dict[str, Counter[str]] = {}
    for table, kind, _ in drift:
        by_drift.setdefault(table, Counter())[kind] += 1
    by_repair: dict[str, Counter[str]] = {}
    for table, status in repairs:
        by_repair.setdefault(table, Counter())[status] += 1
    return by_drift, by_repair


# -- reconcile ---------------------------------------------------------------------------------


def test_a_repair_run_reports_what_mps_sync_recorded_with_readable_escaped_keys(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    ends, folder = pair
    _pg(
        ends,
        "DELETE FROM kv WHERE note = 'note 3'",  # missing
        "UPDATE kv SET note = '<b>&\"x''' WHERE note = 'note 5'",  # different
        "INSERT INTO kv VALUES ('<zz&>', '\\x00ff'::bytea, 'only pg')",  # extra
    )
    run, json_path, html_path = reconcile_all(
        ends, _params(folder, "kv", repair=True, dry_run=False), folder=tmp_path / "r"
    )
    (kv,) = run["tables"]
    drift, repairs = _stored(ends, run["run_id"])
    name = kv["table"]
    assert kv["drift"] == {"missing": 1, "extra": 1, "different": 1}
    assert {k: v for k, v in kv["drift"].items() if v} == dict(drift[name])
    assert kv["repairs"] == dict(repairs[name]) == {"applied": 3}
    assert kv["status"] == "repaired"
    # the JSON file is the run dict
    assert json.loads(json_path.read_text())["tables"][0]["drift"] == kv["drift"]
    page = html_path.read_text()
    assert "<b>&" not in page
    assert "<k&" not in page
    assert "<zz&>" not in page
    text = _text(page)
    # a composite key with a binary part: named columns, the bytes in hex
    missing = kv["drift_examples"]["missing"][0]["key"]
    assert missing[0] == "<k&3\"'>"
    shown = f"code={missing[0]}, bin={missing[1]}"
    assert shown in text
    assert re.fullmatch(r"(\\x|0x)?0300ff", missing[1], re.I), missing
    assert "3 applied" in text
    assert "DRY RUN" not in text
    # what the Airflow report task prints agrees with the report
    said = airflow_summary(run, str(html_path))
    line = next(x for x in said.splitlines() if x.strip().startswith(name))
    assert "3 drift row(s)" in line
    assert "3 repaired" in line
    assert all(f"{k} 1" in line for k in ("missing", "extra", "different")), line
    # the run's line: the page says "in sync: all 1 table(s), 1 after repairs"; the task log
    # said "succeeded (1 table(s), 0 in sync)" and nothing of the repaired one
    assert "1 repaired" in said.splitlines()[0], said
    assert "repaired" in run["summary"]
    assert run["summary"]["repaired"] == 1


def test_a_dry_run_over_max_repairs_names_the_limit_a_dry_run_then_needs(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """more: 3 repairs, nums: 4; max_repairs 5 plans more's and refuses nums'. The page must not
    ask for a max_repairs that the next (dry or real) run refuses again."""
    ends, folder = pair
    _pg(
        ends,
        "UPDATE more SET v = 'x' WHERE id IN (1, 2, 3)",
        "UPDATE nums SET v = 'x' WHERE id IN (1, 2, 3, 4)",
    )
    params = _params(folder, "more", "nums", repair=True, dry_run=True, max_repairs=5)
    run, _, html_path = reconcile_all(ends, params, folder=tmp_path / "r1")
    by_name = {t["table"].rsplit(".", 1)[1]: t for t in run["tables"]}
    assert by_name["more"]["repairs"] == {"dry_run": 3}
    assert by_name["nums"]["repairs"] == {"refused": 4}
    text = _text(html_path.read_text())
    asked = [int(n) for n in re.findall(r"max_repairs at least (\d[\d,]*\d|\d)", text)]
    assert asked, text
    # what the page asks for: each figure must let the same tables through
    for limit in sorted(set(asked)):
        again, _, _ = reconcile_all(
            ends, replace(params, max_repairs=limit), folder=tmp_path / f"r{limit}"
        )
        refused = [t["table"] for t in again["tables"] if t["repairs"].get("refused")]
        assert not refused, f"max_repairs at least {limit} (as the page said) refused {refused}"


def test_a_table_that_could_not_be_compared_shows_no_counts_as_if_in_sync(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    ends, folder = pair
    run, json_path, html_path = reconcile_all(
        ends, _params(folder, "nums", "broken"), folder=tmp_path / "r"
    )
    by_name = {t["table"].rsplit(".", 1)[1]: t for t in run["tables"]}
    assert by_name["broken"]["status"] == "error"
    assert run["status"] == "failed"
    page = html_path.read_text()
    tables = page[page.index("<h2>Tables</h2>") :]
    row = next(r for r in tables.split("<tr>") if "public.broken" in r)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    # rows and the three drift classes: not compared, a dash, never 0
    assert "0" not in _text(cells[2]).split(), cells
    assert all(_text(c) in ("–", "") for c in cells[4:7]), cells
    said = airflow_summary(run, str(html_path))
    assert "broken: error" in said
    assert "no column" in said.lower()
    assert json.loads(json_path.read_text())["summary"]["failed"] == 1


def test_report_times_are_utc_whatever_the_session_time_zone(
    pair: tuple[Endpoints, Path], pg_admin: DatabaseEndpoint, tmp_path: Path
) -> None:
    ends, folder = pair
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as conn:
        conn.execute(
            f"ALTER DATABASE \"{ends.postgres.database}\" SET timezone = 'America/New_York'"
        )
    run, _, html_path = reconcile_all(ends, _params(folder, "nums"), folder=tmp_path / "r")
    with pg_connect(ends.postgres) as conn:
        row = conn.execute(
            "SELECT to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
            "to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), "
            "extract(epoch FROM finished_at - started_at) "
            "FROM mps_sync.reconcile_runs WHERE run_id = %s",
            (run["run_id"],),
        ).fetchone()
    assert row is not None
    text = _text(html_path.read_text())
    assert f"started {row[0]} UTC, finished {row[1]} UTC" in text
    assert abs(float(run["duration_s"]) - float(row[2])) < 0.01


# -- backfill ----------------------------------------------------------------------------------


@pytest.fixture
def items_pair(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    mysql_admin_exec(mysql_admin, mysql_db.database, ITEMS_DDL)
    mysql_exec(
        replace(mysql_admin, database=mysql_db.database), insert=INSERT_ITEMS, rows=item_rows(900)
    )
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE small (id bigint NOT NULL PRIMARY KEY, v varchar(20) NULL)",
        "INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    return mysql_db


SMALL_COLUMNS = [("id", "bigint(20)", False), ("v", "varchar(20)", True)]


def _chunks(pg: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(pg) as conn:
        return conn.execute(
            "SELECT source_table, seq, state, rows, bytes, run_id FROM mps_sync.backfill_chunks "
            "ORDER BY 1, 2"
        ).fetchall()


def test_a_killed_then_resumed_backfill_reports_the_whole_copy_and_its_own_part(
    endpoints: Endpoints, items_pair: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    items = mapping_for(items_pair.database, "items", ITEMS_COLUMNS, ("id",))
    small = mapping_for(items_pair.database, "small", SMALL_COLUMNS, ("id",))
    bf = make_backfill(endpoints, items_pair, pg_db, [items, small], tmp_path)
    options = RunOptions(chunk_rows=200, batch_rows=64)
    bf.start_run("rph-a", options)
    outcome = bf.plan(options)
    for table in outcome.tables:
        bf.prepare(options, table["table"])
    refs = [ref for g in outcome.groups for ref in g]
    for ref in refs[:2]:  # then the run is killed: no finalize, no summary
        bf.copy_chunk(tuple(ref), "rph-a", 64)  # type: ignore[arg-type]
    resumed = RunOptions(chunk_rows=200, batch_rows=64, mode="resume")
    bf.start_run("rph-b", resumed)
    outcome2 = bf.plan(resumed)
    for table in outcome2.tables:
        bf.prepare(resumed, table["table"])
    for group in outcome2.groups:
        bf.copy_group(group, "rph-b", 64)
    tables = [t["table"] for t in outcome2.tables]
    for t in tables:
        bf.finalize(t)
    summary = bf.summarize("rph-b", tables)
    chunks = _chunks(pg_db)
    by_run: Counter[str] = Counter()
    for _, _, _, rows, _, run_id in chunks:
        by_run[run_id] += rows
    total = summary["total"]
    assert total["rows"] == sum(t["rows"] for t in summary["tables"].values()) == 903
    assert total["bytes"] == sum(t["bytes"] for t in summary["tables"].values())
    assert total["run_rows"] == by_run["rph-b"]
    assert total["rows"] - total["run_rows"] == by_run["rph-a"] > 0
    page = _text(Path(summary["report"]["html"]).read_text())
    assert f"{by_run['rph-b']:,} rows copied by this run" in page
    assert f"{by_run['rph-a']:,} rows, were done by earlier runs" in page
    assert "903 rows in all" in page
    stored = json.loads(Path(summary["report"]["json"]).read_text())
    assert stored["total"] == total


def test_a_table_whose_compare_errored_in_verify_shows_no_zero_counts(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """The backfill report's verification table: a table verify could not compare (its target
    lacks a mapped column) must not read "0 rows compared, 0 drift"."""
    ends, folder = pair
    raw = yaml.safe_load((folder / "tables.yaml").read_text())
    broken = TableMapping.model_validate(next(m for m in raw if m["source"].endswith(".broken")))
    nums = TableMapping.model_validate(next(m for m in raw if m["source"].endswith(".nums")))
    verified = verify_tables(ends, [nums, broken], VerifyOptions(recheck_wait_s=0), "rph")
    by_name = {t["table"]: t for t in verified["tables"]}
    assert by_name[broken.name]["status"] == "error"
    summary = backfill_report.build_summary(
        "rph",
        {
            n: {"chunks": 1, "chunks_done": 1, "rows": 50, "bytes": 500, "chunk_seconds": 1.0}
            for n in (nums.name, broken.name)
        },
        2.0,
    )
    summary["verify"] = verified
    page = backfill_report.render_html(summary)
    verification = page[page.index("<h2>Verification") :]
    row = next(r for r in verification.split("<tr>") if broken.name in r)
    cells = [_text(c) for c in re.findall(r"<td>(.*?)</td>", row)]
    assert cells[1].startswith("error"), cells
    # rows compared, segments and the drift classes: it was not compared
    assert not any(c == "0" for c in cells[2:7]), cells
    css, said = backfill_report.outcome(summary)
    assert css == "failed"
    # nums is in sync and broken was never compared: no table is known to differ from MySQL
    assert "differ from MySQL" not in said, said
    assert "could not be compared" in said or "not verified" in said, said


def test_a_table_with_a_failed_chunk_is_not_shown_as_done(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "CREATE TABLE t (id int PRIMARY KEY, d time)",
        "INSERT INTO t VALUES (1, '10:00'), (2, '10:00'), (3, '10:00'), (4, '10:00'),"
        " (5, '-05:00:00'), (6, '10:00')",
        "CREATE TABLE small (id bigint NOT NULL PRIMARY KEY, v varchar(20) NULL)",
        "INSERT INTO small VALUES (1, 'a'), (2, 'b'), (3, 'c')",
    )
    bad = mapping_for(
        mysql_db.database, "t", [("id", "int(11)", False), ("d", "time", True)], ("id",)
    )
    small = mapping_for(mysql_db.database, "small", SMALL_COLUMNS, ("id",))
    bf = make_backfill(endpoints, mysql_db, pg_db, [bad, small], tmp_path)
    options = RunOptions(chunk_rows=2, batch_rows=64)
    bf.start_run("rph-f", options)
    outcome = bf.plan(options)
    tables = [t["table"] for t in outcome.tables]
    for t in tables:
        bf.prepare(options, t)
    for group in outcome.groups:
        try:
            bf.copy_group(group, "rph-f", 64)
        except Exception:  # the failed chunk: the other chunks and tables go on
            pass
    bf.finalize_all(tables)
    summary = bf.summarize("rph-f", tables)
    with pg_connect(pg_db) as conn:
        in_pg = {
            t: conn.execute(f"SELECT count(*) FROM public.{t}").fetchone()[0]  # type: ignore[index]
            for t in ("t", "small")
        }
    failed = summary["tables"][bad.name]
    assert failed["finalized"] is False
    assert failed["state"] == "backfilling"
    assert failed["chunks_done"] == failed["chunks"] - 1
    assert failed["rows"] == in_pg["t"] == 4
    assert summary["total"]["rows"] == sum(in_pg.values())
    assert "-05:00:00" in summary["unfinished"][bad.name]
    css, said = backfill_report.outcome(summary)
    assert css == "failed"
    assert said.startswith("FAILED: 1 of 2 table(s) not finalized")
    page = Path(summary["report"]["html"]).read_text()
    row = next(r for r in page.split("<tr>") if f"<td>{bad.name}</td>" in r)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[1] == "backfilling"
    assert cells[2] == f"{failed['chunks'] - 1}/{failed['chunks']}"
    assert cells[5] == cells[6] == ""  # no row counts at finalize: it was not finalized


def test_a_retry_killed_after_an_attempt_that_stored_drift_reports_the_drift_on_record(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """Attempt 1 compared (4 rows differ) and stored its result, then failed (e.g. PostgreSQL
    restarted during its repairs) and was retried; the retry was killed (SIGKILL, lost
    worker) right after it (re)started the table. The report shows attempt 1's 4 drift rows
    for a table whose drift rows the retry deleted."""
    from mysql_pg_sync.reconcile import store
    from mysql_pg_sync.reconcile.service import finish_run, reconcile_one, selected_mappings
    from mysql_pg_sync.reconcile.service import start_run as start_reconcile

    ends, folder = pair
    _pg(ends, "UPDATE nums SET v = 'x' WHERE id IN (1, 2, 3, 4)")
    params = _params(folder, "nums", repair=True, dry_run=True)
    (nums,) = selected_mappings(params)
    run_id = start_reconcile(ends, params, "rph")
    first = reconcile_one(ends, run_id, nums, params)
    assert first["drift"]["different"] == 4
    with pg_connect(ends.postgres) as conn:
        store.start_table(conn, run_id, nums.name, str(nums.target))  # the retry, then killed
        conn.commit()
    run, _, _ = finish_run(ends, run_id, tmp_path / "r")
    (table,) = run["tables"]
    assert table["status"] == "error"
    drift, _ = _stored(ends, run_id)
    assert sum((table.get("drift") or {}).values()) == sum(drift.get(nums.name, Counter()).values())


def test_a_run_abandoned_after_every_table_finished_says_why_it_failed(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """The process died after each table stored its result, before it wrote the reports; the
    next run ends it as failed. Its page said "failed: 0 of 1 table(s) could not be compared"."""
    from mysql_pg_sync.reconcile import store
    from mysql_pg_sync.reconcile.service import (
        close_abandoned_runs,
        reconcile_one,
        selected_mappings,
    )

    ends, folder = pair
    params = _params(folder, "nums")
    (nums,) = selected_mappings(params)
    with pg_connect(ends.postgres, autocommit=True) as conn:
        owned = {**params.as_dict(), store.OWNER_KEY: store.PROCESS_OWNED}
        run_id = store.start_run(conn, owned, "rph")  # its process then dies: no guard
    assert reconcile_one(ends, run_id, nums, params)["status"] == "in_sync"
    with pg_connect(ends.postgres, autocommit=True) as conn:
        assert close_abandoned_runs(conn, tmp_path / "r") == [run_id]
    page = _text((tmp_path / "r" / f"reconcile-{run_id}.html").read_text())
    stored = json.loads((tmp_path / "r" / f"reconcile-{run_id}.json").read_text())
    assert stored["status"] == "failed"
    assert "0 of 1 table(s) could not be compared" not in page
    assert page.startswith(
        f"Reconcile run {run_id}: failed: the run stopped before it finished, after each of "
        "its 1 table(s) had stored a result"
    )


def test_a_run_an_exception_stopped_after_every_table_finished_reports_failed_everywhere(
    pair: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """fail_run wrote the reports with the tables' own status ('succeeded'), then stored the
    run as failed: the page and the database disagreed."""
    from mysql_pg_sync.reconcile.service import fail_run, reconcile_one, selected_mappings
    from mysql_pg_sync.reconcile.service import start_run as start_reconcile

    ends, folder = pair
    params = _params(folder, "nums")
    (nums,) = selected_mappings(params)
    run_id = start_reconcile(ends, params, "rph")
    assert reconcile_one(ends, run_id, nums, params)["status"] == "in_sync"
    fail_run(ends, run_id, tmp_path / "r", [], "KeyboardInterrupt")
    stored = json.loads((tmp_path / "r" / f"reconcile-{run_id}.json").read_text())
    page = _text((tmp_path / "r" / f"reconcile-{run_id}.html").read_text())
    with pg_connect(ends.postgres, autocommit=True) as conn:
        (status,) = conn.execute(
            "SELECT status FROM mps_sync.reconcile_runs WHERE run_id = %s", (run_id,)
        ).fetchone()  # type: ignore[misc]
    assert (stored["status"], status) == ("failed", "failed")
    assert page.startswith(f"Reconcile run {run_id}: failed: the run stopped before it finished")
