"""A reconcile run that cannot reach a database, or is stopped half-way, against the real
servers: the run ends ``failed`` (never ``running``), each table says why, and the CLI prints
one ``error:`` line instead of a driver traceback."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import DatabaseUnreachable, mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.reconcile import service, store
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

TABLES = ("orders", "order_items", "products")
CLOSED_PORT = 3999  # nothing of the stack listens there


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
        for table in TABLES:
            cur.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, note varchar(20))")
            cur.executemany(
                f"INSERT INTO {table} VALUES (%s, %s)", [(i, f"n{i}") for i in range(1, 51)]
            )
    with pg_connect(pg_db, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"CREATE TABLE {table} (id integer PRIMARY KEY, note varchar(20))")  # type: ignore[arg-type]
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} VALUES (%s, %s)",  # type: ignore[arg-type]
                    [(i, f"n{i}") for i in range(1, 51)],
                )
    folder = tmp_path / "mappings"
    folder.mkdir()
    entries = [
        {
            "source": f"{mysql_db.database}.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "direction": "mysql_to_pg",
            "columns": [
                {"name": "id", "column_type": "int", "nullable": False},
                {"name": "note", "column_type": "varchar(20)", "nullable": True},
            ],
        }
        for table in TABLES
    ]
    (folder / "tables.yaml").write_text(yaml.safe_dump(entries))
    return replace(endpoints, mysql=mysql_db, postgres=pg_db), folder


def _params(folder: Path, **kw: Any) -> ReconcileParams:
    return ReconcileParams(mappings=str(folder), recheck_delay_s=0, **kw)


def _stored(pg: DatabaseEndpoint) -> tuple[list[str], dict[str, tuple[str, str | None]]]:
    """Every run's status, and the latest run's tables as {table: (status, error)}."""
    with pg_connect(pg) as conn:
        runs = conn.execute("SELECT run_id, status FROM mps_sync.reconcile_runs ORDER BY 1")
        rows = runs.fetchall()
        tables = conn.execute(
            "SELECT source_table, status, error FROM mps_sync.reconcile_tables WHERE run_id = %s",
            (rows[-1][0],),
        ).fetchall()
    return [r[1] for r in rows], {t.split(".")[1]: (s, e) for t, s, e in tables}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"port": CLOSED_PORT}, f"cannot connect to MySQL at 127.0.0.1:{CLOSED_PORT}"),
        ({"password": "wrong"}, "(1045) Access denied"),
    ],
)
def test_an_unreachable_mysql_makes_each_table_an_error_and_the_run_failed(
    setup: tuple[Endpoints, Path], tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    ends, folder = setup
    broken = replace(ends, mysql=replace(ends.mysql, **change))
    run, json_path, html_path = reconcile_all(
        broken, _params(folder, tables=("order*",)), folder=tmp_path / "reports"
    )
    assert run["status"] == "failed"
    assert sorted(t["table"].split(".")[1] for t in run["tables"]) == ["order_items", "orders"]
    for table in run["tables"]:
        assert table["status"] == "error"
        assert expected in table["error"]
        assert "MPS_MYSQL_HOST, MPS_MYSQL_PORT" in table["error"]
    assert json_path.exists()
    assert html_path.exists()
    runs, stored = _stored(ends.postgres)
    assert runs == ["failed"]
    assert {s for s, _ in stored.values()} == {"error"}


def test_an_unreachable_postgresql_raises_one_clear_error(
    setup: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    ends, folder = setup
    broken = replace(ends, postgres=replace(ends.postgres, port=CLOSED_PORT))
    with pytest.raises(DatabaseUnreachable) as err:
        reconcile_all(broken, _params(folder), folder=tmp_path / "reports")
    message = str(err.value)
    assert message.startswith(f"cannot connect to PostgreSQL at 127.0.0.1:{CLOSED_PORT}")
    assert "MPS_PG_PORT" in message
    assert "\n" not in message


def _failing_at_orders(monkeypatch: pytest.MonkeyPatch, stop: BaseException) -> None:
    real = service.reconcile_one

    def stopping(endpoints: Endpoints, run_id: int, mapping: Any, *rest: Any) -> Any:
        if mapping.name.endswith(".orders"):  # the second in backfill order
            raise stop
        return real(endpoints, run_id, mapping, *rest)

    monkeypatch.setattr(service, "reconcile_one", stopping)


def test_a_table_s_unexpected_error_is_its_own_and_the_run_goes_on(
    setup: tuple[Endpoints, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ends, folder = setup
    _failing_at_orders(monkeypatch, TypeError("'<' not supported"))
    run, json_path, _ = reconcile_all(ends, _params(folder), folder=tmp_path / "reports")
    assert run["status"] == "failed"
    runs, stored = _stored(ends.postgres)
    assert runs == ["failed"]
    assert stored["order_items"] == ("in_sync", None)
    assert stored["products"] == ("in_sync", None)  # compared after the failed table
    status, error = stored["orders"]
    assert status == "error"
    assert error is not None
    assert error.startswith("unexpected error TypeError: '<' not supported; the run went on")
    assert "traceback from the log" in error
    assert json_path.exists()


def test_a_run_stopped_half_way_ends_failed_with_the_reason(
    setup: tuple[Endpoints, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ends, folder = setup
    stop = KeyboardInterrupt()
    _failing_at_orders(monkeypatch, stop)
    with pytest.raises(type(stop)):
        reconcile_all(ends, _params(folder), folder=tmp_path / "reports")
    runs, stored = _stored(ends.postgres)
    assert runs == ["failed"]
    assert stored["order_items"] == ("in_sync", None)  # compared before the stop: kept
    for table in ("orders", "products"):
        status, error = stored[table]
        assert status == "error"
        assert error is not None
        assert error.startswith("not compared: the run stopped at ")
        assert f"stopped at {ends.mysql.database}.orders ({type(stop).__name__}" in error
    assert list((tmp_path / "reports").glob("reconcile-*.html"))


def _cli(
    monkeypatch: pytest.MonkeyPatch, ends: Endpoints, tmp_path: Path, *argv: str, **env: str
) -> int:
    settings = {
        "MPS_MYSQL_DATABASE": ends.mysql.database,
        "MPS_PG_DATABASE": ends.postgres.database,
        "MPS_REPORTS_DIR": str(tmp_path / "reports"),
        **env,
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    return main(["reconcile", *argv])


def test_cli_takes_globs_like_backfill(
    setup: tuple[Endpoints, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ends, folder = setup
    code = _cli(
        monkeypatch, ends, tmp_path, "--mappings", str(folder), "--tables", "order*",
        "--recheck-delay", "0",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert f"{ends.mysql.database}.orders: in_sync" in out
    assert f"{ends.mysql.database}.order_items: in_sync" in out
    assert "products" not in out

    code = _cli(
        monkeypatch, ends, tmp_path, "--mappings", str(folder), "--tables", "orders",
        "--recheck-delay", "0", "--no-dry-run",
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err.startswith(
        "warning: --no-dry-run does nothing without --repair: this run only reports drift"
    )

    assert _cli(monkeypatch, ends, tmp_path, "--mappings", str(folder), "--tables", "x*") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no mapping matches 'x*'; known: ")


def test_cli_prints_one_error_line_when_postgresql_is_unreachable(
    setup: tuple[Endpoints, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ends, folder = setup
    code = _cli(
        monkeypatch, ends, tmp_path, "--mappings", str(folder), MPS_PG_PORT=str(CLOSED_PORT)
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith(f"error: cannot connect to PostgreSQL at 127.0.0.1:{CLOSED_PORT}")
    assert "MPS_PG_PORT" in err
    assert "Traceback" not in err


def test_cli_reports_an_unreachable_mysql_per_table(
    setup: tuple[Endpoints, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ends, folder = setup
    code = _cli(
        monkeypatch, ends, tmp_path, "--mappings", str(folder), MPS_MYSQL_PORT=str(CLOSED_PORT)
    )
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.out.splitlines()
    for table in TABLES:
        line = next(x for x in lines if x.startswith(f"{ends.mysql.database}.{table}: "))
        assert ": error (missing 0, extra 0, different 0) cannot connect to MySQL at " in line
        assert f"127.0.0.1:{CLOSED_PORT}" in line
    assert any(x.startswith("run ") and x.endswith(": failed") for x in lines)
    assert "Traceback" not in captured.err
    assert _stored(ends.postgres)[0] == ["failed"]


# ------------------------------------------------------------------ runs left 'running'


def _runs(pg: DatabaseEndpoint) -> dict[int, tuple[str, str | None]]:
    """{run_id: (status, report_html)} of every run."""
    with pg_connect(pg) as conn:
        rows = conn.execute("SELECT run_id, status, report_html FROM mps_sync.reconcile_runs")
        return {r[0]: (r[1], r[2]) for r in rows.fetchall()}


def _tables(pg: DatabaseEndpoint, run_id: int) -> dict[str, tuple[str, str | None]]:
    with pg_connect(pg) as conn:
        rows = conn.execute(
            "SELECT source_table, status, error FROM mps_sync.reconcile_tables WHERE run_id = %s",
            (run_id,),
        ).fetchall()
    return {t.split(".")[1]: (s, e) for t, s, e in rows}


def _postgres_gone(pg_admin: DatabaseEndpoint, database: str, gone: bool) -> None:
    """PostgreSQL lost for the run, without stopping the shared server: the test's own database
    takes no new sessions and its sync sessions are cut (or it takes sessions again)."""
    with pg_connect(replace(pg_admin, database="postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS {str(not gone).lower()}')  # type: ignore[arg-type]
        if gone:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


def test_a_run_that_lost_postgresql_mid_run_is_ended_by_the_next_run(
    setup: tuple[Endpoints, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_admin: DatabaseEndpoint,
) -> None:
    """PostgreSQL, which holds the run's state, goes away while the second table is compared:
    nothing can mark the run failed then. The next run finds nobody guarding it and ends it
    as failed, the table it was comparing with the reason, its report written."""
    ends, folder = setup
    real = service.reconcile_one

    def losing_postgres(endpoints: Endpoints, run_id: int, mapping: Any, *rest: Any) -> Any:
        if mapping.name.endswith(".orders"):
            real_start = service.store.start_table

            def start_then_lose(*args: Any) -> None:
                real_start(*args)  # the table is 'running' in the state schema
                _postgres_gone(pg_admin, ends.postgres.database, True)

            monkeypatch.setattr(service.store, "start_table", start_then_lose)
        return real(endpoints, run_id, mapping, *rest)

    monkeypatch.setattr(service, "reconcile_one", losing_postgres)
    try:
        with pytest.raises(DatabaseUnreachable):
            reconcile_all(ends, _params(folder), folder=tmp_path / "reports")
    finally:
        _postgres_gone(pg_admin, ends.postgres.database, False)
    monkeypatch.undo()
    (lost_run, (status, _)), *_ = _runs(ends.postgres).items()
    assert status == "running"  # nothing could reach PostgreSQL to say otherwise
    assert _tables(ends.postgres, lost_run)["orders"][0] == "running"

    later, _, _ = reconcile_all(ends, _params(folder), folder=tmp_path / "reports")
    assert later["status"] == "succeeded"  # not confused by the lost run
    assert {t["status"] for t in later["tables"]} == {"in_sync"}
    runs = _runs(ends.postgres)
    assert runs[later["run_id"]][0] == "succeeded"
    status, report_html = runs[lost_run]
    assert status == "failed"
    tables = _tables(ends.postgres, lost_run)
    assert tables["order_items"] == ("in_sync", None)  # compared before PostgreSQL went
    orders_status, orders_error = tables["orders"]
    assert orders_status == "error"
    assert orders_error is not None
    assert orders_error.startswith("abandoned: the process running it stopped")
    assert "lost PostgreSQL" in orders_error
    assert report_html is not None
    assert "abandoned: the process running it stopped" in Path(report_html).read_text()


_KILLED_AT_ORDERS = """
import os, signal, sys
from pathlib import Path
from mysql_pg_sync.reconcile import run, service
from mysql_pg_sync.settings import endpoints_from_env

