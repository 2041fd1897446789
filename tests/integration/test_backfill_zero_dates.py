"""Zero dates against the real MariaDB and PostgreSQL, on both readers: a partial zero date
('2020-00-15') is a conversion error naming table, key, column and value (or a rejected row),
not a silent NULL; a zero date in a key column fails its own chunk with the fix, through the
CLI's worker processes, and the other tables of its copy task are still copied."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_backfill import make_backfill, mapping_for, mysql_admin_exec, run_all

from mysql_pg_sync.backfill import readers
from mysql_pg_sync.backfill import runner as runner_module
from mysql_pg_sync.backfill.runner import ChunksNotDone, RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConversionError
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

LAX = "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'"  # no NO_ZERO_IN_DATE, no NO_ZERO_DATE
DATES = [("id", "int(11)", False), ("d", "date", True), ("dt", "datetime(3)", True)]
KEYED = [("k", "datetime(3)", False), ("v", "int(11)", True)]
OTHER = [("id", "int(11)", False), ("v", "int(11)", True)]


@pytest.fixture(params=[readers.FAST, readers.FALLBACK])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(readers.READER_ENV, request.param)
    return str(request.param)


@pytest.fixture
def dates(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE z (id int PRIMARY KEY, d date NULL, dt datetime(3) NULL)",
        "INSERT INTO z VALUES (1, '2020-01-02', '2020-01-02 03:04:05.500'), "
        "(2, '2020-00-15', NULL), (3, NULL, '2021-00-00 10:00:00'), "
        "(4, '0000-00-00', '0000-00-00 00:00:00'), (5, '2020-05-00', '2020-05-01 00:00:00')",
    )
    return mysql_db


def _rows(pg_db: DatabaseEndpoint, sql: str) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db) as conn:
        return conn.execute(sql).fetchall()


def test_a_partial_zero_date_fails_naming_table_key_column_value_and_fix(
    endpoints: Endpoints,
    dates: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    mapping = mapping_for(dates.database, "z", DATES, ("id",))
    bf = make_backfill(endpoints, dates, pg_db, [mapping], tmp_path)
    with pytest.raises(ConversionError) as failed:
        run_all(bf, RunOptions())
    message = str(failed.value)
    assert f"{dates.database}.z" in message
    assert "key {'id': 2}" in message
    assert "column 'd'" in message
    assert "'2020-00-15'" in message
    assert "zero month or day" in message
    assert "clean the row in MySQL" in message
    assert "pg_type: text" in message
    assert _rows(pg_db, "SELECT count(*) FROM public.z") == [(0,)]


def test_partial_zero_dates_are_rejected_and_the_zero_date_stays_null(
    endpoints: Endpoints,
    dates: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    mapping = mapping_for(dates.database, "z", DATES, ("id",), backfill={"on_bad_value": "reject"})
    bf = make_backfill(endpoints, dates, pg_db, [mapping], tmp_path)
    summary = run_all(bf, RunOptions(strict_counts=True))
    assert _rows(pg_db, "SELECT id, d, dt FROM public.z ORDER BY id") == [
        (1, dt.date(2020, 1, 2), dt.datetime(2020, 1, 2, 3, 4, 5, 500000)),
        (4, None, None),  # MySQL's zero date: values.zero_dates: null
    ]
    rejects = _rows(
        pg_db,
        "SELECT (key->>'id')::int, column_name, value, error FROM mps_sync.backfill_rejects "
        "ORDER BY 1",
    )
    assert [r[:3] for r in rejects] == [
        (2, "d", repr("2020-00-15")),
        (3, "dt", repr("2021-00-00 10:00:00.000")),
        (5, "d", repr("2020-05-00")),
    ]
    assert all("zero month or day" in r[3] for r in rejects)
    assert summary["tables"][mapping.name]["rejected"] == 3


@pytest.fixture
def zero_key(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    """``k``: a DATETIME key holding MySQL's zero date; ``o``: an innocent table."""
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        LAX,
        "CREATE TABLE k (k datetime(3) PRIMARY KEY, v int)",
        "INSERT INTO k VALUES ('0000-00-00 00:00:00', 4), ('2020-01-01 00:00:00', 5)",
        "CREATE TABLE o (id int PRIMARY KEY, v int)",
        "INSERT INTO o VALUES (1, 10), (2, 20)",
    )
    return mysql_db


