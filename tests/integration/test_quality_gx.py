"""Great Expectations validations against real PostgreSQL tables with seeded violations."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.results import ReconcileTrigger
from mysql_pg_sync.quality.run import DataQualityBreach, raise_on_breach, run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints, admin_endpoints
from mysql_pg_sync.state.schema import ensure_schema

COLUMNS = [
    {"name": "id", "column_type": "int(11)", "nullable": False},
    {"name": "status", "column_type": "enum('new','paid')", "nullable": False},
    {"name": "tags", "column_type": "set('a','b')"},
    {"name": "qty", "column_type": "int(10) unsigned", "nullable": False},
    {"name": "email", "column_type": "varchar(64)"},
    {"name": "updated_at", "column_type": "datetime(6)", "nullable": False},
]
MYSQL_DDL = """CREATE TABLE `{name}` (id int PRIMARY KEY, status enum('new','paid') NOT NULL,
    tags set('a','b'), qty int unsigned NOT NULL, email varchar(64),
    updated_at datetime(6) NOT NULL)"""
PG_DDL = """CREATE TABLE public.{name} (id integer, status text, tags text[], qty bigint,
    email varchar(64), updated_at timestamp(6))"""
NOW = datetime(2026, 11, 25, 12, 0, 0)
GOOD_ROWS = [
    (1, "new", ["a"], 3, "x@example.com", NOW),
    (2, "paid", ["a", "b"], 0, "y@example.com", NOW - timedelta(minutes=5)),
    (3, "paid", None, 4294967295, None, NOW - timedelta(hours=1)),
]


def _mapping(db: str, name: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": COLUMNS,
            "conflict": {"rule": "last_writer_wins", "column": "updated_at"},
        }
    )


def _seed_mysql(admin: DatabaseEndpoint, db: str, name: str, rows: list[tuple]) -> None:
    conn = mysql_connect(replace(admin, database=db), autocommit=True)
    cur = conn.cursor()
    cur.execute(MYSQL_DDL.format(name=name))
    cur.executemany(
        f"INSERT INTO `{name}` VALUES (%s, %s, %s, %s, %s, %s)",
        [(r[0], r[1], ",".join(r[2]) if r[2] else None, r[3], r[4], r[5]) for r in rows],
    )
    conn.close()


def _seed_pg(endpoint: DatabaseEndpoint, name: str, rows: list[tuple]) -> None:
    with pg_connect(endpoint, autocommit=True) as conn:
        conn.execute(PG_DDL.format(name=name))  # type: ignore[arg-type]
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO public.{name} VALUES (%s, %s, %s, %s, %s, %s)", rows)


@pytest.fixture
def seeded(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> tuple[Endpoints, MappingSet, Path]:
    db = mysql_db.database
    # clean: identical on both sides.
    _seed_mysql(mysql_admin, db, "clean", GOOD_ROWS)
    _seed_pg(pg_db, "clean", GOOD_ROWS)
    # dirty: the source has 300 rows; the target has 7 with one violation of each kind.
    source = [(i, "new", ["a"], i, None, NOW) for i in range(1, 301)]
    _seed_mysql(mysql_admin, db, "dirty", source)
    stale = NOW - timedelta(days=2)
    _seed_pg(
        pg_db,
        "dirty",
        [
            (1, "new", ["a"], 1, "ok@example.com", stale),
            (1, "new", ["a"], 1, "dup@example.com", stale),  # duplicate key
            (None, "new", ["a"], 1, "nokey@example.com", stale),  # NULL key
            (4, "refunded", ["a"], 1, "a@example.com", stale),  # not an enum member
            (5, "new", ["a", "zz"], 1, "b@example.com", stale),  # not a set member
            (6, "new", ["b"], -5, "c@example.com", stale),  # below int unsigned
            (7, "new", ["b"], None, "not-an-email", stale),  # NOT NULL column is NULL
        ],
    )
    expectations = tmp_path / "expectations"
    expectations.mkdir()
    (expectations / "tables.yaml").write_text(
        f"""
tables:
  {db}.dirty:
    expectations:
      - name: email_format
        type: expect_column_values_to_match_regex
        kwargs: {{column: email, regex: "^[^@]+@[^@]+$"}}
        severity: fail
  {db}.clean:
    ranges:
      qty: {{min: 0, max: 4294967295}}
    expectations:
      - name: email_format
        type: expect_column_values_to_match_regex
        kwargs: {{column: email, regex: "^[^@]+@[^@]+$"}}
