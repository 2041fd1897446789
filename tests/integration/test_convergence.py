"""Convergence under concurrent writes on both sides and injected faults (issue 9).

Short run (part of ``make test``): ~2k transactions, one fault (kill -9 of the consumer process).
Long run (``make chaos``, marked slow): 53k transactions planned (about 5 % are refused by the
origin database, FK races, so >= 50k commit) and every fault. Both end with the
same checks: identical rows (reconcile differ and an independent full-row comparison), conflicts
decided by policy, no loops, only the injected poison in the dead-letter topic.
Replay a run with ``MPS_CHAOS_SEED=<seed>``; the seed is printed with every report. The long run
also takes ``MPS_CHAOS_TRANSACTIONS``, ``MPS_CHAOS_RATE`` (per side per second) and
``MPS_CHAOS_FAULTS`` (a comma-separated subset of the fault names).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.integration.convergence.checks import ConflictRow, policy_violations
from tests.integration.convergence.faults import FAULTS
from tests.integration.convergence.fullrow import normalise
from tests.integration.convergence.run import ChaosConfig, run
from tests.integration.convergence.schema import MYSQL_DDL, PG_DDL, mappings, without_foreign_keys
from tests.integration.convergence.workload import HOT_ACCOUNTS, plan
from tests.integration.stream_harness import Pipeline, pipeline

from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints


def _seed() -> int:
    raw = os.environ.get("MPS_CHAOS_SEED")
    return int(raw) if raw else random.SystemRandom().randrange(1, 2**31)


@pytest.fixture
def pg_origin(pg_admin: DatabaseEndpoint) -> Iterator[str]:
    """A replication origin of our own: on PostgreSQL 15 an origin is active in one session at
    a time, cluster-wide, so the shared one would clash with other consumers running tests."""
    name = f"mps_chaos_{uuid.uuid4().hex[:8]}"
    admin = replace(pg_admin, database="postgres")
    with pg_connect(admin, autocommit=True) as conn:
        conn.execute("SELECT pg_replication_origin_create(%s)", (name,))
    try:
        yield name
    finally:
        with pg_connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_replication_origin_drop(%s)", (name,))


@pytest.fixture
def chaos_pipeline(
    request: pytest.FixtureRequest,
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    pg_origin: str,
) -> Iterator[Pipeline]:
    """The harness tables (with their foreign keys unless the test asks for none)."""
    foreign_keys = getattr(request, "param", True)
    with pipeline(
        endpoints,
        mysql_db,
        pg_db,
        mysql_admin,
        pg_admin,
        mappings(mysql_db.database),
        MYSQL_DDL if foreign_keys else without_foreign_keys(MYSQL_DDL),
        PG_DDL if foreign_keys else without_foreign_keys(PG_DDL),
    ) as p:
        yield replace(p, config=replace(p.config, tags=replace(p.config.tags, pg_origin=pg_origin)))


def _run_and_check(p: Pipeline, cfg: ChaosConfig, workdir: Path) -> None:
    print(f"\nchaos seed {cfg.seed} (replay: MPS_CHAOS_SEED={cfg.seed})")
    try:
        report = run(p, cfg, workdir)
    except BaseException:
        print(f"chaos run failed; seed {cfg.seed}; consumer log {workdir / 'consumer.log'}")
        raise
    print(report.text())
    failures = report.failures()
    assert not failures, f"seed {cfg.seed}: " + "; ".join(failures) + "\n" + report.text()


LONG_RUNS = pytest.mark.skipif(
    not os.environ.get("MPS_CHAOS_LONG"),
    reason="long chaos runs restart shared services: `make chaos` (sets MPS_CHAOS_LONG=1)",
)
SHORT = {"transactions": 2000, "rate_per_side": 60, "faults": ((0.5, "consumer_kill"),)}


@pytest.mark.slow  # ~1-3 minutes, part of `make test` all the same (issue 9)
def test_short_run_converges_after_consumer_kill(chaos_pipeline: Pipeline, tmp_path: Path) -> None:
    _run_and_check(chaos_pipeline, ChaosConfig(seed=_seed(), **SHORT), tmp_path)


@pytest.mark.slow
@LONG_RUNS
@pytest.mark.parametrize("chaos_pipeline", [False], indirect=True, ids=["no_foreign_keys"])
def test_short_run_without_foreign_keys(chaos_pipeline: Pipeline, tmp_path: Path) -> None:
    """The same run with no foreign key in either database: separates the stream's cross-table
    ordering (a child event applied before its parent's) from everything else."""
    _run_and_check(chaos_pipeline, ChaosConfig(seed=_seed(), **SHORT), tmp_path)


@pytest.mark.slow
@LONG_RUNS
def test_long_run_converges_under_every_fault(chaos_pipeline: Pipeline, tmp_path: Path) -> None:
    schedule = [
        (0.05, "consumer_kill"),
        (0.10, "pause_mysql_connector"),
        (0.18, "poison"),
        (0.22, "pause_postgres_connector"),
        (0.30, "connect_restart"),
        (0.40, "consumer_kill"),
        (0.48, "kafka_restart"),
        (0.58, "mariadb_restart"),
        (0.68, "postgres_restart"),
        (0.76, "poison"),
        (0.82, "consumer_kill"),
    ]
    assert {name for _, name in schedule} == set(FAULTS)
    only = os.environ.get("MPS_CHAOS_FAULTS")  # e.g. while others share the stack: no restarts
    if only:
        schedule = [(at, name) for at, name in schedule if name in only.split(",")]
    cfg = ChaosConfig(
        seed=_seed(),
        transactions=int(os.environ.get("MPS_CHAOS_TRANSACTIONS", "53000")),
        rate_per_side=float(os.environ.get("MPS_CHAOS_RATE", "120")),
        faults=tuple(schedule),
        pause_span=1000,
        converge_timeout_s=600,
    )
    _run_and_check(chaos_pipeline, cfg, tmp_path)


# -- the harness's own pure parts (no servers) ---------------------------------------------------


def test_same_seed_same_plan_and_every_kind_of_transaction() -> None:
    first, again, other = plan(7, 3000), plan(7, 3000), plan(8, 3000)
    assert first == again
    assert first != other
    kinds = {t.kind for side in first.values() for t in side}
    assert kinds == {
        "insert_family",
        "insert_child",
        "update_account",
        "update_order",
        "delete_order",
        "delete_family",
        "stock",
        "multi_row",
    }
    # both sides touch the same hot rows: the source of the conflicts
    hot = {"mysql": set(), "postgres": set()}
    for side, txns in first.items():
        for t in txns:
            for s in t.statements:
                if s.sql.startswith("UPDATE accounts") and s.params[-1] <= HOT_ACCOUNTS:
                    hot[side].add(s.params[-1])
    assert len(hot["mysql"] & hot["postgres"]) >= HOT_ACCOUNTS // 2


def _conflict(**kw: Any) -> ConflictRow:
    base: dict[str, Any] = {
        "table": "db.orders",
        "kind": "update_update",
        "rule": "last_writer_wins",
        "winner": "mysql",
        "incoming_side": "mysql",
        "incoming": {"updated_at": "2026-01-01T00:00:02"},
        "target": {"updated_at": "2026-01-01T00:00:01"},
        "position": None,
        "key": {"id": 1},
    }
    return ConflictRow(**{**base, **kw})


def test_policy_check_names_a_wrong_winner() -> None:
    newer_wins = _conflict()
    older_won = _conflict(winner="postgres")
    tie_to_mysql = _conflict(
        incoming_side="postgres", target={"updated_at": "2026-01-01T00:00:02"}, winner="mysql"
    )
    fixed_side = _conflict(table="db.accounts", rule="mysql_wins", winner="postgres")
    late_delete = _conflict(
        kind="delete_update",
        incoming_side="postgres",
        winner="postgres",
        commit_time=dt.datetime(2026, 1, 1, 0, 0, 3),
    )
    assert policy_violations([newer_wins, tie_to_mysql, late_delete]) == []
    assert len(policy_violations([older_won, fixed_side])) == 2


def test_full_row_normalisation_is_driver_neutral() -> None:
    assert normalise(Decimal("12.50")) == normalise(Decimal("12.5"))
    assert normalise(b"caf\xc3\xa9") == "café"
    when = dt.datetime(2026, 1, 1, 12, 0, 0, 5)
    assert normalise(when) == normalise(when.replace(tzinfo=dt.UTC)) == "2026-01-01T12:00:00.000005"
    assert normalise(None) is None
    assert normalise("") == ""
