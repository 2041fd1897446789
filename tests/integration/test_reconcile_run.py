"""A whole reconcile run against the real servers: mappings in, state rows and reports out."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import MySQLdb
import psycopg
import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.reconcile.service import (
    ReconcileParams,
    finish_run,
    reconcile_all,
    reconcile_one,
    selected_mappings,
    start_run,
)
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

MYSQL_DDL = [
    "CREATE TABLE orders (id bigint PRIMARY KEY, name varchar(50), amount decimal(12,2),"
    " updated_at datetime(6))",
    "CREATE TABLE tags (code varchar(20), lang char(2), label text, PRIMARY KEY (code, lang))",
    "CREATE TABLE broken (id int PRIMARY KEY, note varchar(10))",
]
PG_DDL = [
    "CREATE TABLE orders (id bigint PRIMARY KEY, name varchar(50), amount numeric(12,2),"
    " updated_at timestamp(6))",
    "CREATE TABLE tags (code varchar(20), lang varchar(2), label text, PRIMARY KEY (code, lang))",
    "CREATE TABLE broken (id integer PRIMARY KEY)",  # the mapped column note is missing
]


def _mapping(table: str, key: list[str], columns: list[tuple[str, str]], **extra: Any) -> dict:
    return {
        "source": f"{{db}}.{table}",
        "target": f"public.{table}",
        "key": key,
        "columns": [{"name": n, "column_type": t, "nullable": True} for n, t in columns],
        **extra,
    }


MAPPINGS = [
    _mapping(
        "orders",
        ["id"],
        [
            ("id", "bigint"),
            ("name", "varchar(50)"),
            ("amount", "decimal(12,2)"),
            ("updated_at", "datetime(6)"),
        ],
    ),
    _mapping(
        "tags", ["code", "lang"], [("code", "varchar(20)"), ("lang", "char(2)"), ("label", "text")]
    ),
    _mapping("broken", ["id"], [("id", "int"), ("note", "varchar(10)")]),
]


@pytest.fixture
def setup(
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
        cur.executemany(
            "INSERT INTO orders VALUES (%s, %s, %s, %s)",
            [(i, f"n{i}", f"{i}.50", f"2026-01-01 00:00:00.{i:06d}") for i in range(1, 1001)],
        )
        cur.executemany(
            "INSERT INTO tags VALUES (%s, %s, %s)",
            [(f"t{i}", lang, f"label {i} \U0001f600") for i in range(200) for lang in ("en", "de")],
        )
        cur.execute("INSERT INTO broken VALUES (1, 'x')")
    with pg_connect(pg_db, autocommit=True) as conn:
        for ddl in PG_DDL:
            conn.execute(ddl)  # type: ignore[arg-type]
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO orders VALUES (%s, %s, %s, %s)",
                [(i, f"n{i}", f"{i}.50", f"2026-01-01 00:00:00.{i:06d}") for i in range(1, 1001)],
            )
            cur.executemany(
                "INSERT INTO tags VALUES (%s, %s, %s)",
                [
                    (f"t{i}", lang, f"label {i} \U0001f600")
                    for i in range(200)
                    for lang in ("en", "de")
                ],
            )
        conn.execute("INSERT INTO broken VALUES (1)")
        # drift: one changed amount, one row gone, one row too many, one changed tag label
        conn.execute("UPDATE orders SET amount = amount + 0.01 WHERE id = 500")
        conn.execute("DELETE FROM orders WHERE id = 17")
        conn.execute("INSERT INTO orders VALUES (5000, 'x', 1, now())")
        conn.execute("UPDATE tags SET label = 'label 42 ' WHERE code = 't42' AND lang = 'de'")
    folder = tmp_path / "mappings"
    folder.mkdir()
    text = yaml.safe_dump(MAPPINGS).replace("{db}", mysql_db.database)
    (folder / "tables.yaml").write_text(text)
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _params(folder: Path, **kw: Any) -> ReconcileParams:
    return ReconcileParams(
        mappings=str(folder), recheck_delay_s=0, segment_rows=100, threshold=16, **kw
    )


def test_a_run_finds_drift_errors_one_table_and_reports(setup, tmp_path: Path) -> None:
    ends, folder = setup
    run, json_path, html_path = reconcile_all(
        ends, _params(folder, repair=True, dry_run=True), folder=tmp_path / "reports"
    )
    tables = {t["table"].split(".")[1]: t for t in run["tables"]}
    orders, tags, broken = tables["orders"], tables["tags"], tables["broken"]
    assert orders["status"] == "drift"
    assert orders["drift"] == {"missing": 1, "extra": 1, "different": 1}
    assert orders["examples"] == {"missing": [["17"]], "extra": [["5000"]], "different": [["500"]]}
    assert orders["different_columns"] == {"amount": 1}
    assert orders["rows_mysql"] == 1000
    assert orders["rows_postgres"] == 1000
    assert orders["repairs"] == {"dry_run": 3}
    assert tags["drift"] == {"missing": 0, "extra": 0, "different": 1}
    assert tags["examples"]["different"] == [["t42", "de"]]
    assert tags["different_columns"] == {"label": 1}
    assert broken["status"] == "error"
    assert "postgres table public.broken has no column(s) note" in broken["error"]
    assert run["status"] == "failed"  # a table errored
    # the report carries each key's differing columns and each repair's side, as stored
    # and, for a different row, both sides' compared values of each differing column
    assert orders["drift_examples"] == {
        "different": [
            {
                "key": ["500"],
                "columns": ["amount"],
                "values": {"amount": {"mysql": "500.50", "postgres": "500.51"}},
            }
        ],
        "extra": [{"key": ["5000"], "columns": []}],
        "missing": [{"key": ["17"], "columns": []}],
    }
    assert tags["drift_examples"]["different"] == [
        {
            "key": ["t42", "de"],
            "columns": ["label"],
            "values": {"label": {"mysql": "label 42 \U0001f600", "postgres": "label 42 "}},
        }
    ]
    assert orders["key_columns"] == ["id"]
    assert tags["key_columns"] == ["code", "lang"]
    assert sorted(
        (d["status"], d["write_to"], d["action"], d["count"]) for d in orders["repair_details"]
    ) == [
        ("dry_run", "postgres", "delete", 1),
        ("dry_run", "postgres", "upsert", 2),
    ]
    assert run["summary"]["tables"] == 3
    assert run["summary"]["failed"] == 1
    assert run["summary"]["rows_mysql"] == 1000 + 400  # the broken table was not compared
    assert run["summary"]["drift"] == {"missing": 1, "extra": 1, "different": 2}
    assert run["summary"]["repairs"] == {"dry_run": 4}
    written = json.loads(json_path.read_text())
    assert written["run_id"] == run["run_id"]
    # the report shows the time the run's row was finished, not null
    with pg_connect(ends.postgres) as conn:
        row = conn.execute(
            "SELECT started_at, finished_at, report_html FROM mps_sync.reconcile_runs "
            "WHERE run_id = %s",
            (run["run_id"],),
        ).fetchone()
    assert row is not None
    started_at, finished_at, stored_html = row
    assert written["finished_at"] == finished_at.isoformat()
    assert written["duration_s"] == round((finished_at - started_at).total_seconds(), 3) > 0
    assert stored_html == str(html_path)
    page = html_path.read_text()
    assert "orders" in page
    assert "has no column(s) note" in page
    assert "<script" not in page
    assert f"finished {finished_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "id=500 (amount)" in page
    assert "code=t42, lang=de (label)" in page
    # the differing values, quoted, so the trailing space shows
    assert "<td>amount</td><td><code>&quot;500.50&quot;</code></td>" in page
    assert "<code>&quot;label 42 &quot;</code>" in page
    assert "DRY RUN: nothing was written. 4 repair(s) were planned" in page
    assert "copy MySQL&#x27;s row to PostgreSQL" in page

    with pg_connect(ends.postgres) as conn:
        drift = conn.execute(
            "SELECT key, drift, columns FROM mps_sync.reconcile_drift WHERE run_id = %s "
            "AND source_table LIKE '%%.orders' ORDER BY drift",
            (run["run_id"],),
        ).fetchall()
        repairs = conn.execute(
            "SELECT action, write_to, decided_by, status FROM mps_sync.reconcile_repairs "
            "WHERE run_id = %s ORDER BY action, key",
            (run["run_id"],),
        ).fetchall()
        stored = conn.execute(
            "SELECT drift_found, drift_repaired FROM mps_sync.reconcile_tables "
            "WHERE run_id = %s AND source_table LIKE '%%.orders'",
            (run["run_id"],),
        ).fetchone()
    assert drift == [
        ([500], "different", ["amount"]),
        ([5000], "extra", []),
        ([17], "missing", []),
    ]
    assert sorted(repairs) == sorted(
        [
            ("upsert", "postgres", "mysql", "dry_run"),  # 500: MySQL is authoritative
            ("upsert", "postgres", "mysql", "dry_run"),  # 17: copy it back
            ("delete", "postgres", "mysql", "dry_run"),  # 5000: not in MySQL
            ("upsert", "postgres", "mysql", "dry_run"),  # the tag
        ]
    )
    assert stored == (3, 0)


def test_max_repairs_refuses_and_records_every_repair(setup, tmp_path: Path) -> None:
    ends, folder = setup
    run, _, _ = reconcile_all(
        ends,
        _params(folder, tables=("orders",), repair=True, dry_run=False, max_repairs=2),
        folder=tmp_path,
    )
    (orders,) = run["tables"]
    assert orders["status"] == "repair_refused"
    assert (
        "3 repairs needed, more than max_repairs=2 (a limit per run, all tables together); "
        "nothing was repaired in this table" in (orders["repair_message"])
    )
    with pg_connect(ends.postgres) as conn:
        statuses = conn.execute(
            "SELECT status, count(*) FROM mps_sync.reconcile_repairs WHERE run_id = %s GROUP BY 1",
            (run["run_id"],),
        ).fetchall()
    assert statuses == [("refused", 3)]


def test_repairs_go_through_the_stream_applier_and_leave_the_pair_in_sync(
    setup, tmp_path, pg_admin
) -> None:
    ends, folder = setup
    with pg_connect(replace(pg_admin, database=ends.postgres.database), autocommit=True) as c:
        # the applier's session tags its writes with the replication origin (no echo)
        c.execute(
            "GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) "
            f"TO {ends.postgres.user}"  # type: ignore[arg-type]
        )
    params = _params(folder, tables=("orders", "tags"), repair=True, dry_run=False)
    run, _, _ = reconcile_all(ends, params, folder=tmp_path)
    by_name = {t["table"].split(".")[1]: t for t in run["tables"]}
    assert by_name["orders"]["status"] == "repaired"
    assert by_name["orders"]["repairs"] == {"applied": 3}
    assert by_name["tags"]["repairs"] == {"applied": 1}
    assert {(d["status"], d["write_to"]) for d in by_name["orders"]["repair_details"]} == {
        ("applied", "postgres")
    }
    with pg_connect(ends.postgres) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM mps_sync.reconcile_repairs WHERE run_id = %s GROUP BY 1",
            (run["run_id"],),
        ).fetchall()
        assert rows == [("applied", 4)]
        assert conn.execute("SELECT amount FROM orders WHERE id = 500").fetchone() == (
            Decimal("500.50"),
        )
        assert conn.execute("SELECT count(*) FROM orders WHERE id IN (17, 5000)").fetchone() == (1,)
    again, _, _ = reconcile_all(ends, _params(folder, tables=("orders", "tags")), folder=tmp_path)
    assert [t["status"] for t in again["tables"]] == ["in_sync", "in_sync"]


def test_an_unreachable_database_fails_the_task_and_is_recorded(setup, tmp_path) -> None:
    ends, folder = setup
    params = _params(folder, tables=("orders",))
    run_id = start_run(ends, params, "test")
    (mapping,) = selected_mappings(params)
    down = replace(ends, mysql=replace(ends.mysql, port=1))  # nothing listens on port 1
    with pytest.raises(MySQLdb.OperationalError):
        reconcile_one(down, run_id, mapping, params)
    run, _, _ = finish_run(ends, run_id, tmp_path)
    (orders,) = run["tables"]
    assert orders["status"] == "error"
    assert "OperationalError" in orders["error"]
    assert run["status"] == "failed"


def test_an_unknown_parameter_is_refused() -> None:
    from mysql_pg_sync.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown reconcile parameter"):
        ReconcileParams.from_dict({"tables": "orders", "dryrun": True})


def test_state_schema_is_created_by_the_run(setup) -> None:
    ends, folder = setup
    start_run(ends, _params(folder), "test")
    with psycopg.connect(
        f"host={ends.postgres.host} port={ends.postgres.port} user={ends.postgres.user} "
        f"password={ends.postgres.password} dbname={ends.postgres.database}"
    ) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema='mps_sync'"
            )
        }
    assert {"reconcile_runs", "reconcile_tables", "reconcile_drift", "reconcile_repairs"} <= names


class StreamCatchesUp:
    """A waiter that, while "waiting", applies the change the stream was still carrying."""

    def __init__(self, pg: DatabaseEndpoint) -> None:
        self.pg = pg
        self.waited_for: list[str] = []

    def wait(self, table_name: str) -> str:
        self.waited_for.append(table_name)
        with pg_connect(self.pg, autocommit=True) as conn:
            conn.execute("UPDATE orders SET amount = amount - 0.01 WHERE id = 500")
        return "caught_up"


def test_rows_in_flight_are_rechecked_and_not_reported(setup) -> None:
    from mysql_pg_sync.reconcile import store
    from mysql_pg_sync.reconcile.model import table_from_mapping
    from mysql_pg_sync.reconcile.run import RunOptions, reconcile_table

    ends, folder = setup
    params = _params(folder, tables=("orders",))
    (mapping,) = selected_mappings(params)
    waiter = StreamCatchesUp(ends.postgres)
    with pg_connect(ends.postgres) as state:
        run_id = store.start_run(state, {}, "test")
        result = reconcile_table(
            table_from_mapping(mapping),
            ends.mysql,
            ends.postgres,
            state,
            run_id,
            RunOptions(),
            waiter,
        )
    assert waiter.waited_for == [mapping.name]
    assert sorted((d.key, d.drift) for d in result.diffs) == [
        (("17",), "missing"),
        (("5000",), "extra"),
    ]
    assert result.stats["in_flight"] == 1
    assert result.stats["suspects"] == 3
    assert result.as_dict()["recheck"] == "caught_up"


def test_the_cli_reports_drift_with_exit_status_3(setup, tmp_path, capsys, monkeypatch) -> None:
    from mysql_pg_sync.cli import main

    ends, folder = setup
    monkeypatch.setenv("MPS_MYSQL_DATABASE", ends.mysql.database)
    monkeypatch.setenv("MPS_PG_DATABASE", ends.postgres.database)
    status = main(
        [
            "reconcile",
            "--mappings",
            str(folder),
            "--tables",
            "orders",
            "--recheck-delay",
            "0",
            "--reports",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert status == 3
    assert ".orders: drift (missing 1, extra 1, different 1)" in out
    assert "reconcile-" in out


def test_max_repairs_limits_the_whole_run_not_each_table(setup, tmp_path: Path) -> None:
    """orders needs 3 repairs, tags 1: each fits a limit of 3, together they do not. The
    table that would take the run past the limit is refused as a whole, with the run's count."""
    ends, folder = setup
    run, _, _ = reconcile_all(
        ends,
        _params(folder, tables=("orders", "tags"), repair=True, dry_run=True, max_repairs=3),
        folder=tmp_path,
    )
    by_name = {t["table"].split(".")[1]: t for t in run["tables"]}
    assert by_name["orders"]["status"] == "drift"
    assert by_name["orders"]["repairs"] == {"dry_run": 3}
    assert by_name["tags"]["status"] == "repair_refused"
    assert by_name["tags"]["repairs"] == {"refused": 1}
    assert (
        f"1 repairs needed on top of the 3 repairs run {run['run_id']} already made or planned, "
        "more than max_repairs=3" in by_name["tags"]["repair_message"]
    )
    assert run["status"] == "drift"


