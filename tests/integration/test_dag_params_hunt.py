"""The backfill DAG triggered with Param values its form takes, under ``dag.test()`` against the
stack's databases: what the run does with them must be what the form says.

- A bare name or a glob that selects only a table the backfill refuses (``enabled: false``) ran
  green, having planned and copied nothing (the refusal was a log warning).
- A chunk target far past any table's size passed the form and failed the plan with MySQL's
  syntax error on ``OFFSET`` (or an OverflowError for chunk_mb), naming no Param, after the
  task's retries.
- ``chunk_mb`` with ``chunk_rows`` left empty sizes the chunks alone: the mapping's
  ``backfill.chunk_rows`` is not used (the form said an empty chunk_rows used it).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint

REPO = Path(__file__).resolve().parents[2]
ROWS = 300


@pytest.fixture
def two_tables(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    use_airflow_connections: Any,
) -> Path:
    """``hunt_live`` (enabled, mapping chunk_rows 100) and ``hunt_old`` (``enabled: false``),
    ROWS rows each, in the test's own databases; returns the mapping file."""
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    cur = conn.cursor()
    for t in ("hunt_live", "hunt_old"):
        cur.execute(f"CREATE TABLE {t} (id int PRIMARY KEY, v varchar(200))")
        cur.executemany(f"INSERT INTO {t} VALUES (%s, %s)", [(i, "x" * 150) for i in range(ROWS)])
    conn.close()
    entries = [
        {
            "source": f"{mysql_db.database}.{t}",
            "target": f"public.{t}",
            "key": ["id"],
            "enabled": t == "hunt_live",
            "backfill": {"chunk_rows": 100},
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "v", "column_type": "varchar(200)"},
            ],
        }
        for t in ("hunt_live", "hunt_old")
    ]
    folder = tmp_path / "mappings"
    folder.mkdir()
    path = folder / "t.yaml"
    path.write_text(yaml.safe_dump({"tables": entries}))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_REPORTS_DIR", str(tmp_path / "reports"))
    use_airflow_connections(mysql_db, pg_db)
    return path


def _backfill_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)

    bag = DagBag(dag_folder=str(REPO / "dags" / "backfill.py"))
    assert bag.import_errors == {}
    return bag.dags["backfill"]


def _states(run: Any) -> dict[str, tuple[str, int]]:
    return {
        ti.task_id + ("" if ti.map_index < 0 else f"[{ti.map_index}]"): (ti.state, ti.try_number)
        for ti in run.get_task_instances()
    }


def _pg_tables(pg_db: DatabaseEndpoint) -> list[str]:
    with pg_connect(pg_db) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return sorted(r[0] for r in rows)


@pytest.mark.parametrize("name", ["hunt_old", "hunt_o*"])
def test_a_disabled_table_named_by_bare_name_or_glob_fails_the_plan_at_once(
    two_tables: Path, pg_db: DatabaseEndpoint, mysql_db: DatabaseEndpoint, name: str
) -> None:
    run = _backfill_dag().test(run_conf={"tables": [name], "require_capture": False})
    states = _states(run)
    assert run.state == "failed", states  # it was green, with nothing copied
    assert states["plan"] == ("failed", 1), states  # no retry: the Params stay wrong
    assert _pg_tables(pg_db) == []
    assert not (two_tables.parent.parent / "reports").exists()  # no run report: no plan


def test_the_refusal_names_the_table_and_why(two_tables: Path, mysql_db: DatabaseEndpoint) -> None:
    from mysql_pg_sync.airflow.dag_params import backfill_selection_problem
    from mysql_pg_sync.mapping.models import load_mappings

    problem = backfill_selection_problem(load_mappings(two_tables), ["hunt_old"])
    assert problem == (
        f"'hunt_old' selects no table the backfill can copy: {mysql_db.database}.hunt_old is "
        "refused (enabled: false in its mapping); nothing was planned or copied. Leave it out "
        "of the tables to copy (Param `tables`, CLI --tables), or fix its mapping first"
    )


def test_a_glob_over_a_copyable_and_a_disabled_table_copies_the_copyable_one(
    two_tables: Path, pg_db: DatabaseEndpoint
) -> None:
    run = _backfill_dag().test(run_conf={"tables": ["hunt_*"], "require_capture": False})
    states = _states(run)
    assert run.state == "success", states
    assert _pg_tables(pg_db) == ["hunt_live"]


