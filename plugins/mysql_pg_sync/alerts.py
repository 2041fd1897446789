"""Failure alerts: what to say and where to send it, without Airflow.

:mod:`mysql_pg_sync.airflow.notifier` turns an Airflow context into an :class:`Alert` and calls
:func:`deliver`. Backends: ``log`` (default), ``webhook`` (Slack-compatible ``{"text": ...}``)
and ``email`` (sent by the Airflow side through its SMTP connection).
Configuration: a JSON object ``{"backend": ..., "webhook_url": ..., "email_to": [...]}`` (the
Airflow Variable ``mps_alerts``), else ``MPS_ALERT_BACKEND``, ``MPS_ALERT_WEBHOOK`` and
``MPS_ALERT_EMAIL``; a webhook URL alone selects the webhook backend.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import requests

from mysql_pg_sync.errors import ConfigError

log = logging.getLogger(__name__)

Backend = Literal["log", "email", "webhook"]
BACKENDS: tuple[Backend, ...] = ("log", "email", "webhook")
MAX_DETAIL_CHARS = 3500  # Slack shows ~4k characters per message before truncating
WEBHOOK_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AlertConfig:
    backend: Backend = "log"
    webhook_url: str | None = None
    email_to: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"alert backend {self.backend!r} is unknown; use one of {BACKENDS}")
        if self.backend == "webhook" and not self.webhook_url:
            raise ConfigError("alert backend 'webhook' needs webhook_url (or MPS_ALERT_WEBHOOK)")
        if self.backend == "email" and not self.email_to:
            raise ConfigError("alert backend 'email' needs email_to (or MPS_ALERT_EMAIL)")


def config_from(variable: str | Mapping[str, Any] | None, env: Mapping[str, str]) -> AlertConfig:
    """The Variable's JSON wins; otherwise the environment; otherwise log only."""
    if variable:
        data = json.loads(variable) if isinstance(variable, str) else dict(variable)
        if not isinstance(data, dict):
            raise ConfigError("the mps_alerts Variable must be a JSON object")
        emails = data.get("email_to") or ()
        return AlertConfig(
            backend=data.get("backend") or ("webhook" if data.get("webhook_url") else "log"),
            webhook_url=data.get("webhook_url"),
            email_to=tuple([emails] if isinstance(emails, str) else emails),
        )
    webhook = env.get("MPS_ALERT_WEBHOOK") or None
    emails = tuple(e.strip() for e in env.get("MPS_ALERT_EMAIL", "").split(",") if e.strip())
    backend = env.get("MPS_ALERT_BACKEND") or ("webhook" if webhook else "log")
    return AlertConfig(backend=backend, webhook_url=webhook, email_to=emails)  # type: ignore[arg-type]


def config_from_env(env: Mapping[str, str] | None = None) -> AlertConfig:
    return config_from(None, os.environ if env is None else env)


@dataclass(frozen=True)
class Alert:
    """One failure, described for a human."""

    title: str
    detail: str
    link: str | None = None

    def text(self) -> str:
        detail = self.detail
        if len(detail) > MAX_DETAIL_CHARS:  # keep the end: the root cause of a trace is last
            detail = "...\n" + detail[-MAX_DETAIL_CHARS:]
        parts = [f"*{self.title}*", f"```\n{detail}\n```" if detail else ""]
        if self.link:
            parts.append(f"Log: {self.link}")
        return "\n".join(p for p in parts if p)


def failure_alert(
    *,
    dag_id: str,
    task_id: str | None,
    run_id: str,
    try_number: int | None = None,
    error: BaseException | str | None = None,
    log_url: str | None = None,
) -> Alert:
    """A failed task or DAG run; the error text (a Connect trace, say) is the detail."""
    where = f"{dag_id}.{task_id}" if task_id else dag_id
    attempt = f", try {try_number}" if try_number else ""
    return Alert(
        title=f"mysql_pg_sync: {where} failed (run {run_id}{attempt})",
        detail=_describe(error),
        link=log_url,
    )


def deliver(
    alert: Alert,
    config: AlertConfig,
    *,
    send_email: Callable[[tuple[str, ...], str, str], None] | None = None,
) -> None:
    """Send the alert; always logs it too, so the message survives a broken backend."""
    log.error("%s", alert.text())
    if config.backend == "webhook":
        assert config.webhook_url is not None  # checked by AlertConfig
        post_webhook(config.webhook_url, {"text": alert.text()})
    elif config.backend == "email":
        if send_email is None:
            raise ConfigError("the email backend needs an email sender (Airflow's SMTP)")
        send_email(config.email_to, alert.title, f"<pre>{_html_escape(alert.text())}</pre>")


def post_webhook(url: str, payload: Mapping[str, Any]) -> None:
    try:
        response = requests.post(url, json=dict(payload), timeout=WEBHOOK_TIMEOUT_S)
    except requests.RequestException as exc:
        raise ConfigError(f"alert webhook unreachable: {exc}; check MPS_ALERT_WEBHOOK") from exc
    if not response.ok:
        raise ConfigError(
            f"alert webhook answered HTTP {response.status_code}: {response.text[:200]}; "
            "check the webhook URL"
        )


def _describe(error: BaseException | str | None) -> str:
    if error is None:
        return ""
    if isinstance(error, BaseException):
        return f"{type(error).__name__}: {error}"
    return str(error)


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
