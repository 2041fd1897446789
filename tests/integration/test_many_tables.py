"""The operator's path at the real database's table count: 220 small tables of mixed shapes.

The other tests use at most a handful of tables; here one MariaDB database holds 220 (int,
bigint unsigned, composite and varchar keys, common column types, 0 to ~350 rows, a few foreign
keys) and every step runs through the calls the CLI and the DAGs make: `mappings generate`,
`validate`, `ddl`; `connectors` apply; the backfill DAG's plan and grouping, then `backfill run`;
the stream consumer on all 440 topics with changes on both sides; reconcile of every table, in
sync and then with drift injected; data quality of every table. Each step's wall time is printed
(run with ``-s``) and held to a ceiling far above what it takes, to catch a step that turned
quadratic in the number of tables.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.integration.stream_harness import (
    Pipeline,
    drive,
    grant_applier_privileges,
    mysql_rows,
    pg_rows,
)
from tests.integration.test_connectors import settings  # noqa: F401  (fixture: teardown)

from mysql_pg_sync.airflow.dag_params import backfill_options
from mysql_pg_sync.backfill.configured import configured_backfill
from mysql_pg_sync.backfill.plan import MAX_MAP_LENGTH
from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cdc.connector_signals import ensure_signal_table
from mysql_pg_sync.cdc.consumer import StreamConfig
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.quality.config import load_quality_config
from mysql_pg_sync.quality.run import expectations_dir, run_quality
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.slow

TABLES = 220
# Ceilings per step, in seconds: several times what each takes on the 2-core local stack, so a
# loaded machine passes and a step that became quadratic in the number of tables does not.
CEILING_S = {
    "mappings generate": 30,
    "mappings validate": 30,
    "ddl": 60,
    "connectors apply": 180,
    "backfill plan (DAG)": 60,
    "backfill run (CLI)": 300,
    "stream: changes both ways": 120,
    "reconcile_all, in sync": 240,
    "reconcile_all, drift": 240,
    "data_quality": 400,
}

# -- the schema ---------------------------------------------------------------------------------

SHAPES = ("int", "bigint", "composite", "varchar")
DDL = {
    "int": """CREATE TABLE `{name}` (
  id int NOT NULL AUTO_INCREMENT PRIMARY KEY, name varchar(64) NOT NULL, qty int NULL,
  price decimal(10,2) NULL, created_at datetime(6) NOT NULL, active tinyint(1) NOT NULL,
  note text NULL{fk})""",
    "bigint": """CREATE TABLE `{name}` (
  id bigint unsigned NOT NULL PRIMARY KEY, amount double NULL, day date NULL,
  updated_at timestamp(6) NULL DEFAULT NULL, body mediumtext NULL, flags smallint NULL)""",
    "composite": """CREATE TABLE `{name}` (
  tenant_id int NOT NULL, code varchar(20) NOT NULL, value decimal(12,4) NULL,
  label varchar(100) NULL, changed_at datetime NOT NULL, PRIMARY KEY (tenant_id, code))""",
    "varchar": """CREATE TABLE `{name}` (
  code varchar(32) NOT NULL PRIMARY KEY, title varchar(200) NULL, score int NULL,
  payload json NULL, seen_at datetime(3) NULL)""",
}
COLUMNS = {
    "int": ("id", "name", "qty", "price", "created_at", "active", "note"),
    "bigint": ("id", "amount", "day", "updated_at", "body", "flags"),
    "composite": ("tenant_id", "code", "value", "label", "changed_at"),
    "varchar": ("code", "title", "score", "payload", "seen_at"),
}
KEYS = {"int": ("id",), "bigint": ("id",), "composite": ("tenant_id", "code"), "varchar": ("code",)}
TEXTS = ("plain", "tab\there", "quote's", "emoji 😀", "", None, "back\\slash")
BASE_TIME = dt.datetime(2024, 3, 1, 8, 0, 0)


@dataclass(frozen=True)
class Table:
    name: str
    shape: str
    rows: int
    parent: str | None = None  # an int-shaped table it references with column parent_id

    @property
    def columns(self) -> tuple[str, ...]:
        return COLUMNS[self.shape] + (("parent_id",) if self.parent else ())

    @property
    def key(self) -> tuple[str, ...]:
        return KEYS[self.shape]

    def ddl(self) -> str:
        fk = (
            f",\n  parent_id int NULL, CONSTRAINT `fk_{self.name}` FOREIGN KEY (parent_id) "
            f"REFERENCES `{self.parent}` (id)"
            if self.parent
            else ""
        )
        return DDL[self.shape].format(name=self.name, fk=fk)


def schema(count: int = TABLES, fk_children: int = 4) -> list[Table]:
    """``t000``...: shapes in turn, every 9th table empty, the others 1 to 350 rows; the first
    ``fk_children`` int tables after ``t000`` reference it."""
    tables = [
        Table(f"t{i:03d}", SHAPES[i % len(SHAPES)], 0 if i % 9 == 4 else 1 + (i * 53 + 50) % 350)
        for i in range(count)
    ]
    children = [t.name for t in tables[1:] if t.shape == "int"][:fk_children]
    return [replace(t, parent="t000") if t.name in children else t for t in tables]


def row(table: Table, i: int) -> tuple[Any, ...]:
    """Row ``i`` (from 1) of ``table``."""
    text = TEXTS[i % len(TEXTS)]
    when = BASE_TIME + dt.timedelta(minutes=17 * i, microseconds=i * 1001)
    values: tuple[Any, ...]
    if table.shape == "int":
        values = (i, f"n{i}", i % 13 - 6, Decimal(i * 7 % 10_000) / 100, when, i % 2, text)
    elif table.shape == "bigint":
        values = (
            2**40 + i * 1_000_003,
            i / 7 if i % 5 else None,
            when.date() if i % 4 else None,
            when if i % 3 else None,
            text,
            i % 300 - 150,
        )
    elif table.shape == "composite":
        values = (i % 7, f"c{i:05d}", Decimal(i) / 8, text, when.replace(microsecond=0))
    else:
        payload = None if i % 6 == 0 else json.dumps({"n": i, "tags": ["a", f"b{i % 3}"]})
        seen = when.replace(microsecond=i * 1000 % 1_000_000) if i % 5 else None
        values = (f"k-{i:04d}-{i * 31 % 97:02d}", text, i * 3, payload, seen)
    if table.parent:
        values += (1 + i % 3 if i % 4 else None,)  # t000 has 51 rows
    return values


def create_tables(admin: DatabaseEndpoint, database: str, tables: list[Table]) -> None:
    conn = mysql_connect(replace(admin, database=database), autocommit=True)
    try:
        cur = conn.cursor()
        for table in sorted(tables, key=lambda t: t.parent is not None):  # parents first
            cur.execute(table.ddl())
            marks = ", ".join(["%s"] * len(table.columns))
            names = ", ".join(f"`{c}`" for c in table.columns)
            cur.executemany(
                f"INSERT INTO `{table.name}` ({names}) VALUES ({marks})",
                [row(table, i) for i in range(1, table.rows + 1)],
            )
    finally:
        conn.close()


# -- comparing rows -----------------------------------------------------------------------------


def _comparable(value: Any) -> Any:
    """A value as both drivers should agree on it: booleans as 0/1, timestamptz as naive UTC,
    JSON parsed (MySQL returns its text, psycopg the document)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def rows_by_key(rows: list[tuple[Any, ...]], key_width: int) -> dict[tuple[Any, ...], list[Any]]:
    """Rows keyed by their first ``key_width`` values: the engines sort strings differently."""
    return {tuple(r[:key_width]): [_comparable(v) for v in r] for r in rows}


