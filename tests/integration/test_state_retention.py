"""The sync's own history is pruned past its retention and nothing else is: open dead letters,
unfinished stream runs and each table's latest quality run stay (real PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.state.retention import Retention, prune
from mysql_pg_sync.state.schema import ensure_schema

pytestmark = pytest.mark.integration

AGO = "now() - make_interval(days => %s)"


@pytest.fixture
def history(pg_db: DatabaseEndpoint) -> Iterator[psycopg.Connection[Any]]:
    with pg_connect(pg_db, autocommit=True) as conn:
        ensure_schema(conn)
        # 3: a delete 40 days old the stream recorded just now (it had stopped): kept
        for key, deleted, recorded in (("1", 40, 40), ("2", 1, 1), ("3", 40, 0)):
            conn.execute(
                "INSERT INTO mps_sync.tombstones (source_table, key, side, deleted_at,"
                f" recorded_at) VALUES ('db.t', jsonb_build_array(%s::text), 'mysql', {AGO},"
                f" {AGO})",
                (key, deleted, recorded),
            )
        for run, started, finished in (("old", 40, 40), ("new", 1, 1), ("stuck", 40, None)):
            conn.execute(
                "INSERT INTO mps_sync.stream_runs (run_id, started_at, finished_at)"
                f" VALUES (%s, {AGO}, CASE WHEN %s::int IS NULL THEN NULL ELSE {AGO} END)",
                (run, started, finished, finished),
            )
        for days in (100, 2):
            conn.execute(
                "INSERT INTO mps_sync.conflicts (decided_at, source_table, target_table, key,"
                " incoming_side, winner, rule, kind)"
                f" VALUES ({AGO}, 'db.t', 'public.t', '[1]', 'mysql', 'mysql', 'mysql_wins',"
                " 'update_update')",
                (days,),
            )
        for error, recorded, resolved in (("old fixed", 100, 100), ("old open", 100, None),
                                          ("new fixed", 2, 2)):  # fmt: skip
            conn.execute(
                "INSERT INTO mps_sync.dead_letters (recorded_at, source_table, error_class,"
                f" error, dead_letter_topic, resolved_at) VALUES ({AGO}, 'db.t', 'X', %s,"
                f" 'dlq', CASE WHEN %s::int IS NULL THEN NULL ELSE {AGO} END)",
                (recorded, error, resolved, resolved),
            )
        # t2's latest run is the oldest: it stays; t1's old runs go
        for run, days, tables in (("a", 100, ("t1", "t2")), ("b", 95, ("t1",)), ("c", 1, ("t1",))):
            conn.execute(
                "INSERT INTO mps_sync.dq_runs (run_id, started_at, finished_at, success, checks,"
                f" failed_fail, failed_warn, skipped) VALUES (%s, {AGO}, {AGO}, true, 1, 0, 0, 0)",
                (run, days, days),
            )
            for table in tables:
                conn.execute(
                    "INSERT INTO mps_sync.dq_results (run_id, source_table, check_id,"
                    " check_name, severity, outcome, expectation)"
                    " VALUES (%s, %s, 'key_unique', 'key_unique', 'fail', 'passed', 'x')",
                    (run, table),
                )
        yield conn


def _left(conn: psycopg.Connection[Any]) -> dict[str, list[Any]]:
    def column(sql: str) -> list[Any]:
        return sorted(r[0] for r in conn.execute(sql).fetchall())

    return {
        "tombstones": column("SELECT key->>0 FROM mps_sync.tombstones"),
        "stream_runs": column("SELECT run_id FROM mps_sync.stream_runs"),
        "conflicts": column(
            "SELECT extract(day FROM now() - decided_at)::int FROM mps_sync.conflicts"
        ),
        "dead_letters": column("SELECT error FROM mps_sync.dead_letters"),
        "dq_runs": column("SELECT run_id FROM mps_sync.dq_runs"),
        "dq_results": column("SELECT run_id || ':' || source_table FROM mps_sync.dq_results"),
    }


def test_history_past_its_retention_is_pruned_and_nothing_else(history: Any) -> None:
    before = _left(history)
    counted = prune(history, Retention(), dry_run=True)
    assert _left(history) == before  # a dry run deletes nothing
    pruned = prune(history, Retention(), batch_rows=1)  # batches of one: the loop ends
    assert (
        counted
        == pruned
        == {
            "mps_sync.tombstones": 1,
            "mps_sync.stream_runs": 2,
            "mps_sync.conflicts": 1,
            "mps_sync.dead_letters": 1,
            "mps_sync.dq_runs": 1,
        }
    )
    assert _left(history) == {
        "tombstones": ["2", "3"],
        "stream_runs": ["new"],  # a killed run counts from its last sign of life
        "conflicts": [2],
        "dead_letters": ["new fixed", "old open"],  # an open letter waits for its recovery
        "dq_runs": ["a", "c"],  # a: t2's latest run
        "dq_results": ["a:t1", "a:t2", "c:t1"],
    }
    assert prune(history, Retention()) == dict.fromkeys(pruned, 0)


def test_the_cli_counts_then_prunes(
    history: Any, pg_db: DatabaseEndpoint, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    monkeypatch.setenv("MPS_RETENTION_CONFLICTS_DAYS", "1")
    assert main(["state", "prune", "--dry-run"]) == 0
    assert "mps_sync.conflicts: would delete 2 row(s)" in capsys.readouterr().out
    assert main(["state", "prune"]) == 0
    assert "mps_sync.tombstones: deleted 1 row(s)" in capsys.readouterr().out
    assert _left(history)["conflicts"] == []


def test_the_latest_stream_run_stays_however_old(history: Any) -> None:
    history.execute("DELETE FROM mps_sync.stream_runs WHERE run_id = 'new'")
    prune(history, Retention())
    assert _left(history)["stream_runs"] == ["stuck"]  # started last: when the stream last ran


def test_a_database_the_stream_never_used_prunes_nothing(pg_db: DatabaseEndpoint) -> None:
    with pg_connect(pg_db, autocommit=True) as conn:
        assert set(prune(conn, Retention()).values()) == {0}
