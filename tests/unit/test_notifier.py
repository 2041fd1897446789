"""The failure notifier: configuration, message and delivery (no services)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from mysql_pg_sync.airflow.notifier import SyncFailureNotifier, alert_from_context
from mysql_pg_sync.alerts import (
    MAX_DETAIL_CHARS,
    AlertConfig,
    config_from,
    deliver,
    failure_alert,
)
from mysql_pg_sync.errors import AlreadyReported, ConfigError, SyncError

TRACE = "org.apache.kafka.connect.errors.ConnectException: Access denied for user 'sync'"


def test_log_is_the_default_and_a_webhook_url_selects_the_webhook() -> None:
    assert config_from(None, {}) == AlertConfig()
    hook = config_from(None, {"MPS_ALERT_WEBHOOK": "https://hooks.example/x"})
    assert (hook.backend, hook.webhook_url) == ("webhook", "https://hooks.example/x")
    mail = config_from(None, {"MPS_ALERT_BACKEND": "email", "MPS_ALERT_EMAIL": "a@x, b@x"})
    assert mail.email_to == ("a@x", "b@x")


def test_the_variable_wins_over_the_environment() -> None:
    config = config_from('{"backend": "email", "email_to": "ops@x"}', {"MPS_ALERT_WEBHOOK": "h"})
    assert (config.backend, config.email_to) == ("email", ("ops@x",))


@pytest.mark.parametrize(
    ("variable", "env", "message"),
    [
        (None, {"MPS_ALERT_BACKEND": "pager"}, "unknown"),
        (None, {"MPS_ALERT_BACKEND": "webhook"}, "needs webhook_url"),
        ('{"backend": "email"}', {}, "needs email_to"),
        ("[1]", {}, "JSON object"),
    ],
)
def test_bad_configuration_says_what_is_missing(
    variable: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from(variable, env)


def test_the_message_carries_the_connect_trace_and_keeps_its_end() -> None:
    alert = failure_alert(
        dag_id="connectors_health",
        task_id="heal_connectors",
        run_id="scheduled__1",
        try_number=2,
        error=SyncError("NOT HEALED mps-mysql-source: RUNNING (task 0 FAILED)\n" + TRACE),
        log_url="http://airflow/log",
    )
    assert alert.title == (
        "mysql_pg_sync: connectors_health.heal_connectors failed (run scheduled__1, try 2)"
    )
    text = alert.text()
    assert TRACE in text
    assert text.endswith("Log: http://airflow/log")
    long = failure_alert(dag_id="d", task_id=None, run_id="r", error="x" * 10_000 + TRACE)
    assert len(long.text()) < MAX_DETAIL_CHARS + 200
    assert TRACE in long.text()


def test_log_backend_logs_and_email_backend_uses_the_sender(
    caplog: pytest.LogCaptureFixture,
) -> None:
    alert = failure_alert(dag_id="d", task_id="t", run_id="r", error=TRACE)
    with caplog.at_level(logging.ERROR):
        deliver(alert, AlertConfig())
    assert TRACE in caplog.text
    sent: list[tuple[tuple[str, ...], str, str]] = []
    deliver(
        alert,
        AlertConfig(backend="email", email_to=("ops@x",)),
        send_email=lambda to, subject, html: sent.append((to, subject, html)),
    )
    [(to, subject, html)] = sent
    assert (to, subject) == (("ops@x",), alert.title)
    assert (
        "Access denied for user &#x27;sync&#x27;" in html or "Access denied for user 'sync'" in html
    )


def test_an_unreachable_webhook_is_a_clear_error() -> None:
    alert = failure_alert(dag_id="d", task_id="t", run_id="r", error=TRACE)
    with pytest.raises(ConfigError, match="alert webhook unreachable"):
        deliver(alert, AlertConfig(backend="webhook", webhook_url="http://127.0.0.1:9/hook"))


def test_the_airflow_notifier_reads_the_task_context(caplog: pytest.LogCaptureFixture) -> None:
    context = {
        "ti": SimpleNamespace(task_id="heal_connectors", try_number=1, log_url="http://l"),
        "dag_run": SimpleNamespace(dag_id="connectors_health", run_id="manual__1"),
        "exception": SyncError(TRACE),
    }
    alert = alert_from_context(context)
    assert alert.title.startswith("mysql_pg_sync: connectors_health.heal_connectors failed")
    with caplog.at_level(logging.ERROR):
        SyncFailureNotifier(config=AlertConfig()).notify(context)
    assert TRACE in caplog.text


def test_a_failed_reconcile_compare_is_left_to_the_verdicts_one_alert(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The report names the failed table and the verdict alerts with it: the compare task's
    own alert would be a second one for the same failure."""

    def context(dag_id: str, task_id: str) -> dict[str, object]:
        return {
            "ti": SimpleNamespace(task_id=task_id, try_number=1, log_url="http://l"),
            "dag_run": SimpleNamespace(dag_id=dag_id, run_id="manual__1"),
            "exception": SyncError("legacy.broken: postgres table has no column(s) note"),
        }

    notifier = SyncFailureNotifier(config=AlertConfig())
    with caplog.at_level(logging.INFO):
        notifier.notify(context("reconcile", "compare"))
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "reconcile.compare failed: a later task of the run alerts" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        notifier.notify(context("reconcile", "verdict"))
        notifier.notify(context("backfill", "compare"))  # only reconcile's compare defers
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]


def test_a_failed_backfill_copy_or_finalize_is_left_to_the_summarys_one_alert(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def context(task_id: str) -> dict[str, object]:
        return {
            "ti": SimpleNamespace(task_id=task_id, try_number=1, log_url="http://l"),
            "dag_run": SimpleNamespace(dag_id="backfill", run_id="manual__1"),
            "exception": SyncError("legacy.orders: key (7): column 'd': value cannot convert"),
        }

    notifier = SyncFailureNotifier(config=AlertConfig())
    with caplog.at_level(logging.INFO):
        notifier.notify(context("copy"))
        notifier.notify(context("finalize"))
    assert [r.levelno for r in caplog.records] == [logging.INFO, logging.INFO]
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        notifier.notify(context("summary"))  # names every unfinished table and why
        notifier.notify(context("plan"))
        notifier.notify(context("prepare"))
    assert [r.levelno for r in caplog.records] == [logging.ERROR] * 3


def test_a_failure_that_repeats_an_earlier_tasks_sends_no_alert(
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = {
        "ti": SimpleNamespace(task_id="summary", try_number=1, log_url="http://l"),
        "dag_run": SimpleNamespace(dag_id="backfill", run_id="manual__1"),
        "exception": AlreadyReported("the plan step failed: nothing was copied; see its log"),
    }
    with caplog.at_level(logging.INFO):
        SyncFailureNotifier(config=AlertConfig()).notify(context)
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert "backfill.summary failed: an earlier task of the run alerted" in caplog.text


def test_a_webhook_receives_the_alert_as_json() -> None:
    """Delivered for real over HTTP to a receiver on the loopback (what a Slack webhook gets)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, object]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        alert = failure_alert(dag_id="connectors_health", task_id="heal", run_id="r1", error=TRACE)
        url = f"http://127.0.0.1:{server.server_port}/hook"
        deliver(alert, AlertConfig(backend="webhook", webhook_url=url))
        thread.join(timeout=10)
    finally:
        server.server_close()
    [payload] = received
    text = json.dumps(payload)
    assert "connectors_health" in text
    assert "Access denied for user" in text
