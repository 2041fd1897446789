"""A reconcile run that cannot reach a database, or is stopped half-way, against the real
servers: the run ends ``failed`` (never ``running``), each table says why, and the CLI prints
one ``error:`` line instead of a driver traceback."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import DatabaseUnreachable, mysql_connect, pg_connect
from mysql_pg_sync.reconcile import service
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