real = run.compare_table
def killed(source, *args):
    if source.mysql.table.name.endswith(".orders"):
        os.kill(os.getpid(), signal.SIGKILL)  # no handler runs, nothing is stored
    return real(source, *args)
run.compare_table = killed
service.reconcile_all(
    endpoints_from_env(),
    service.ReconcileParams(mappings=sys.argv[1], recheck_delay_s=0),
    folder=Path(sys.argv[2]),
)
"""


def test_a_killed_run_is_ended_as_failed_by_the_next_run_and_a_live_one_is_not(
    setup: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    ends, folder = setup
    env = {
        **os.environ,
        "MPS_MYSQL_DATABASE": ends.mysql.database,
        "MPS_PG_DATABASE": ends.postgres.database,
    }
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_ORDERS, str(folder), str(tmp_path / "reports")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    (killed_run, (status, _)), *_ = _runs(ends.postgres).items()
    assert status == "running"
    assert _tables(ends.postgres, killed_run)["orders"][0] == "running"

    later, _, _ = reconcile_all(ends, _params(folder), folder=tmp_path / "reports")
    assert later["status"] == "succeeded"
    # the killed run was ended, with the reason on the table it was comparing
    assert _runs(ends.postgres)[killed_run][0] == "failed"
    status, error = _tables(ends.postgres, killed_run)["orders"]
    assert status == "error"
    assert error is not None
    assert error.startswith("abandoned: the process running it stopped (killed")
    assert "reconcile this table again" in error

    # a run whose process is alive (it guards the run) is left alone by a later run
    live = service.RunGuard(ends)
    try:
        live_run = live.start(_params(folder), "cli", tmp_path / "reports")
        reconcile_all(ends, _params(folder, tables=("orders",)), folder=tmp_path / "reports")
        assert _runs(ends.postgres)[live_run][0] == "running"
    finally:
        live.close()
    # its process gone (the guard's session closed), the next run ends it too
    reconcile_all(ends, _params(folder, tables=("orders",)), folder=tmp_path / "reports")
    assert _runs(ends.postgres)[live_run][0] == "failed"


def test_a_task_of_a_run_closed_as_abandoned_does_nothing(
    setup: tuple[Endpoints, Path], tmp_path: Path
) -> None:
    """A DAG run's compare tasks waited hours for a pool slot; a later run closed it as
    abandoned. When they ran they compared, repaired and re-reported into the closed run."""
    ends, folder = setup
    run_id = service.start_run(ends, _params(folder), "dag run")
    with pg_connect(ends.postgres, autocommit=True) as conn:
        assert store.close_abandoned_runs(conn, stale_after=dt.timedelta(0))  # nobody guards it
    assert _runs(ends.postgres)[run_id][0] == "failed"
    mapping = load_mappings(folder).tables[0]
    with pytest.raises(service.RunAbandoned, match=f"reconcile run {run_id} was ended"):
        service.reconcile_one(ends, run_id, mapping, _params(folder))
    with pytest.raises(service.RunAbandoned, match="Nothing was done"):
        service.finish_run(ends, run_id, tmp_path)
    assert _runs(ends.postgres)[run_id][0] == "failed"
    assert _tables(ends.postgres, run_id) == {}
