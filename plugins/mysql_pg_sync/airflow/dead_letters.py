"""The `dead_letters` DAG's task: list, retry or resolve dead letters from the trigger form, the
same as the `dead-letters` command. Its text goes to the task log and XCom; a retry that leaves
letters open fails the task, so the run shows red. Params that cannot work (an unknown table, a
resolve without a note) fail it at once, without retries, before anything is changed."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from mysql_pg_sync.airflow.dag_params import fail_now, failing_now, resolve_params_problem
from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
from mysql_pg_sync.cdc import dead_letter_report as report
from mysql_pg_sync.cdc.dead_letter_plan import Selection
from mysql_pg_sync.cdc.dead_letter_retry import DeadLetterError, list_letters, resolve, retry
from mysql_pg_sync.cdc.service import config_from_env
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import mappings_dir
from mysql_pg_sync.whole_numbers import as_whole

log = logging.getLogger(__name__)


def _ids(params: Mapping[str, Any]) -> list[int]:
    ids = []
    for value in params.get("ids") or []:
        whole = as_whole(value)
        if whole is None or whole < 1:
            raise AirflowFailException(
                f"Param `ids`: {value!r} is not a dead letter id (a whole number >= 1)"
            )
        ids.append(whole)
    return ids


def run_from_params(params: Mapping[str, Any]) -> str:
    """Do what the form asks; returns the text shown, raises when letters stay open."""
    action = params.get("action")
    ids = _ids(params)
    note = str(params.get("note") or "")
    if action == "resolve":
        fail_now(resolve_params_problem(ids, params.get("table"), note))
    endpoints = endpoints_from_airflow()
    mappings = load_mappings(mappings_dir())
    table = None
    if params.get("table"):
        with failing_now(MappingError):
            table = report.letters_table(
                mappings,
                params["table"],
                lambda name: bool(list_letters(endpoints, include_resolved=True, table=name)),
            )
    if action == "resolve":
        marked = resolve(endpoints, ids, note, table)
        text = f"resolved dead letter(s) {', '.join(map(str, marked))} by hand: {note}"
        log.info("%s", text)
        return text
    config = config_from_env()
    if action == "list":
        text = report.listing(list_letters(endpoints, table=table), mappings, config, table)
        log.info("%s", text)
        return text
    if action != "retry":
        raise DeadLetterError(f"unknown action {action!r}: use list, retry or resolve")
    dry_run = bool(params.get("dry_run", True))
    outcomes, refusals = retry(
        endpoints, mappings, config, Selection(table, frozenset(ids)), dry_run
    )
    lines, failed = report.retry_report(outcomes, refusals, table)
    if dry_run and outcomes:
        lines.insert(0, "DRY RUN: nothing was written; trigger again with dry_run off to retry")
    text = "\n".join(lines)
    log.info("%s", text)
    if failed:
        raise DeadLetterError(text)
    return text
