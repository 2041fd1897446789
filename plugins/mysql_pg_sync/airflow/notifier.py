"""The one failure notifier every DAG uses: ``on_failure_callback=notify_failure``.

Message building and delivery live in :mod:`mysql_pg_sync.alerts`; this module only reads the
Airflow context, the ``mps_alerts`` Variable and Airflow's SMTP settings (email backend).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from airflow.sdk import BaseNotifier, Variable
from airflow.sdk.exceptions import AirflowFailException

from mysql_pg_sync.alerts import Alert, AlertConfig, config_from, deliver, failure_alert
from mysql_pg_sync.errors import AlreadyReported

log = logging.getLogger(__name__)
ALERTS_VARIABLE = "mps_alerts"
# (dag_id, task_id) of tasks whose final failure a later task of the same DAG run reports, so
# one failure sends one alert. A reconcile table whose compare task failed is an error in the
# run's report (the report task runs whatever its compare tasks did), and the verdict task's
# alert names it with its error and what to do; if the report task fails, it alerts itself.
# A backfill chunk that failed leaves its table unfinished: finalize then fails naming it, and
# the summary task (all_done) fails naming every unfinished table with its first chunk error,
# so one bad value is one alert, not one per mapped copy task plus finalize plus summary.
REPORTED_DOWNSTREAM: frozenset[tuple[str, str]] = frozenset(
    {("reconcile", "compare"), ("backfill", "copy"), ("backfill", "finalize")}
)


class ReportedFailure(AirflowFailException, AlreadyReported):
    """Fails a task at once, without retries and without an alert: what it reports is settled
    (an earlier task failed and alerted), so each retry would only keep the run from ending."""


def alert_config() -> AlertConfig:
    """The ``mps_alerts`` Variable (JSON) if set, else ``MPS_ALERT_*`` from the environment."""
    try:
        variable = Variable.get(ALERTS_VARIABLE, default=None)
    except Exception:  # no metadata DB / API reachable (e.g. a unit run): fall back to env
        variable = None
    return config_from(variable, os.environ)


def _failed_task(context: Any) -> tuple[str, str | None]:
    """(dag_id, task_id) of the failure the context describes."""
    ti = context.get("ti") or context.get("task_instance")
    dag_id = getattr(context.get("dag_run"), "dag_id", None) or getattr(ti, "dag_id", "unknown")
    return str(dag_id), getattr(ti, "task_id", None)


def reported_downstream(context: Any) -> bool:
    """True for a failure a later task of the run alerts about (:data:`REPORTED_DOWNSTREAM`)."""
    return _failed_task(context) in REPORTED_DOWNSTREAM


def alert_from_context(context: Any) -> Alert:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    dag_id, task_id = _failed_task(context)
    return failure_alert(
        dag_id=dag_id,
        task_id=task_id,
        run_id=str(getattr(dag_run, "run_id", None) or context.get("run_id", "?")),
        try_number=getattr(ti, "try_number", None),
        error=context.get("exception") or context.get("reason"),
        log_url=getattr(ti, "log_url", None),
    )


def _send_email(to: Iterable[str], subject: str, html: str) -> None:
    from airflow.utils.email import send_email

    send_email(list(to), subject, html)


class SyncFailureNotifier(BaseNotifier):
    """Sends a failure alert through the configured backend (log, webhook, email)."""

    def __init__(self, config: AlertConfig | None = None) -> None:
        super().__init__()
        self.config = config

    def notify(self, context: Any) -> None:
        if reported_downstream(context):
            log.info("%s.%s failed: a later task of the run alerts", *_failed_task(context))
            return
        if isinstance(context.get("exception"), AlreadyReported):
            log.info("%s.%s failed: an earlier task of the run alerted", *_failed_task(context))
            return
        deliver(alert_from_context(context), self.config or alert_config(), send_email=_send_email)


def notify_failure(context: Any) -> None:
    """A plain ``on_failure_callback``."""
    SyncFailureNotifier().notify(context)
