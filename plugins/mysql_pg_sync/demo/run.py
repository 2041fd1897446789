"""`make demo`: load the demo schema, then run the project's DAGs in order with `airflow dags test`.

Each step's full output goes to ``$MPS_STATE_DIR/logs/demo-<step>.log``; the console shows one
line per step and a final summary, and the first failing step stops the run with its log's tail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.demo.load import load_demo
from mysql_pg_sync.demo.outcomes import database_now, read_outcome
from mysql_pg_sync.dialects import mysql as mysql_dialect
from mysql_pg_sync.dialects import postgres as pg_dialect
from mysql_pg_sync.errors import ConfigError, SyncError
from mysql_pg_sync.settings import Endpoints, endpoints_from_env, mappings_dir, reports_dir


@dataclass(frozen=True)
class Step:
    name: str
    describe: str
    command: Sequence[str] = ()
    action: Callable[[Endpoints], str] | None = None


@dataclass
class DemoResult:
    steps: list[tuple[str, float, str]] = field(default_factory=list)


def _dags_test(dag_id: str, conf: dict[str, Any]) -> list[str]:
    return ["airflow", "dags", "test", dag_id, "--conf", json.dumps(conf)]


def _admin(endpoints: Endpoints) -> Endpoints:
    user, password = (
        os.environ.get("MPS_MYSQL_ADMIN_USER"),
        os.environ.get("MPS_MYSQL_ADMIN_PASSWORD"),
    )
    if not user or not password:
        raise ConfigError(
            "the demo creates tables in MySQL and needs MPS_MYSQL_ADMIN_USER/PASSWORD "
            "(run it with `make demo`, which loads stack/stack.env)"
        )
    return replace(endpoints, mysql=replace(endpoints.mysql, user=user, password=password))


def load_schema(endpoints: Endpoints) -> str:
    conn = mysql_connect(_admin(endpoints).mysql)
    try:
        counts = load_demo(conn)
    finally:
        conn.close()
    return ", ".join(f"{t}={n}" for t, n in counts.items())


def live_changes(endpoints: Endpoints) -> str:
    """Changes on both sides after the backfill, for the stream to carry across."""
    stamp = int(time.time())
    conn = mysql_connect(endpoints.mysql)
    try:
        cur = conn.cursor()
        cur.execute(
            "INSERT INTO customers (email, full_name, tier, balance, created_at) "
            "VALUES (%s, 'Demo Live', 'pro', 12.34, UTC_TIMESTAMP())",
            (f"live{stamp}@example.com",),
        )
        cur.execute("UPDATE products SET price = price + 1 WHERE id = 1")
        cur.execute("UPDATE customers SET notes = 'changed in MySQL ✅' WHERE id = 2")
        conn.commit()
    finally:
        conn.close()
    with pg_connect(endpoints.postgres) as pg:
        pg.execute(
            "UPDATE public.customers SET full_name = 'Renamed in PostgreSQL 🐘', "
            "updated_at = now() WHERE id = 3"
        )
    return "MySQL: 1 insert + 2 updates; PostgreSQL: 1 update"


def compare_counts(endpoints: Endpoints) -> str:
    from mysql_pg_sync.mapping.models import load_mappings

    mappings = load_mappings(mappings_dir())
    parts = []
    conn = mysql_connect(endpoints.mysql)
    try:
        with pg_connect(endpoints.postgres) as pg:
            for mapping in mappings.enabled():
                cur = conn.cursor()
                source = mysql_dialect.qualified(mapping.source.db, mapping.source.table)
                cur.execute(f"SELECT COUNT(*) FROM {source}")
                mysql_rows = cur.fetchone()[0]
                target = pg_dialect.qualified(mapping.target.schema, mapping.target.table)
                row = pg.execute(f"SELECT COUNT(*) FROM {target}").fetchone()
                pg_rows = row[0] if row else 0
                mark = "=" if mysql_rows == pg_rows else "!="
                parts.append(f"{mapping.source.table} {mysql_rows}{mark}{pg_rows}")
    finally:
        conn.close()
    return "; ".join(parts)


_STREAM_CONF = {"minutes": 0.75}
_RECONCILE_CONF = {"repair": True, "dry_run": False, "recheck_delay_s": 5}
_GENERATE = ["mappings", "generate", "--database", "legacy"]  # into $MPS_MAPPINGS_DIR

STEPS: list[Step] = [
    Step("load", "create and fill the demo MySQL schema (legacy)", action=load_schema),
    Step(
        "mappings",
        "regenerate include/mappings from information_schema (hand edits kept)",
        command=[sys.executable, "-m", "mysql_pg_sync", *_GENERATE],
    ),
    Step(
        "ddl",
        "create the PostgreSQL tables (indexes and FKs come after the backfill)",
        command=[sys.executable, "-m", "mysql_pg_sync", "ddl"],
    ),
    Step(
        "connectors", "apply the Debezium connectors", _dags_test("connectors", {"action": "apply"})
    ),
    Step(
        "backfill",
        "initial chunked copy MySQL -> PostgreSQL",
        _dags_test("backfill", {"mode": "create_missing"}),
    ),
    Step("changes", "write live changes on both sides", action=live_changes),
    Step("stream", "apply the live changes in both directions", _dags_test("stream", _STREAM_CONF)),
    Step(
        "reconcile", "checksum both sides, repair drift", _dags_test("reconcile", _RECONCILE_CONF)
    ),
    Step("data_quality", "expectations and the offline report", _dags_test("data_quality", {})),
    Step("counts", "row counts MySQL vs PostgreSQL", action=compare_counts),
]


def _outcome(endpoints: Endpoints, step: str, since: Any, log: Path) -> str:
    try:
        figures = read_outcome(endpoints, step, since)
    except Exception as exc:  # the step itself succeeded: its figures are a bonus
        figures = f"ok (its figures could not be read: {exc})"
    return f"{figures or 'ok'} (log: {log})"


def run_demo(steps: Sequence[Step] = STEPS) -> int:
    endpoints = endpoints_from_env()
    logs = Path(os.environ.get("MPS_STATE_DIR", ".stack")) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    result = DemoResult()
    for step in steps:
        started = time.monotonic()
        print(f"==> {step.name}: {step.describe}", flush=True)
        log = logs / f"demo-{step.name}.log"
        try:
            since = database_now(endpoints) if step.action is None else None
            if step.action is not None:
                detail = step.action(endpoints)
                log.write_text(detail + "\n")
            else:
                with log.open("w") as out:
                    proc = subprocess.run(
                        step.command, stdout=out, stderr=subprocess.STDOUT, check=False
                    )
                if proc.returncode != 0:
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
                    print(tail, file=sys.stderr)
                    print(
                        f"demo step {step.name!r} failed (exit {proc.returncode}); log: {log}",
                        file=sys.stderr,
                    )
                    return 1
                assert since is not None
                detail = _outcome(endpoints, step.name, since, log)
        except SyncError as exc:
            print(f"demo step {step.name!r} failed: {exc}", file=sys.stderr)
            return 1
        elapsed = time.monotonic() - started
        result.steps.append((step.name, elapsed, detail))
        print(f"    {detail} [{elapsed:.1f} s]", flush=True)
    print("\nDemo summary")
    for name, elapsed, detail in result.steps:
        print(f"  {name:<13} {elapsed:6.1f} s  {detail}")
    print(f"\nReports (backfill, reconcile drift, data quality): {reports_dir().resolve()}")
    print("Airflow UI: `make airflow-ui`, then http://127.0.0.1:8080 (user admin)")
    return 0
