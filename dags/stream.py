"""
### stream

Applies live changes in both directions (design decisions 2 and 3): Debezium's MySQL topics to
PostgreSQL and PostgreSQL's topics back to MySQL.

One small, bounded consumer task per run (`minutes`, default 5); the schedule is continuous with
one active run, so the next run starts as soon as one ends and offsets carry over through the
Kafka consumer group. Each run reports **events, applied, echoes dropped, conflicts, dead
letters and lag (p50/p99/max)** as its return value and in `mps_sync.stream_runs`;
per-table counters are in `mps_sync.stream_metrics`, decisions in `mps_sync.conflicts`,
failures in `mps_sync.dead_letters` (and the dead-letter topic).

Tables in state `backfilling` stay paused until the backfill marks them `streaming`.
A table whose target lacks a column its mapping lists (mappings regenerated, `ddl` not run
yet) waits too, and the run fails at its end naming it and the fix, after applying every other
table; it resumes by itself once the column exists.
Changes Kafka deleted before they were applied (its retention ran out while the stream was
stopped or a table paused) fail the run at its end, without retries, naming the table: the
stream goes on from the first change Kafka holds, and a reconcile with repair of that table
restores the rest (the status shows it red until then).
For sub-second latency at scale run the same consumer as a service instead:
`python -m mysql_pg_sync stream` (scaled by consumer group), and pause this DAG.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

from mysql_pg_sync.airflow.notifier import notify_failure


@dag(
    dag_id="stream",
    doc_md=__doc__,
    schedule="@continuous",
    # Without a start_date, Airflow 3.3 starts the first run's interval and ends it at the same
    # instant, then gives the second run that instant as its logical date: "run already
    # exists", and the continuous schedule stopped after one run.
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["mysql_pg_sync", "stream"],
    default_args={
        "owner": "mysql_pg_sync",
        "retries": 3,
        "retry_delay": timedelta(seconds=15),
        "on_failure_callback": notify_failure,
    },
    params={
        "minutes": Param(
            5,
            type="number",
            minimum=0.1,
            maximum=60,
            description="Minutes this run consumes (0.1 to 60) before it commits and ends.",
        ),
    },
)
def stream() -> None:
    @task(execution_timeout=timedelta(minutes=70))
    def consume() -> dict[str, Any]:
        """Consume, apply and commit for a bounded time; return the run's counters."""
        from airflow.sdk.exceptions import AirflowFailException

        from mysql_pg_sync.airflow.dag_params import refuse_unknown_conf
        from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
        from mysql_pg_sync.cdc.service import (
            TablesHeldError,
            config_from_env,
            fail_if_held,
            lost_changes,
            run_stream,
        )
        from mysql_pg_sync.settings import mappings_dir

        context = get_current_context()
        refuse_unknown_conf(context)
        minutes = float(context["params"]["minutes"])
        summary = run_stream(
            endpoints_from_airflow(), mappings_dir(), config_from_env(), max_seconds=minutes * 60
        )
        lost = lost_changes(summary)
        if lost is not None:  # found once: fail and alert, without a retry that would not see it
            raise AirflowFailException(lost)
        try:
            fail_if_held(summary)  # a table waiting for `ddl`: alert; the others were applied
        except TablesHeldError as exc:
            # at once: a retry would consume another whole run and find the same (the alert
            # came three retries, about 20 minutes, late); red but silent while the hold an
            # earlier run alerted about goes on, or every 5-minute run would alert again
            if not exc.new:
                from mysql_pg_sync.airflow.notifier import ReportedFailure

                raise ReportedFailure(f"still held (an earlier run alerted): {exc}") from None
            raise AirflowFailException(str(exc)) from None
        return summary

    consume()


stream()
