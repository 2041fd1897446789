"""Data-quality verdicts that misled operators (a review reproduced each on these servers):

- ``row_count_parity`` passed with PostgreSQL empty or mostly gone on small tables (MySQL 100 /
  PostgreSQL 0, 150 / 60, 0 / 80): the 100-row allowance applied whatever the table's size;
- a PostgreSQL table the checker may not read was a warning and the run passed;
- a table still backfilling failed its row count every night (and its drift as stale);
- a passed row count never showed PostgreSQL's count;
- freshness on an empty PostgreSQL table said "observed 1000000000000.0" as a warning;
- repair hints did not say which side a repair copies from.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.results import CheckResult, QualityRun, describe
from mysql_pg_sync.quality.run import run_quality
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints
from mysql_pg_sync.state.schema import ensure_schema

ID_V = [
    {"name": "id", "column_type": "int(11)", "nullable": False},
    {"name": "v", "column_type": "varchar(20)"},
]
WITH_TS = [*ID_V, {"name": "ts", "column_type": "datetime(6)", "nullable": False}]
LWW = {"rule": "last_writer_wins", "column": "ts"}


def _mysql(admin: DatabaseEndpoint, db: str, *sqls: str) -> None:
    conn = mysql_connect(replace(admin, database=db), autocommit=True)
    try:
        for sql in sqls:
            conn.cursor().execute(sql)
    finally:
        conn.close()


def _pg(endpoint: DatabaseEndpoint, *sqls: str, params: Any = None) -> None:
    with pg_connect(endpoint, autocommit=True) as conn:
        for sql in sqls:
            conn.execute(sql, params)


def _table(db: str, name: str, columns: list[dict[str, Any]] = ID_V, **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {"source": f"{db}.{name}", "target": f"public.{name}", "key": ["id"], "columns": columns}
        | extra
    )


def _pair(
    mysql_admin: DatabaseEndpoint,
    pg: DatabaseEndpoint,
    db: str,
    name: str,
    mysql_rows: int,
    pg_rows: int,
    ts: bool = False,
) -> None:
    """The same table on both sides, ``mysql_rows`` and ``pg_rows`` rows (ids from 1)."""
    extra_my, extra_pg = (", ts datetime(6) NOT NULL", ", ts timestamp(6)") if ts else ("", "")
    value_my, value_pg = (", NOW(6)", ", now()") if ts else ("", "")
    cols = "id, v, ts" if ts else "id, v"
    _mysql(
        mysql_admin,
        db,
        f"CREATE TABLE {name} (id int PRIMARY KEY, v varchar(20){extra_my})",
        *(
            [f"INSERT INTO {name} ({cols}) SELECT seq, 'x'{value_my} FROM seq_1_to_{mysql_rows}"]
            if mysql_rows
            else []
        ),
    )
    _pg(
        pg,
        f"CREATE TABLE public.{name} (id integer PRIMARY KEY, v varchar(20){extra_pg})",
        f"INSERT INTO public.{name} ({cols}) SELECT g, 'x'{value_pg} "
        f"FROM generate_series(1, {pg_rows}) g",
    )


def _run(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mappings: list[TableMapping],
    tmp_path: Path,
    run_id: str,
) -> QualityRun:
    return run_quality(
        replace(endpoints, mysql=mysql_db, postgres=pg_db),
        MappingSet(tuple(mappings)),
        load_quality_config(tmp_path / "none"),
        run_id,
        reports=tmp_path,
    )


def _by(run: QualityRun) -> dict[tuple[str, str], CheckResult]:
    return {(r.table.split(".")[1], r.check_id): r for r in run.results}


def test_lost_rows_on_small_tables_fail_and_a_pass_shows_both_counts(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    for name, mysql_rows, pg_rows in (
        ("t_gone", 100, 0),
        ("t_half", 150, 60),
        ("t_orphan", 0, 80),
        ("t_ok", 1_000, 997),
    ):
        _pair(mysql_admin, pg_db, db, name, mysql_rows, pg_rows)
    mappings = [
        _table(db, "t_gone"),
        # written in PostgreSQL, but repairs copy from reconcile.authoritative (mysql)
        _table(db, "t_half", direction="pg_to_mysql"),
        _table(db, "t_orphan"),
        _table(db, "t_ok"),
    ]
    run = _run(endpoints, mysql_db, pg_db, mappings, tmp_path, "manual__lost_rows")
    by = _by(run)

    for name, counts in (
        ("t_gone", "PostgreSQL has 0 rows, MySQL 100"),
        ("t_half", "PostgreSQL has 60 rows, MySQL 150"),
        ("t_orphan", "PostgreSQL has 80 rows, MySQL 0"),
    ):
        parity = by[(name, "row_count_parity")]
        assert (parity.outcome, parity.severity) == ("failed", "fail"), describe(parity)
        assert counts in parity.detail
    assert (
        "PostgreSQL has no rows while MySQL has some" in by[("t_gone", "row_count_parity")].detail
    )
    assert "tolerated: 135 to 165 rows" in by[("t_half", "row_count_parity")].detail
    orphan = by[("t_orphan", "row_count_parity")].detail
    assert "MySQL has no rows while PostgreSQL has some" in orphan
    assert not run.success

    # the repair hint names the side it copies from, and the direction it contradicts
    half = by[("t_half", "row_count_parity")].detail
    assert "a repair copies MySQL's rows (reconcile.authoritative: mysql)" in half
    assert "this table syncs pg_to_mysql" in half
    assert "this table syncs" not in orphan

    ok = by[("t_ok", "row_count_parity")]
    assert ok.outcome == "passed"
    assert describe(ok) == "PostgreSQL has 997 rows, MySQL 1,000; tolerated: 900 to 1,100 rows"
    assert run.table_outcome(f"{db}.t_ok") == "passed"


def test_an_unreadable_postgres_table_is_a_fail_and_an_empty_one_has_no_freshness_value(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    user = endpoints.postgres.user
    # owned by the admin; the sync user may write it but not read it
    _pair(mysql_admin, replace(pg_admin, database=pg_db.database), db, "t_priv", 500, 200, ts=True)
    _pg(
        replace(pg_admin, database=pg_db.database),
        f'GRANT INSERT, UPDATE, DELETE ON public.t_priv TO "{user}"',
    )
    _pair(mysql_admin, pg_db, db, "t_empty", 1, 0, ts=True)
    mappings = [
        _table(db, "t_priv", WITH_TS, conflict=LWW),
        _table(db, "t_empty", WITH_TS, conflict=LWW),
    ]
    run = _run(endpoints, mysql_db, pg_db, mappings, tmp_path, "manual__unreadable")
    by = _by(run)

    for check_id in ("row_count_parity", "freshness:ts"):
        result = by[("t_priv", check_id)]
        assert (result.outcome, result.severity) == ("error", "fail"), describe(result)
        text = describe(result)
        assert f"{check_id} of {db}.t_priv on PostgreSQL public.t_priv" in text, text
        assert "permission denied for table t_priv (InsufficientPrivilege)" in text, text
        assert "sqlalche.me" not in text, text
    assert run.table_outcome(f"{db}.t_priv") == "failed"
    assert not run.success
    assert "[fail]" in run.summary()

    fresh = by[("t_empty", "freshness:ts")]
    assert (fresh.outcome, fresh.severity, fresh.observed) == ("failed", "fail", None)
    assert fresh.detail.startswith("PostgreSQL has no value in ts, while MySQL's newest ts is ")
    assert "1000000000000" not in describe(fresh)


def test_backfilling_tables_skip_count_freshness_and_drift_and_held_ones_name_the_hold(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    db = mysql_db.database
    _pair(mysql_admin, pg_db, db, "t_bf", 2_000, 1_000, ts=True)
    _pair(mysql_admin, pg_db, db, "t_new", 50, 0, ts=True)
    _pair(mysql_admin, pg_db, db, "t_held", 300, 200)
    with pg_connect(pg_db, autocommit=True) as pg:
        ensure_schema(pg)
        for table, state in (("t_bf", "backfilling"), ("t_new", "new"), ("t_held", "streaming")):
            pg.execute(
                "INSERT INTO mps_sync.table_state (source_table, target_table, state) "
                "VALUES (%s, %s, %s)",
                (f"{db}.{table}", f"public.{table}", state),
            )
        pg.execute(
            "INSERT INTO mps_sync.backfill_tables (source_table, target_table, key_columns, "
            "strategy, reader, chunk_rows) VALUES (%s, 'public.t_bf', '{id}', 'integer', "
            "'mysqlclient', 500)",
            (f"{db}.t_bf",),
        )
        for seq in range(4):  # 2 of 4 chunks done just now: the backfill moves
            pg.execute(
                "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, rows) "
                "VALUES (%s, %s, %s, %s)",
                (f"{db}.t_bf", seq, "done" if seq < 2 else "planned", 500 if seq < 2 else None),
            )
        # a reconcile run 4 days old: past reconcile_max_age_hours (72), a breach if judged
        run_id = pg.execute(
            "INSERT INTO mps_sync.reconcile_runs (status, started_at, finished_at) VALUES "
            "('succeeded', now() - interval '4 days', now() - interval '4 days') "
            "RETURNING run_id"
        ).fetchone()[0]  # type: ignore[index]
        for table in ("t_bf", "t_held"):
            pg.execute(
                "INSERT INTO mps_sync.reconcile_tables (run_id, source_table, target_table, "
                "status, drift_found, drift_repaired, finished_at) VALUES (%s, %s, %s, "
                "'drift', 3, 0, now() - interval '4 days')",
                (run_id, f"{db}.{table}", f"public.{table}"),
            )
        pg.execute(
            "INSERT INTO mps_sync.stream_holds (source_table, incoming_side, reason) "
            "VALUES (%s, 'mysql', 'public.t_held lacks column extra: run make ddl')",
            (f"{db}.t_held",),
        )
    mappings = [
        _table(db, "t_bf", WITH_TS, conflict=LWW),
        _table(db, "t_new", WITH_TS, conflict=LWW),
        _table(db, "t_held"),
    ]
    run = _run(endpoints, mysql_db, pg_db, mappings, tmp_path, "manual__backfilling")
    by = _by(run)

    for check_id in ("row_count_parity", "freshness:ts", "reconcile_drift"):
        bf = by[("t_bf", check_id)]
        assert bf.outcome == "skipped", describe(bf)
        assert bf.detail.startswith("backfilling (2/4 chunks done): not checked"), bf.detail
        assert "resume" not in bf.detail
        new = by[("t_new", check_id)]
        assert new.outcome == "skipped", describe(new)
        assert new.detail.startswith("not backfilled yet (state new"), new.detail
    for table in ("t_bf", "t_new"):  # key checks still run (here: enforced by the primary key)
        assert by[(table, "key_unique:id")].outcome == "passed"
        assert run.table_outcome(f"{db}.{table}") == "passed"

    held = by[("t_held", "row_count_parity")]
    assert (held.outcome, held.severity) == ("failed", "fail")
    assert "the stream holds this table (held since " in held.detail
    assert "the PostgreSQL table lacks a mapped column (run `make ddl`)" in held.detail
    drift = by[("t_held", "reconcile_drift")]  # still judged: stale, as before
    assert drift.outcome == "error", describe(drift)
    assert not run.success


def test_a_backfill_that_stopped_moving_fails_its_row_count(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
) -> None:
    """A reload that emptied PostgreSQL and died: skipped every night, it read as fine."""
    db = mysql_db.database
    _pair(mysql_admin, pg_db, db, "t_dead", 2_000, 500)
    with pg_connect(pg_db, autocommit=True) as pg:
        ensure_schema(pg)
        pg.execute(
            "INSERT INTO mps_sync.table_state (source_table, target_table, state) "
            "VALUES (%s, 'public.t_dead', 'backfilling')",
            (f"{db}.t_dead",),
        )
        pg.execute(
            "INSERT INTO mps_sync.backfill_tables (source_table, target_table, key_columns, "
            "strategy, reader, chunk_rows) VALUES (%s, 'public.t_dead', '{id}', 'integer', "
            "'mysqlclient', 500)",
            (f"{db}.t_dead",),
        )
        for seq in range(4):  # 1 of 4 done, nothing changed for two hours
            pg.execute(
                "INSERT INTO mps_sync.backfill_chunks (source_table, seq, state, rows, "
                "updated_at) VALUES (%s, %s, %s, %s, now() - interval '2 hours')",
                (f"{db}.t_dead", seq, "done" if seq < 1 else "planned", 500 if seq < 1 else None),
            )
    run = _run(endpoints, mysql_db, pg_db, [_table(db, "t_dead")], tmp_path, "manual__dead")
    count = _by(run)[("t_dead", "row_count_parity")]
    assert (count.outcome, count.severity) == ("error", "fail"), describe(count)
    assert "resume it" in count.detail, count.detail
    drift = _by(run)[("t_dead", "reconcile_drift")]
    assert drift.outcome == "skipped", describe(drift)  # one breach a table
    assert not run.success