def _cli_backfill(
    mysql_db: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path, *mappings: Any
) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "mappings"
    folder.mkdir(exist_ok=True)
    (folder / "t.yaml").write_text(
        json.dumps([m.model_dump(mode="json", exclude_defaults=True) for m in mappings])
    )
    env = {
        **os.environ,
        "MPS_MYSQL_DATABASE": mysql_db.database,
        "MPS_PG_DATABASE": pg_db.database,
        "MPS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    command = ["backfill", "run", "--mappings", str(folder), "--no-capture-check"]
    return subprocess.run(
        [sys.executable, "-m", "mysql_pg_sync", *command, "--max-parallel", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _states(pg_db: DatabaseEndpoint) -> dict[str, str]:
    rows = _rows(pg_db, "SELECT source_table, state FROM mps_sync.table_state")
    return {str(r[0]).rsplit(".", 1)[-1]: str(r[1]) for r in rows}


def test_a_zero_date_key_fails_its_own_chunk_in_the_cli_and_spares_its_task(
    zero_key: DatabaseEndpoint, pg_db: DatabaseEndpoint, tmp_path: Path, reader: str
) -> None:
    db = zero_key.database
    keyed, other = mapping_for(db, "k", KEYED, ("k",)), mapping_for(db, "o", OTHER, ("id",))
    done = _cli_backfill(zero_key, pg_db, tmp_path, keyed, other)
    assert done.returncode != 0
    assert "terminated abruptly" not in done.stderr, done.stderr
    assert "null value in column" not in done.stderr, done.stderr
    summary = json.loads(done.stdout)
    assert list(summary["unfinished"]) == [keyed.name]
    why = summary["unfinished"][keyed.name]
    assert "key {'k': '0000-00-00 00:00:00.000'}" in why
    assert "column 'k'" in why
    assert "MySQL's zero date" in why
    assert "clean the row in MySQL" in why
    assert _states(pg_db) == {"k": "backfilling", "o": "streaming"}
    assert _rows(pg_db, "SELECT id, v FROM public.o ORDER BY id") == [(1, 10), (2, 20)]


def test_a_zero_date_key_is_rejected_or_kept_as_the_sentinel(
    endpoints: Endpoints,
    zero_key: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    db = zero_key.database
    rejecting = mapping_for(db, "k", KEYED, ("k",), backfill={"on_bad_value": "reject"})
    bf = make_backfill(endpoints, zero_key, pg_db, [rejecting], tmp_path)
    run_all(bf, RunOptions(strict_counts=True))
    assert _rows(pg_db, "SELECT k, v FROM public.k") == [(dt.datetime(2020, 1, 1), 5)]
    (reject,) = _rows(pg_db, "SELECT key->>'k', column_name, error FROM mps_sync.backfill_rejects")
    assert reject[:2] == ("0000-00-00 00:00:00.000", "k")
    assert "MySQL's zero date" in reject[2]

    # values.zero_dates: sentinel applies to key columns too: the key row is kept
    sentinel = mapping_for(
        db,
        "k",
        KEYED,
        ("k",),
        values={"zero_dates": "sentinel", "zero_date_sentinel": "0001-01-01"},
    )
    bf = make_backfill(endpoints, zero_key, pg_db, [sentinel], tmp_path)
    run_all(bf, RunOptions(mode="reload", strict_counts=True), run_id="run2")
    assert _rows(pg_db, "SELECT k, v FROM public.k ORDER BY k") == [
        (dt.datetime(1, 1, 1), 4),
        (dt.datetime(2020, 1, 1), 5),
    ]


def test_a_task_that_stops_names_the_cause_on_the_chunks_it_did_not_reach(
    endpoints: Endpoints,
    zero_key: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A failure that ends a copy task early (a server gone) left the task's other chunks with
    no cause ("not done ({'planned': 1})"), or with an earlier run's error after a resume."""
    db = zero_key.database
    keyed, other = mapping_for(db, "k", KEYED, ("k",)), mapping_for(db, "o", OTHER, ("id",))
    bf = make_backfill(endpoints, zero_key, pg_db, [keyed, other], tmp_path)
    options = RunOptions()
    bf.start_run("run1", options)
    bf.plan(options)
    bf.prepare_all(options, [keyed.name, other.name])
    with pg_connect(pg_db, autocommit=True) as conn:  # an earlier run's error, fixed since
        conn.execute(
            "UPDATE mps_sync.backfill_chunks SET state = 'failed', error = 'old: JSON holds' "
            "WHERE source_table = %s",
            (other.name,),
        )
    real = runner_module.convert_batch

    def server_gone(mapping: Any, batch: Any, *args: Any) -> Any:
        if mapping.name == keyed.name:
            raise RuntimeError("server closed the connection")
        return real(mapping, batch, *args)

    monkeypatch.setattr(runner_module, "convert_batch", server_gone)
    with pytest.raises(RuntimeError, match="server closed"):
        bf.copy_group([(keyed.name, 0), (other.name, 0)], "run2", options.batch_rows)
    with pytest.raises(ChunksNotDone) as not_done:
        bf.finalize(other.name)
    message = str(not_done.value)
    assert "old: JSON holds" not in message
    assert f"not copied by run run2: its copy task stopped at {keyed.name} #0" in message
    assert "server closed the connection" in message


def test_a_date_column_mapped_to_text_keeps_partial_zero_dates(
    endpoints: Endpoints,
    dates: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    reader: str,
) -> None:
    """The fix the error names: the fallback reader read such a date as None before."""
    columns = [{"name": "id", "column_type": "int(11)", "nullable": False}] + [
        {"name": n, "column_type": t, "pg_type": "text", "converter": "text"}
        for n, t, _ in DATES[1:]
    ]
    mapping = TableMapping.model_validate(
        {"source": f"{dates.database}.z", "target": "public.z", "key": ["id"], "columns": columns}
    )
    run_all(make_backfill(endpoints, dates, pg_db, [mapping], tmp_path), RunOptions())
    rows = dict(_rows(pg_db, "SELECT id, d FROM public.z ORDER BY id"))
    assert (rows[2], rows[5]) == ("2020-00-15", "2020-05-00")
