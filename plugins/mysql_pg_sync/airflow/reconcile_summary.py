"""The reconcile DAG's run summary and its verdict (no Airflow import: plain functions of the
run dict :func:`mysql_pg_sync.reconcile.service.finish_run` returns).

The summary is what the ``report`` task prints and returns and what the ``verdict`` task's
alert carries, so it says in plain words whether repairs were written or only planned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mysql_pg_sync.reconcile.report import duration_words, repair_mode, retry_hint

# Run statuses that fail the verdict task, so the notifier alerts: drift left unrepaired
# (reported only, a dry run, refused or failed repairs, or not conclusive: a re-check that timed
# out repairs nothing) and tables that could not be compared.
ALERT_STATUSES = ("drift", "failed")
FAILED_TABLE_STATUSES = ("error", "running")


def _table_line(table: Mapping[str, Any]) -> str:
    drift = table.get("drift") or {}
    repairs = table.get("repairs") or {}
    parts = [f"{table.get('table')}: {table.get('status')}"]
    found = sum(int(n) for n in drift.values())
    if found:
        classes = ", ".join(f"{k} {n}" for k, n in drift.items() if n)
        parts.append(f"{found} drift row(s) ({classes})")
    if repairs.get("dry_run"):
        parts.append(f"{repairs['dry_run']} repair(s) planned only (dry run), nothing written")
    for state, words in (
        ("applied", "repaired"),
        ("failed", "repair(s) failed"),
        ("refused", "repair(s) refused (max_repairs)"),
    ):
        if repairs.get(state):
            parts.append(f"{repairs[state]} {words}")
    if table.get("changed_since_compared"):
        parts.append(
            f"{table['changed_since_compared']} repair(s) not written: changed since compared"
        )
    note = table.get("error") or table.get("repair_message")
    if note:
        parts.append(str(note))
    if table.get("status") in FAILED_TABLE_STATUSES:
        parts.append(retry_hint(str(table.get("table"))))
    return "; ".join(parts)


def failed_tables(run: Mapping[str, Any]) -> list[str]:
    """The tables the run could not compare (an error, or a task that never finished)."""
    return [
        str(t.get("table"))
        for t in run.get("tables") or []
        if t.get("status") in FAILED_TABLE_STATUSES
    ]


def summarize(run: Mapping[str, Any], html_path: str | None = None) -> str:
    """A few lines for the task log and the alert: status, repair mode, each table that is
    not in sync, the report."""
    tables = list(run.get("tables") or [])
    in_sync = sum(1 for t in tables if t.get("status") == "in_sync")
    repaired = sum(1 for t in tables if t.get("status") == "repaired")
    skipped = sum(1 for t in tables if t.get("status") == "skipped")
    took = run.get("duration_s")
    lines = [
        f"reconcile run {run.get('run_id')}: {run.get('status')} "
        f"({len(tables)} table(s), {in_sync} in sync"
        # a table whose drift was repaired is in sync too: the report counts it apart
        + (f", {repaired} repaired" if repaired else "")
        + (f", {skipped} skipped while backfilling)" if skipped else ")")
        + (f", took {duration_words(took)}" if took is not None else ""),
        f"mode: {repair_mode(run.get('params') or {})}",
    ]
    lines += ["  " + _table_line(t) for t in tables if t.get("status") != "in_sync"]
    if html_path:
        lines.append(f"report: {html_path}")
    return "\n".join(lines)


def not_conclusive_tables(run: Mapping[str, Any]) -> list[str]:
    """The tables the run did not repair because their re-check timed out (the stream had not
    caught up): their differences may be changes in flight."""
    return [str(t.get("table")) for t in run.get("tables") or [] if t.get("not_conclusive")]


def verdict(
    status: str, summary: str, failed: Sequence[str] = (), not_conclusive: Sequence[str] = ()
) -> str | None:
    """The alert text when the run must fail (drift left, or a table failed); else None.

    The reconcile run's one alert: a failed table's own compare task does not alert (see
    :data:`mysql_pg_sync.airflow.notifier.REPORTED_DOWNSTREAM`), so this names it."""
    if status not in ALERT_STATUSES:
        return None
    if status == "drift" and not_conclusive:
        why = (
            f"not conclusive, nothing repaired in {len(not_conclusive)} table(s): "
            f"{', '.join(not_conclusive)}: the stream had not caught up when their "
            "differences were re-checked (check the stream DAG and the consumer lag, then run "
            "reconcile again once it has caught up); any other table below has confirmed "
            "drift left unrepaired"
        )
    elif status == "drift":
        why = "confirmed drift is left unrepaired"
    elif failed:
        why = f"{len(failed)} table(s) could not be compared: {', '.join(failed)} (see below)"
    else:
        why = "a table could not be compared (see the errors below)"
    return f"{why}\n{summary}"
