"""The reconcile DAG's run summary and its verdict (no Airflow import: plain functions of the
run dict :func:`mysql_pg_sync.reconcile.service.finish_run` returns).

The summary is what the ``report`` task prints and returns and what the ``verdict`` task's
alert carries, so it says in plain words whether repairs were written or only planned.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Run statuses that fail the verdict task, so the notifier alerts: drift left unrepaired
# (reported only, a dry run, refused or failed repairs) and tables that could not be compared.
ALERT_STATUSES = ("drift", "failed")


def repair_mode(params: Mapping[str, Any]) -> str:
    """What the run was allowed to write, from its stored params."""
    if not params.get("repair"):
        return "report only (repair off): drift is recorded, nothing is repaired"
    if params.get("dry_run", True):
        return (
            "DRY RUN: repairs were only planned and recorded, nothing was written; to write "
            "them trigger reconcile again with repair on and dry_run off"
        )
    return "repair: repairs written through the stream applier"


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
    note = table.get("error") or table.get("repair_message")
    if note:
        parts.append(str(note))
    return "; ".join(parts)


def summarize(run: Mapping[str, Any], html_path: str | None = None) -> str:
    """A few lines for the task log and the alert: status, repair mode, each table that is
    not in sync, the report."""
    tables = list(run.get("tables") or [])
    in_sync = sum(1 for t in tables if t.get("status") == "in_sync")
    lines = [
        f"reconcile run {run.get('run_id')}: {run.get('status')} "
        f"({len(tables)} table(s), {in_sync} in sync)",
        f"mode: {repair_mode(run.get('params') or {})}",
    ]
    lines += ["  " + _table_line(t) for t in tables if t.get("status") != "in_sync"]
    if html_path:
        lines.append(f"report: {html_path}")
    return "\n".join(lines)


def verdict(status: str, summary: str) -> str | None:
    """The alert text when the run must fail (drift left, or a table failed); else None."""
    if status not in ALERT_STATUSES:
        return None
    why = (
        "confirmed drift is left unrepaired"
        if status == "drift"
        else "a table could not be compared (see the errors below)"
    )
    return f"{why}\n{summary}"