def table_rows(p: Pipeline, table: Table) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Every column of every row of ``table``, MySQL's and PostgreSQL's."""
    names = ", ".join(table.columns)
    source = mysql_rows(p, f"SELECT {names} FROM `{table.name}`")
    target = pg_rows(p, f"SELECT {names} FROM public.{table.name}")
    return rows_by_key(source, len(table.key)), rows_by_key(target, len(table.key))


def differing(p: Pipeline, tables: list[Table]) -> list[str]:
    """The tables whose rows differ between the two sides, column by column."""
    out = []
    for table in tables:
        source, target = table_rows(p, table)
        if source != target:
            out.append(table.name)
    return out


# -- timing -------------------------------------------------------------------------------------


class Stopwatch:
    """Each step's wall time, printed as it ends."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.times[name] = time.perf_counter() - started
        print(f"[{TABLES} tables] {name}: {self.times[name]:.1f} s", flush=True)

    def over_ceiling(self) -> dict[str, str]:
        return {
            name: f"{took:.1f} s > {CEILING_S[name]} s"
            for name, took in self.times.items()
            if took > CEILING_S.get(name, float("inf"))
        }


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The environment the CLI (here and in subprocesses) reads: the fresh databases, this
    test's mapping and report folders."""
    env = {
        "MPS_MYSQL_DATABASE": mysql_db.database,
        "MPS_PG_DATABASE": pg_db.database,
        "MPS_MAPPINGS_DIR": str(tmp_path / "mappings"),
        "MPS_REPORTS_DIR": str(tmp_path / "reports"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def _cli(watch: Stopwatch, step: str, *argv: str) -> None:
    with watch.step(step):
        assert main(list(argv)) == 0, step


def _subprocess_cli(env: dict[str, str], *argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "mysql_pg_sync", *argv],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=CEILING_S["backfill run (CLI)"] * 2,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _write(p: Pipeline, mysql_sql: list[str], pg_sql: list[str]) -> None:
    for sql in mysql_sql:
        mysql_rows(p, sql)
    with p.pg() as conn:
        for sql in pg_sql:
            conn.execute(sql)


def _logged(caplog: pytest.LogCaptureFixture, text: str, level: int = 0) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= level and text in r.getMessage()]


def test_220_tables_through_the_operators_path(
    endpoints: Endpoints,
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    settings: ConnectorSettings,  # noqa: F811
    cli_env: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mysql_pg_sync")
    db = mysql_db.database
    tables = schema()
    by_name = {t.name: t for t in tables}
    create_tables(mysql_admin, db, tables)
    ep = replace(endpoints, mysql=mysql_db, postgres=pg_db)
    folder = tmp_path / "mappings"
    watch = Stopwatch()

    # 1. mappings and the PostgreSQL tables
    _cli(watch, "mappings generate", "mappings", "generate", "--out", str(folder))
    _cli(watch, "mappings validate", "mappings", "validate", str(folder))
    _cli(watch, "ddl", "ddl", "--mappings", str(folder))
    mappings = load_mappings(folder)
    assert sorted(m.source.table for m in mappings.enabled()) == sorted(by_name)

    # 2. connectors: both sources capture all 220 tables
    grant_applier_privileges(mysql_admin, pg_admin, pg_db.database, endpoints.postgres.user)
    signal = f"{db}.mps_debezium_signal"  # the sync user may not CREATE: as the stack's bootstrap
    ensure_signal_table(replace(mysql_admin, database=db), "mysql", signal)
    ctx = actions.ConnectorContext(ep, mappings, settings, timeout_s=180)
    with watch.step("connectors apply"):
        applied = actions.apply(ctx)
    assert [(r.changed, r.status.is_running) for r in applied] == [(True, True), (True, True)]
    # `ddl` gave every table (generated both ways under mysql_wins) whole before-images, so no
    # table is left to warn about TOASTed values (one warning for many: a unit test's)
    assert _logged(caplog, "replica_identity_toast") == []
    with pg_connect(pg_db) as conn:
        identities = conn.execute(
            "SELECT relreplident::text, count(*) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' GROUP BY 1",
            (next(mappings.enabled()).target.schema,),
        ).fetchall()
    assert dict(identities).get("f") == TABLES
    assert [len(c.tables) for c in actions.render(ctx)] == [TABLES, TABLES]
    with pg_connect(pg_db, autocommit=True) as conn:
        published = conn.execute(
            "SELECT count(*) FROM pg_publication_tables WHERE pubname = %s",
            (settings.publication_name,),
        ).fetchone()
    assert published == (TABLES + 2,)  # and the signal and heartbeat tables

    # 3. backfill: the DAG's plan (how many mapped copy tasks), then the CLI's whole run
    with watch.step("backfill plan (DAG)"):
        planned = configured_backfill(ep, require_capture=True).plan(
            backfill_options(
                {"tables": [], "max_parallel": 2, "mode": "create_missing", "dry_run": True}
            )
        )
    print(f"backfill DAG: {len(planned.groups)} mapped copy task(s) for {TABLES} tables")
    assert len(planned.tables) == TABLES
    assert 0 < len(planned.groups) <= MAX_MAP_LENGTH
    assert len(planned.groups) < TABLES  # small tables share copy tasks
    with watch.step("backfill run (CLI)"):
        summary = _subprocess_cli(cli_env, "backfill", "run", "--mappings", str(folder))
    assert summary["total"]["rows"] == sum(t.rows for t in tables)
    assert not summary.get("unfinished"), summary.get("unfinished")
    # every row of every table compared by reconcile's checksums (the default verify)
    assert (summary["verify"]["status"], summary["verify"]["drift"]) == ("succeeded", 0)
    print(f"backfill: copy and finalize {summary['total']['wall_s']} s of the run")

    # 4. the stream consumer on all 440 topics: changes on both sides, to a few tables
    tag = uuid.uuid4().hex[:8]
    p = Pipeline(
        ep,
        mappings,
        settings,
        StreamConfig(
            mysql_topic_prefix=settings.mysql_topic_prefix,
            pg_topic_prefix=settings.postgres_topic_prefix,
            group_id=f"mpst-many-{tag}",
            dead_letter_topic=f"{settings.prefix}_dead-letters",  # the fixture deletes it
            max_batch_ms=100,
            kafka_overrides=(("topic.metadata.refresh.interval.ms", "1000"),),
        ),
    )
    changed = [by_name[n] for n in ("t000", "t002", "t003", "t005", "t010", "t219")]
    with closing(p.consumer()) as consumer:
        assert len(consumer.topics) == 2 * TABLES
        consumer.run(max_seconds=2)  # the backfill's echoes from PostgreSQL are dropped
        with watch.step("stream: changes both ways"):
            _write(
                p,
                [
                    "INSERT INTO t000 (name, created_at, active) VALUES ('live', NOW(6), 1)",
                    "UPDATE t003 SET score = -1, payload = '{\"live\": true}' WHERE score < 30",
                    "DELETE FROM t002 WHERE tenant_id = 3",
                ],
                [
                    "INSERT INTO public.t005 (id, amount, day) VALUES (7, 0.5, '2024-02-29')",
                    "UPDATE public.t010 SET label = 'from pg', value = 1.25 WHERE tenant_id = 1",
                    "DELETE FROM public.t219 WHERE score % 9 = 0",
                ],
            )
            drive(consumer, lambda: not differing(p, changed), timeout_s=120)
        assert mysql_rows(p, "SELECT label FROM t010 WHERE tenant_id = 1")[0] == ("from pg",)
        assert pg_rows(p, "SELECT count(*) FROM public.t002 WHERE tenant_id = 3") == [(0,)]
        assert consumer.run(max_seconds=3).applied == 0  # quiet: only echoes come back
    # topics of tables without changes do not exist yet: counted, not a warning each
    assert _logged(caplog, "UNKNOWN_TOPIC_OR_PART", logging.WARNING) == []
    sample = [t for t in tables[::10] if t not in changed] + changed
    assert differing(p, sample) == []

    # 5. reconcile every table: in sync; then drift on a few is found, and only there
    params = ReconcileParams(mappings=str(folder), recheck_delay_s=0)
    with watch.step("reconcile_all, in sync"):
        run, _, _ = reconcile_all(ep, params, folder=tmp_path / "reports")
    assert run["status"] == "succeeded"
    assert {t["status"] for t in run["tables"]} == {"in_sync"}
    assert len(run["tables"]) == TABLES
    # the consumer has stopped: these stay as drift
    _write(
        p,
        ["DELETE FROM t001 WHERE id = (SELECT min(id) FROM (SELECT id FROM t001) AS k)"],
        [
            "UPDATE public.t006 SET label = 'drift' WHERE (tenant_id, code) IN "
            "(SELECT tenant_id, code FROM public.t006 LIMIT 2)",
            "INSERT INTO public.t007 (code, title) VALUES ('zz-drift', 'extra')",
        ],
    )
    with watch.step("reconcile_all, drift"):
        run, _, _ = reconcile_all(ep, params, folder=tmp_path / "reports")
    drifted = {
        t["table"].split(".")[1]: t["drift"] for t in run["tables"] if any(t["drift"].values())
    }
    assert drifted == {
        "t001": {"missing": 0, "extra": 1, "different": 0},
        "t006": {"missing": 0, "extra": 0, "different": 2},
        "t007": {"missing": 0, "extra": 1, "different": 0},
    }
    assert run["status"] == "drift"

    # 6. data quality of every table
    with watch.step("data_quality"):
        quality = run_quality(
            ep,
            MappingSet(tuple(mappings)),
            load_quality_config(expectations_dir()),
            f"many-{tag}",
            reports=tmp_path / "reports",
        )
    assert {r.table for r in quality.results} == {m.name for m in mappings.enabled()}
    assert not [r for r in quality.results if r.outcome == "error"]

    assert watch.over_ceiling() == {}
