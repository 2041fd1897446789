"""Finalize against the real servers: one failed table does not hold the others back, foreign
keys wait for the replay (NOT VALID), a reload cannot empty a referenced parent on its own, and
secondary indexes get the names ``ddl`` plans."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.integration.test_backfill import make_backfill, mysql_admin_exec

from mysql_pg_sync import ddl
from mysql_pg_sync.backfill.runner import Backfill, BackfillError, RunOptions
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

OPTIONS = RunOptions(chunk_rows=1_000)
RELOAD = replace(OPTIONS, mode="reload")


def _mapping(db: str, table: str, columns: list[tuple[str, str]], **extra: Any) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": ["id"],
            "columns": [{"name": n, "column_type": t, "nullable": n != "id"} for n, t in columns],
            **extra,
        }
    )


def _table_states(pg_db: DatabaseEndpoint) -> dict[str, str]:
    with pg_connect(pg_db) as conn:
        rows = conn.execute("SELECT source_table, state FROM mps_sync.table_state").fetchall()
    return {str(r[0]).rsplit(".", 1)[-1]: str(r[1]) for r in rows}


def _finalize(bf: Backfill, tables: list[str]) -> list[dict[str, Any]]:
    return [bf.finalize(t) for t in tables]


def _copy(
    bf: Backfill,
    options: RunOptions,
    tables: list[str],
    *,
    prepare: list[str] | None = None,
    run_id: str = "run1",
) -> None:
    """plan (all tables), prepare (``tables`` unless told) and copy ``tables``; no finalize."""
    bf.start_run(run_id, options)
    outcome = bf.plan(options)
    bf.prepare_all(options, tables if prepare is None else prepare)
    for group in outcome.groups:
        for ref in group:
            if ref[0] in tables:
                bf.copy_chunk((ref[0], ref[1]), run_id, options.batch_rows)


# -- one bad table ---------------------------------------------------------------------------


def _bad_and_good_tables(
    mysql_admin: DatabaseEndpoint, db: str
) -> tuple[TableMapping, TableMapping]:
    """MySQL ``a``, whose chunk fails (a TIME PostgreSQL refuses), and ``b``, which loads; ``a``
    sorts first, so it is finalized first."""
    mysql_admin_exec(
        mysql_admin,
        db,
        "CREATE TABLE a (id int PRIMARY KEY, d time)",
        "INSERT INTO a VALUES (1, '10:00:00'), (2, '-05:00:00')",
        "CREATE TABLE b (id int PRIMARY KEY, v varchar(10))",
        "INSERT INTO b VALUES (1, 'x'), (2, 'y')",
    )
    return (
        _mapping(db, "a", [("id", "int(11)"), ("d", "time")]),
        _mapping(db, "b", [("id", "int(11)"), ("v", "varchar(10)")]),
    )


def test_a_failed_table_does_not_keep_the_others_from_streaming(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    a, b = _bad_and_good_tables(mysql_admin, mysql_db.database)
    bf = make_backfill(endpoints, mysql_db, pg_db, [a, b], tmp_path)
    bf.start_run("run1", OPTIONS)
    outcome = bf.plan(OPTIONS)
    bf.prepare_all(OPTIONS, [a.name, b.name])
    for group in outcome.groups:
        try:
            bf.copy_group(group, "run1", OPTIONS.batch_rows)
        except Exception:  # a's chunk fails; b's chunks are other groups
            pass

    finalized = bf.finalize_all([a.name, b.name])

    assert [r["table"] for r in finalized.results] == [b.name]
    assert [f["table"] for f in finalized.failures] == [a.name]
    assert "1 chunk(s) are not done" in finalized.failures[0]["error"]
    assert "ConversionError" in finalized.failures[0]["error"]  # the failed chunk's own error
    assert _table_states(pg_db) == {"a": "backfilling", "b": "streaming"}
    with pytest.raises(BackfillError, match=rf"(?s){a.name}: .*chunk.* not done.*mode=resume"):
        finalized.raise_for_failures()

    summary = bf.summarize("run1", [a.name, b.name])
    assert summary["tables"][b.name]["state"] == "streaming"
    assert summary["tables"][a.name]["state"] == "backfilling"
    assert list(summary["unfinished"]) == [a.name]
    assert "not done" in summary["unfinished"][a.name]
    assert a.name in Path(summary["report"]["html"]).read_text()

    # a retry of the step leaves the finished table alone and still names the failed one
    again = bf.finalize_all([a.name, b.name])
    assert again.results == [{"table": b.name, "skipped": "already finalized"}]
    assert [f["table"] for f in again.failures] == [a.name]


def test_the_cli_finalizes_the_other_tables_and_fails_naming_the_bad_one(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> None:
    """The CLI stopped at the first failed chunk group, so tables after it stayed paused."""
    a, b = _bad_and_good_tables(mysql_admin, mysql_db.database)
    db = mysql_db.database
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "t.yaml").write_text(
        json.dumps([m.model_dump(mode="json", exclude_defaults=True) for m in (a, b)])
    )
    env = {
        **os.environ,
        "MPS_MYSQL_DATABASE": db,
        "MPS_PG_DATABASE": pg_db.database,
        "MPS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    command = ["backfill", "run", "--mappings", str(folder), "--no-capture-check"]
    done = subprocess.run(
        [sys.executable, "-m", "mysql_pg_sync", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert re.search(rf"(?s){a.name}: .*not done.*mode=resume", done.stderr), done.stderr
    summary = json.loads(done.stdout)  # the report is still printed, naming each table's state
    assert list(summary["unfinished"]) == [a.name]
    assert _table_states(pg_db) == {"a": "backfilling", "b": "streaming"}


# -- foreign keys ----------------------------------------------------------------------------


@pytest.fixture
def parent_child(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
) -> tuple[Backfill, TableMapping, TableMapping]:
    """MySQL ``p`` and ``c`` (c.pid -> p.id), with a synced foreign key in the mapping."""
    db = mysql_db.database
    mysql_admin_exec(
        mysql_admin,
        db,
        "CREATE TABLE p (id int PRIMARY KEY, name varchar(10))",
        "CREATE TABLE c (id int PRIMARY KEY, pid int, "
        "CONSTRAINT fk_parent FOREIGN KEY (pid) REFERENCES p (id))",
        "INSERT INTO p SELECT seq, CONCAT('p', seq) FROM seq_1_to_20",
        "INSERT INTO c SELECT seq, seq % 20 + 1 FROM seq_1_to_50",
    )
    parent = _mapping(db, "p", [("id", "int(11)"), ("name", "varchar(10)")])
    child = _mapping(
        db,
        "c",
        [("id", "int(11)"), ("pid", "int(11)")],
        foreign_keys=[
            {
                "name": "fk_parent",
                "columns": ["pid"],
                "references": f"{db}.p",
                "referenced_columns": ["id"],
            }
        ],
    )
    return make_backfill(endpoints, mysql_db, pg_db, [parent, child], tmp_path), parent, child


def _fk_validated(pg_db: DatabaseEndpoint) -> bool | None:
    with pg_connect(pg_db) as conn:
        row = conn.execute(
            "SELECT convalidated FROM pg_constraint WHERE conname = 'c_fk_parent'"
        ).fetchone()
    return None if row is None else bool(row[0])


def test_a_child_copied_after_its_parent_gets_a_not_valid_foreign_key(
    parent_child: tuple[Backfill, TableMapping, TableMapping],
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bf, parent, child = parent_child
    _copy(bf, OPTIONS, [parent.name], prepare=[parent.name, child.name])  # the parent's copy ...
    # ... is done when the application adds a parent and its child: only the child's copy sees them
    mysql_admin_exec(
        mysql_admin,
        mysql_db.database,
        "INSERT INTO p VALUES (99, 'late')",
        "INSERT INTO c VALUES (99, 99)",
    )
    _copy(bf, replace(OPTIONS, mode="resume"), [child.name], run_id="run2")
    bf.finalize(parent.name)

    with caplog.at_level(logging.WARNING):
        result = bf.finalize(child.name)

    assert _table_states(pg_db)["c"] == "streaming"
    assert _fk_validated(pg_db) is False  # added, not validated
    (unvalidated,) = result["unvalidated_foreign_keys"]
    assert unvalidated["constraint"] == "c_fk_parent"
    assert "(pid)=(99)" in unvalidated["error"]
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert child.name in warning
    assert "c_fk_parent" in warning
    assert 'VALIDATE CONSTRAINT "c_fk_parent"' in warning
    summary = bf.summarize("run2", [parent.name, child.name])
    assert summary["unvalidated_foreign_keys"][child.name][0]["constraint"] == "c_fk_parent"

    # enforced for the applications' new writes although not validated
    violation = psycopg.errors.ForeignKeyViolation
    with pg_connect(pg_db, autocommit=True) as conn, pytest.raises(violation):
        conn.execute("INSERT INTO public.c VALUES (1000, 12345)")

    # the replay brings the parent; then the operator's statement from the report validates it
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("INSERT INTO public.p VALUES (99, 'late')")
        conn.execute(unvalidated["validate"])
    assert _fk_validated(pg_db) is True


def test_a_consistent_copy_gets_a_validated_foreign_key(
    parent_child: tuple[Backfill, TableMapping, TableMapping], pg_db: DatabaseEndpoint
) -> None:
    bf, parent, child = parent_child
    _copy(bf, OPTIONS, [parent.name, child.name])
    results = _finalize(bf, [parent.name, child.name])
    assert results[1]["unvalidated_foreign_keys"] == []
    assert _fk_validated(pg_db) is True


# -- reload of a referenced parent -----------------------------------------------------------


def test_reloading_a_referenced_parent_alone_is_refused_before_any_change(
    parent_child: tuple[Backfill, TableMapping, TableMapping], pg_db: DatabaseEndpoint
) -> None:
    bf, parent, child = parent_child
    _copy(bf, OPTIONS, [parent.name, child.name])
    _finalize(bf, [parent.name, child.name])
    assert _fk_validated(pg_db) is True

    # the plan refuses first: nothing is re-planned, the parent keeps streaming
    with pytest.raises(BackfillError) as err:
        bf.plan(replace(RELOAD, tables=(parent.name,)))
    message = str(err.value)
    assert "public.c references public.p" in message
    assert "c_fk_parent" in message
    assert child.name in message
    assert "same run" in message
    with pg_connect(pg_db) as conn:
        finalized = conn.execute(
            "SELECT finalized_at IS NOT NULL FROM mps_sync.backfill_tables WHERE source_table = %s",
            (parent.name,),
        ).fetchone()
    assert finalized == (True,)
    assert _table_states(pg_db) == {"p": "streaming", "c": "streaming"}

    # prepare refuses too when asked for the parent alone, and changes no state
    both = replace(RELOAD, tables=(parent.name, child.name))
    bf.plan(both)
    with pytest.raises(BackfillError, match="c_fk_parent"):
        bf.prepare(both, parent.name)
    assert _table_states(pg_db) == {"p": "streaming", "c": "streaming"}

    # parent and child reloaded in the same run: emptied together, copied, streaming again
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("INSERT INTO public.c VALUES (777, 1)")  # stale: not in MySQL
    _copy(bf, both, [parent.name, child.name], run_id="run3")
    _finalize(bf, [parent.name, child.name])
    assert _table_states(pg_db) == {"p": "streaming", "c": "streaming"}
    with pg_connect(pg_db) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM public.p), (SELECT count(*) FROM public.c)"
        ).fetchone()
    assert counts == (20, 50)
    assert _fk_validated(pg_db) is True


def test_a_failed_reload_prepare_leaves_the_table_streaming(
    parent_child: tuple[Backfill, TableMapping, TableMapping],
    pg_db: DatabaseEndpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bf, parent, child = parent_child
    _copy(bf, OPTIONS, [parent.name, child.name])
    _finalize(bf, [parent.name, child.name])
    both = replace(RELOAD, tables=(parent.name, child.name))
    bf.plan(both)

    from mysql_pg_sync.backfill import runner as runner_module

    def broken(conn: Any, mappings: Any, origins: Any = ()) -> None:
        raise psycopg.errors.LockNotAvailable("lock timeout")

    monkeypatch.setattr(runner_module, "truncate_targets", broken)
    with pytest.raises(psycopg.errors.LockNotAvailable):
        bf.prepare_all(both, [parent.name, child.name])
    assert _table_states(pg_db) == {"p": "streaming", "c": "streaming"}


# -- index names -----------------------------------------------------------------------------


def test_finalize_names_indexes_as_ddl_plans_them(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    db = mysql_db.database
    mysql_admin_exec(
        mysql_admin,
        db,
        "CREATE TABLE `user` (id int PRIMARY KEY, roles varchar(20), email varchar(40), "
        "KEY roles (roles), KEY email (email))",
        "INSERT INTO `user` VALUES (1, 'admin', 'a@x'), (2, 'dev', 'b@x')",
        "CREATE TABLE user_roles (id int PRIMARY KEY)",
        "INSERT INTO user_roles VALUES (1)",
    )
    user = _mapping(
        db,
        "user",
        [("id", "int(11)"), ("roles", "varchar(20)"), ("email", "varchar(40)")],
        indexes=[{"name": "roles", "columns": ["roles"]}, {"name": "email", "columns": ["email"]}],
    )
    user_roles = _mapping(db, "user_roles", [("id", "int(11)")])
    with pg_connect(pg_db, autocommit=True) as conn:
        # a table of the application's own, not synced: no mapping can know its name
        conn.execute("CREATE TABLE public.user_email (id int)")
    bf = make_backfill(endpoints, mysql_db, pg_db, [user, user_roles], tmp_path)
    _copy(bf, OPTIONS, [user.name, user_roles.name])

    with caplog.at_level(logging.WARNING):
        _finalize(bf, [user.name, user_roles.name])

    planned = ddl.index_names(bf.mappings)[("public", "user", "roles")]
    assert planned.startswith("user_roles_")  # the table user_roles took the plain name
    with pg_connect(pg_db) as conn:
        indexes = dict(
            conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'user'"
            ).fetchall()
        )
    assert planned in indexes
    assert "(roles)" in indexes[planned]
    # the collision with a relation no mapping knows is not silent
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "user_email" in warning
    assert user.name in warning