class Killed(BaseException):
    """What a task timeout (AirflowTaskTimeout) or a SIGTERM looks like: not an Exception."""


class DiesWhileRepairing:
    """The stream applier, in a task that dies after (or before) its write committed and
    before the outcome was recorded."""

    def __init__(self, ends: Endpoints, mapping: Any, write: bool) -> None:
        from mysql_pg_sync.reconcile.service import stream_applier

        self.real, self.write = stream_applier(ends, mapping), write

    def apply_repairs(self, table: Any, write_to: Any, repairs: Any, **kw: Any) -> Any:
        if self.write:
            self.real.apply_repairs(table, write_to, repairs, **kw)
        raise Killed("the worker was killed")


def _repair_rows(ends: Endpoints, run_id: int) -> list[tuple[Any, ...]]:
    with pg_connect(ends.postgres) as conn:
        return conn.execute(
            "SELECT key, status, error FROM mps_sync.reconcile_repairs WHERE run_id = %s "
            "ORDER BY repair_id",
            (run_id,),
        ).fetchall()


@pytest.mark.parametrize("written", [True, False], ids=["died_after_write", "died_before"])
def test_a_retry_keeps_and_settles_the_repairs_of_the_attempt_that_died(
    setup, tmp_path: Path, written: bool
) -> None:
    ends, folder = setup
    params = _params(folder, tables=("orders",), repair=True, dry_run=False)
    (mapping,) = selected_mappings(params)
    run_id = start_run(ends, params, "test")
    with pytest.raises(Killed):
        reconcile_one(ends, run_id, mapping, params, DiesWhileRepairing(ends, mapping, written))
    assert {status for _, status, _ in _repair_rows(ends, run_id)} == {"planned"}

    retry = reconcile_one(ends, run_id, mapping, params)  # the task's retry: the real applier
    run, _, _ = finish_run(ends, run_id, tmp_path)

    (orders,) = run["tables"]
    # every repair the run made is in the report, though the retry found nothing left to do
    assert retry["status"] == orders["status"] == "repaired"
    assert orders["repairs"] == {"applied": 3}
    assert orders["drift"] == {"missing": 1, "extra": 1, "different": 1}
    assert run["status"] == "succeeded"
    rows = _repair_rows(ends, run_id)
    assert "planned" not in {status for _, status, _ in rows}
    if written:  # the first attempt's write committed: the retry finds the keys in sync
        assert len(rows) == 3
        assert {(status, "retry found the key in sync" in error) for _, status, error in rows} == {
            ("applied", True)
        }
    else:  # nothing was written: planned again, the first plan is a failed (interrupted) one
        assert sorted(status for _, status, _ in rows) == ["applied"] * 3 + ["failed"] * 3
        assert all("planned the repair again" in e for _, s, e in rows if s == "failed")
    with pg_connect(ends.postgres) as conn:
        stored = conn.execute(
            "SELECT status, drift_found, drift_repaired FROM mps_sync.reconcile_tables "
            "WHERE run_id = %s",
            (run_id,),
        ).fetchone()
        assert conn.execute("SELECT amount FROM orders WHERE id = 500").fetchone() == (
            Decimal("500.50"),
        )
    assert stored == ("repaired", 3, 3)