""",
        encoding="utf-8",
    )
    mappings = MappingSet((_mapping(db, "clean"), _mapping(db, "dirty")))
    eps = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    return eps, mappings, expectations


def test_each_violation_is_reported_and_the_clean_table_passes(seeded, tmp_path: Path) -> None:
    endpoints, mappings, expectations = seeded
    db = endpoints.mysql.database
    run = run_quality(
        endpoints, mappings, load_quality_config(expectations), "manual__t1", reports=tmp_path
    )
    by_id = {(r.table.split(".")[1], r.check_id): r for r in run.results}

    clean = [r for r in run.results if r.table == f"{db}.clean"]
    assert [r for r in clean if r.outcome not in ("passed", "skipped")] == []
    ran = {r.check_id for r in clean if r.outcome == "passed"}
    assert {
        "key_unique:id",
        "key_not_null:id",
        "not_null:status",
        "enum_values:status",
        "set_values:tags",
        "range:qty",
        "row_count_parity",
        "freshness:updated_at",
        "custom:email_format",
    } <= ran
    assert run.table_outcome(f"{db}.clean") == "passed"

    expected_failures = {
        "key_unique:id": [1, 1],
        "key_not_null:id": [None],
        "enum_values:status": ["refunded"],
        "set_values:tags": ["zz"],
        "range:qty": [-5],
        "not_null:qty": [None],
        "custom:email_format": ["not-an-email"],
    }
    for check_id, sample in expected_failures.items():
        result = by_id[("dirty", check_id)]
        assert result.outcome == "failed", (check_id, result)
        assert result.sample == sample, check_id
    parity = by_id[("dirty", "row_count_parity")]
    # 7 rows against MySQL's 300: past row_count_fail_ratio (0.1), a fail whatever the severity
    assert (parity.outcome, parity.observed, parity.severity) == ("failed", 7, "fail")
    fresh = by_id[("dirty", "freshness:updated_at")]
    assert fresh.outcome == "failed"
    assert fresh.observed == pytest.approx(2 * 86400)
    # a passed number says what it is
    clean_parity = by_id[("clean", "row_count_parity")]
    assert clean_parity.outcome == "passed"
    # both counts, not only MySQL's (GE's observed count was hidden behind the note)
    assert clean_parity.detail.startswith(f"PostgreSQL has {clean_parity.observed:,} rows, MySQL ")
    clean_fresh = by_id[("clean", "freshness:updated_at")]
    assert clean_fresh.outcome == "passed"
    assert "seconds PostgreSQL's newest updated_at is behind MySQL's newest" in clean_fresh.detail
    assert run.table_outcome(f"{db}.dirty") == "failed"
    assert not run.success
    with pytest.raises(DataQualityBreach, match="key_unique:id"):
        raise_on_breach(run)

    # Persisted: rows in mps_sync, the JSON, our HTML report and GE's Data Docs.
    with pg_connect(endpoints.postgres) as conn:
        stored = conn.execute(
            "SELECT success, checks, failed_fail FROM mps_sync.dq_runs WHERE run_id = 'manual__t1'"
        ).fetchone()
        failed = conn.execute(
            "SELECT count(*) FROM mps_sync.dq_results WHERE run_id = 'manual__t1' "
            "AND outcome = 'failed' AND source_table = %s",
            (f"{db}.dirty",),
        ).fetchone()
    assert stored == (False, len(run.results), len(run.breaches("fail")))
    assert failed[0] == len(
        [r for r in run.results if r.table.endswith(".dirty") and r.outcome == "failed"]
    )
    saved = json.loads((tmp_path / "quality/runs/manual__t1/results.json").read_text())
    assert saved["success"] is False
    html = Path(run.report_path).read_text()
    assert "http://" not in html
    assert "https://" not in html
    assert run.data_docs_index
    assert Path(run.data_docs_index).exists()
    validations = list((tmp_path / "quality/gx/validations").rglob("*.json"))
    assert validations, "checkpoint results were not persisted in the GE store"


def test_state_checks_without_state_tables_are_skipped_as_no_data(seeded, tmp_path: Path) -> None:
    endpoints, mappings, expectations = seeded
    db = endpoints.mysql.database
    run = run_quality(
        endpoints,
        mappings,
        load_quality_config(expectations),
        "manual__t2",
        tables=[f"{db}.clean"],
        reports=tmp_path,
    )
    states = {r.check: r for r in run.results if r.check in STATE_CHECKS}
    assert set(states) == set(STATE_CHECKS)
    for r in states.values():
        assert r.outcome == "skipped"
        assert "no data" in r.detail
    assert run.success


STATE_CHECKS = ("conflicts_24h", "dead_letters", "reconcile_drift")


def test_state_checks_read_conflicts_dead_letters_and_unrepaired_drift(
    seeded, tmp_path: Path
) -> None:
    endpoints, mappings, expectations = seeded
    db = endpoints.mysql.database
    dirty = f"{db}.dirty"
    with pg_connect(endpoints.postgres, autocommit=True) as conn:
        ensure_schema(conn)
        for _ in range(3):  # over the threshold of 2 below
            conn.execute(
                "INSERT INTO mps_sync.conflicts (source_table, target_table, key, incoming_side,"
                " winner, rule, kind) VALUES (%s, 'public.dirty', '[1]', 'mysql', 'mysql',"
                " 'mysql_wins', 'update_update')",
                (dirty,),
            )
        conn.execute(  # older than 24 h: not counted
            "INSERT INTO mps_sync.conflicts (decided_at, source_table, target_table, key,"
            " incoming_side, winner, rule, kind) VALUES (now() - interval '2 days', %s,"
            " 'public.clean', '[1]', 'mysql', 'mysql', 'mysql_wins', 'update_update')",
            (f"{db}.clean",),
        )
        conn.execute(
            "INSERT INTO mps_sync.dead_letters (source_table, error_class, error,"
            " dead_letter_topic) VALUES (%s, 'ConversionError', 'bad date', 'dlq')",
            (dirty,),
        )
        conn.execute(  # recovered (`dead-letters retry`): not counted
            "INSERT INTO mps_sync.dead_letters (source_table, error_class, error,"
            " dead_letter_topic, resolved_at, resolution) VALUES (%s, 'CheckViolation', 'qty',"
            " 'dlq', now(), 'retried: copied MySQL''s current row to PostgreSQL')",
            (f"{db}.clean",),
        )
        run_id = conn.execute(
            "INSERT INTO mps_sync.reconcile_runs (status) VALUES ('drift') RETURNING run_id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status,"
            " drift_found, drift_repaired) VALUES (%s, %s, 'public.dirty', 'drift', 5, 3),"
            " (%s, %s, 'public.clean', 'repaired', 2, 2)",
            (run_id, dirty, run_id, f"{db}.clean"),
        )
    (expectations / "defaults.yaml").write_text("defaults: {thresholds: {conflicts_24h_max: 2}}")
    run = run_quality(
        endpoints, mappings, load_quality_config(expectations), "manual__t3", reports=tmp_path
    )
    by_id = {(r.table.split(".")[1], r.check_id): r for r in run.results}
    for check in STATE_CHECKS:
        assert by_id[("clean", check)].outcome == "passed", by_id[("clean", check)]
    assert (
        by_id[("dirty", "conflicts_24h")].outcome,
        by_id[("dirty", "conflicts_24h")].observed,
    ) == ("failed", 3)
    assert (
        by_id[("dirty", "dead_letters")].outcome,
        by_id[("dirty", "dead_letters")].observed,
    ) == ("failed", 1)
    assert (
        by_id[("dirty", "reconcile_drift")].outcome,
        by_id[("dirty", "reconcile_drift")].observed,
    ) == ("failed", 2)


def _reconcile_run(conn, status: str, rows: list[tuple]) -> int:  # type: ignore[no-untyped-def]
    """A finished reconcile run with (source, target, status, found, repaired, error) rows."""
    run_id = conn.execute(
        "INSERT INTO mps_sync.reconcile_runs (status) VALUES (%s) RETURNING run_id", (status,)
    ).fetchone()[0]
    for source, target, table_status, found, repaired, error in rows:
        conn.execute(
            "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, status,"
            " drift_found, drift_repaired, error, finished_at) VALUES (%s, %s, %s, %s, %s, %s,"
            " %s, now())",
            (run_id, source, target, table_status, found, repaired, error),
        )
    return int(run_id)


def test_a_reconcile_that_failed_on_a_table_is_a_breach_not_zero_drift(
    seeded, tmp_path: Path
) -> None:
    """The failed run stores drift_found = 0 for the table; read as the latest run that hid
    both the failure and the 2 rows the run before had left unrepaired."""
    endpoints, mappings, expectations = seeded
    dirty = f"{endpoints.mysql.database}.dirty"
    with pg_connect(endpoints.postgres, autocommit=True) as conn:
        ensure_schema(conn)
        good = _reconcile_run(conn, "drift", [(dirty, "public.dirty", "drift", 5, 3, None)])
        failed = _reconcile_run(
            conn,
            "failed",
            [(dirty, "public.dirty", "error", 0, 0, "OperationalError: server closed")],
        )
    config = load_quality_config(expectations)

    run = run_quality(endpoints, mappings, config, "manual__r1", tables=[dirty], reports=tmp_path)
    (drift,) = [r for r in run.results if r.check == "reconcile_drift"]
    assert (drift.outcome, drift.severity, drift.observed) == ("error", "fail", 2)
    assert f"latest reconcile run {failed} failed on this table" in drift.detail
    assert "OperationalError: server closed" in drift.detail
    assert f"the last run that compared it, {good}, left 2 unrepaired" in drift.detail
    assert not run.success
    assert "reconcile_drift: could not be evaluated" in run.summary()

    # Triggered by the earlier run's Asset event: judged as of that run, later runs unseen.
    pinned = run_quality(
        endpoints,
        mappings,
        config,
        "manual__r2",
        tables=[dirty],
        reports=tmp_path,
        reconcile=ReconcileTrigger(good, "drift"),
    )
    (drift,) = [r for r in pinned.results if r.check == "reconcile_drift"]
    assert (drift.outcome, drift.observed) == ("failed", 2)
    assert drift.detail.startswith(f"expected at most 0; drift left by reconcile run {good}")
    assert f"triggered by reconcile run {good} ended drift" in pinned.summary()
    saved = json.loads((tmp_path / "quality/runs/manual__r2/results.json").read_text())
    assert saved["reconcile"] == {"run_id": good, "status": "drift"}


def test_a_source_table_missing_in_mysql_is_a_breach_and_the_report_is_written(
    seeded, pg_db: DatabaseEndpoint, tmp_path: Path
) -> None:
    endpoints, mappings, expectations = seeded
    db = endpoints.mysql.database
    _seed_pg(pg_db, "gone", GOOD_ROWS)  # on PostgreSQL only
    with_gone = MappingSet((*mappings.tables, _mapping(db, "gone")))
    run = run_quality(
        endpoints,
        with_gone,
        load_quality_config(expectations),
        "manual__gone",
        tables=[f"{db}.gone", f"{db}.clean"],
        reports=tmp_path,
    )
    gone = {r.check_id: r for r in run.results if r.table == f"{db}.gone"}
    for check_id in ("row_count_parity", "freshness:updated_at"):
        assert (gone[check_id].outcome, gone[check_id].severity) == ("error", "fail")
        assert f"MySQL table {db}.gone could not be read (MySQL error 1146" in (
            gone[check_id].detail
        )
    assert gone["key_unique:id"].outcome == "passed"  # the PostgreSQL checks still ran
    assert run.table_outcome(f"{db}.clean") == "passed"
    assert not run.success
    assert Path(run.report_path).exists()
    assert (tmp_path / "quality" / "latest.html").exists()


def test_a_missing_target_table_is_a_breach_not_a_crash(seeded, tmp_path: Path) -> None:
    endpoints, mappings, expectations = seeded
    db = endpoints.mysql.database
    _seed_mysql(
        replace(admin_endpoints()[0], database=endpoints.mysql.database),
        db,
        "absent",
        GOOD_ROWS,
    )
    with_missing = MappingSet((*mappings.tables, _mapping(db, "absent")))
    run = run_quality(
        endpoints,
        with_missing,
        load_quality_config(expectations),
        "manual__t4",
        tables=[f"{db}.clean", f"{db}.absent"],
        reports=tmp_path,
    )
    absent = [r for r in run.results if r.table == f"{db}.absent"]
    table_checks = [r for r in absent if r.check not in STATE_CHECKS]
    assert table_checks
    assert {r.outcome for r in table_checks} == {"error"}
    assert "public.absent does not exist" in table_checks[0].detail
    assert run.table_outcome(f"{db}.clean") == "passed"
    assert not run.success


def test_mixed_case_names_and_reserved_words_are_validated(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    conn = mysql_connect(replace(mysql_admin, database=db), autocommit=True)
    conn.cursor().execute(
        "CREATE TABLE `Group` (`ID` int PRIMARY KEY, `Name` varchar(9) NOT NULL,"
        " `order` enum('a','b') NOT NULL)"
    )
    conn.cursor().execute("INSERT INTO `Group` VALUES (1, 'x', 'a'), (2, 'y', 'b')")
    conn.close()
    with pg_connect(pg_db, autocommit=True) as pg:
        pg.execute('CREATE TABLE public."Group" ("ID" int, "Name" varchar(9), "order" text)')
        pg.execute("INSERT INTO public.\"Group\" VALUES (1, 'x', 'a'), (1, NULL, 'zz')")
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.Group",
            "target": "public.Group",
            "key": ["ID"],
            "columns": [
                {"name": "ID", "column_type": "int(11)", "nullable": False},
                {"name": "Name", "column_type": "varchar(9)", "nullable": False},
                {"name": "order", "column_type": "enum('a','b')", "nullable": False},
            ],
        }
    )
    run = run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet((mapping,)),
        load_quality_config(tmp_path / "none"),
        "manual__case",
        reports=tmp_path,
    )
    outcome = {
        r.check_id: (r.outcome, r.sample) for r in run.results if r.check not in STATE_CHECKS
    }
    assert outcome == {
        "key_unique:ID": ("failed", [1, 1]),
        "key_not_null:ID": ("passed", []),
        "not_null:Name": ("failed", [None]),
        "not_null:order": ("passed", []),
        "enum_values:order": ("failed", ["zz"]),
        "row_count_parity": ("passed", []),
    }