@pytest.mark.parametrize(
    ("param", "value"), [("chunk_rows", 10**20), ("chunk_rows", 2**63), ("chunk_mb", 1e308)]
)
def test_a_huge_chunk_target_is_refused_when_the_run_is_created_naming_the_param(
    two_tables: Path, pg_db: DatabaseEndpoint, param: str, value: float
) -> None:
    from airflow.sdk.exceptions import ParamValidationError  # noqa: TID251  (a DAG test)

    with pytest.raises(ParamValidationError) as err:
        _backfill_dag().test(run_conf={param: value, "require_capture": False})
    assert param in str(err.value)
    assert _pg_tables(pg_db) == []


def test_the_largest_chunk_rows_the_form_takes_plans_one_chunk(
    two_tables: Path, pg_db: DatabaseEndpoint
) -> None:
    from mysql_pg_sync.airflow.dag_params import CHUNK_ROWS_MAX

    run = _backfill_dag().test(
        run_conf={"tables": ["hunt_live"], "chunk_rows": CHUNK_ROWS_MAX, "require_capture": False}
    )
    states = _states(run)
    assert run.state == "success", states
    assert len([k for k in states if k.startswith("copy")]) == 1
    with pg_connect(pg_db) as conn:
        assert conn.execute("SELECT count(*) FROM public.hunt_live").fetchone() == (ROWS,)
        (stored,) = conn.execute("SELECT chunk_rows FROM mps_sync.backfill_tables").fetchone()  # type: ignore[misc]
    assert stored == CHUNK_ROWS_MAX


def test_chunk_mb_with_chunk_rows_empty_does_not_use_the_mappings_chunk_rows(
    two_tables: Path, pg_db: DatabaseEndpoint
) -> None:
    """The mapping says 100 rows per chunk; a 1 MB target (rows of ~160 bytes: thousands of
    rows) makes the whole table one chunk, as the form's description now says."""
    run = _backfill_dag().test(
        run_conf={"tables": ["hunt_live"], "chunk_mb": 1, "require_capture": False}
    )
    states = _states(run)
    assert run.state == "success", states
    with pg_connect(pg_db) as conn:
        (stored,) = conn.execute("SELECT chunk_rows FROM mps_sync.backfill_tables").fetchone()  # type: ignore[misc]
    assert stored > 100  # not the mapping's backfill.chunk_rows
    assert len([k for k in states if k.startswith("copy")]) == 1


def test_the_form_shows_the_same_maxima_and_says_chunk_mb_replaces_the_row_target() -> None:
    from airflow.sdk.exceptions import ParamValidationError  # noqa: TID251  (a DAG test)

    from mysql_pg_sync.airflow.dag_params import CHUNK_MB_MAX, CHUNK_ROWS_MAX

    params = _backfill_dag().params
    rows, mb = params.get_param("chunk_rows"), params.get_param("chunk_mb")
    assert (rows.schema["maximum"], mb.schema["maximum"]) == (CHUNK_ROWS_MAX, CHUNK_MB_MAX)
    with pytest.raises(ParamValidationError):
        rows.resolve(CHUNK_ROWS_MAX + 1)
    with pytest.raises(ParamValidationError):
        mb.resolve(1e308)
    assert rows.resolve(None) is None
    # plan: `options.chunk_rows or (None if options.chunk_mb else mapping.backfill.chunk_rows)`
    assert "unless chunk_mb is set" in rows.description
    assert "megabytes, not rows" in mb.description


@pytest.mark.parametrize(
    ("dag_id", "conf"),
    [
        ("backfill", {"dry_run": "false"}),  # bool("false") is True: must never reach the task
        ("reconcile", {"repair": "false"}),
        ("reconcile", {"max_repairs": "0"}),
        ("stream", {"minutes": 0}),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_before_the_run_exists(
    dag_id: str, conf: dict[str, Any]
) -> None:
    """Airflow checks a run's conf against the Params' schemas when it creates the run (the UI,
    the REST API, `airflow dags trigger --conf` and dag.test alike), so the tasks never meet a
    string where a boolean or an integer belongs."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: TID251  (a DAG test)
    from airflow.sdk.exceptions import ParamValidationError  # noqa: TID251

    dag = DagBag(dag_folder=str(REPO / "dags" / f"{dag_id}.py")).dags[dag_id]
    with pytest.raises(ParamValidationError) as err:
        dag.test(run_conf=conf)
    assert next(iter(conf)) in str(err.value)