def test_a_table_stopped_by_a_base_exception_is_an_error_and_fails_the_run(setup, tmp_path):
    from mysql_pg_sync.reconcile import store
    from mysql_pg_sync.reconcile.model import table_from_mapping
    from mysql_pg_sync.reconcile.run import RunOptions, reconcile_table

    class TimesOut:
        def wait(self, table_name: str) -> str:
            raise Killed("Timeout, PID: 1234")  # as AirflowTaskTimeout, mid-table

    ends, folder = setup
    (mapping,) = selected_mappings(_params(folder, tables=("orders",)))
    with pg_connect(ends.postgres) as state:
        run_id = store.start_run(state, {}, "test")
        with pytest.raises(Killed):
            reconcile_table(
                table_from_mapping(mapping),
                ends.mysql,
                ends.postgres,
                state,
                run_id,
                RunOptions(),
                TimesOut(),
            )
        state.commit()
    run, _, _ = finish_run(ends, run_id, tmp_path)
    (orders,) = run["tables"]
    assert orders["status"] == "error"
    assert orders["error"] == "Killed: Timeout, PID: 1234"
    assert run["status"] == "failed"


def test_a_table_that_never_finished_fails_the_run_and_its_planned_repairs(setup, tmp_path) -> None:
    """A killed worker (or PostgreSQL gone) stores nothing more: the table stays 'running' and
    its repairs 'planned'."""
    from psycopg.types.json import Jsonb

    from mysql_pg_sync.reconcile import store

    ends, folder = setup
    params = _params(folder, tables=("orders",))
    (orders,) = selected_mappings(params)
    run_id = start_run(ends, params, "test")
    with pg_connect(ends.postgres) as conn:
        store.start_table(conn, run_id, orders.name, str(orders.target))
        conn.execute(
            "INSERT INTO mps_sync.reconcile_drift (run_id, source_table, key, drift) "
            "VALUES (%s, %s, %s, 'missing')",
            (run_id, orders.name, Jsonb([17])),
        )
        conn.execute(
            "INSERT INTO mps_sync.reconcile_repairs "
            "(run_id, source_table, key, action, write_to, decided_by, status) "
            "VALUES (%s, %s, %s, 'upsert', 'postgres', 'mysql', 'planned')",
            (run_id, orders.name, Jsonb([17])),
        )
        conn.commit()
    run, _, html_path = finish_run(ends, run_id, tmp_path)
    (table,) = run["tables"]
    assert table["status"] == "error"
    assert table["error"].startswith("did not finish: the task was killed")
    assert table["repairs"] == {"failed": 1}
    assert run["status"] == "failed"
    assert "did not finish" in html_path.read_text()
    ((status, error),) = [(s, e) for _, s, e in _repair_rows(ends, run_id)]
    assert status == "failed"
    assert error.startswith("interrupted: the task stopped")
    with pg_connect(ends.postgres) as conn:
        stored = conn.execute(
            "SELECT status FROM mps_sync.reconcile_runs WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert stored == ("failed",)


def test_a_table_whose_task_never_stored_anything_fails_the_run(setup, tmp_path) -> None:
    ends, folder = setup
    params = _params(folder, tables=("orders", "tags"))
    orders, tags = selected_mappings(params)
    run_id = start_run(ends, params, "test")
    reconcile_one(ends, run_id, orders, params)  # tags' task never reached PostgreSQL
    expected = [(m.name, str(m.target)) for m in (orders, tags)]
    run, _, _ = finish_run(ends, run_id, tmp_path, expected)
    by_name = {t["table"]: t for t in run["tables"]}
    assert by_name[orders.name]["status"] == "drift"
    assert by_name[tags.name]["status"] == "error"
    assert by_name[tags.name]["error"].startswith("never started")
    assert by_name[tags.name]["target"] == "public.tags"
    assert run["status"] == "failed"
