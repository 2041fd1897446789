"""Persist a data-quality run: rows in ``mps_sync.dq_runs``/``dq_results`` and a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb

from mysql_pg_sync.quality.results import QualityRun
from mysql_pg_sync.state.schema import ensure_schema


def save_run(pg_conn: Any, run: QualityRun) -> None:
    """Insert (or replace, on a retried task) the run and its results in one transaction."""
    ensure_schema(pg_conn)
    counts = run.counts()
    with pg_conn.transaction():
        pg_conn.execute("DELETE FROM mps_sync.dq_runs WHERE run_id = %s", (run.run_id,))
        pg_conn.execute(
            """INSERT INTO mps_sync.dq_runs (run_id, started_at, finished_at, success, checks,
                   failed_fail, failed_warn, skipped, report_path, data_docs_index)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (
                run.run_id,
                run.started_at,
                run.finished_at,
                run.success,
                len(run.results),
                len(run.breaches("fail")),
                len(run.breaches("warn")),
                counts["skipped"],
                run.report_path,
                run.data_docs_index,
            ),
        )
        with pg_conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO mps_sync.dq_results (run_id, source_table, check_id, check_name,
                       severity, outcome, expectation, column_name, observed, unexpected_count,
                       sample, detail)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        run.run_id,
                        r.table,
                        r.check_id,
                        r.check,
                        r.severity,
                        r.outcome,
                        r.expectation,
                        r.column,
                        Jsonb(r.observed),
                        r.unexpected_count,
                        Jsonb(r.sample),
                        r.detail,
                    )
                    for r in run.results
                ],
            )


def write_json(run: QualityRun, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.to_json(), indent=2, default=str), encoding="utf-8")
    return path
