"""DAG Params -> the library's options, and the checks of a run's Params that their JSON schema
cannot express, kept out of the DAG files so tests can call them.

The checks are pure (``..._problem`` returns the text, or None); :func:`fail_now` and
:func:`refuse_unknown_conf` turn a problem into a failure without retries: a retry would meet
the same Params, fail the same way and alert again.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from difflib import get_close_matches
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from mysql_pg_sync.backfill.runner import (
    CHUNK_MB_MAX,
    CHUNK_ROWS_MAX,
    BackfillError,
    RunOptions,
    refused_selection,
)
from mysql_pg_sync.mapping.models import MappingSet


def backfill_options(params: Mapping[str, Any]) -> RunOptions:
    """The backfill DAG's Params as :class:`RunOptions`.

    An empty (or 0) ``chunk_rows``/``chunk_mb`` becomes None, which means each mapping's own
    ``backfill.chunk_rows``: a fixed default here would override every hand-tuned mapping on
    each UI trigger (the CLI's default is None too). A chunk target above the form's maximum
    (a conf that skipped the form's check) is refused naming the Param."""
    problem = chunk_target_problem(params)
    if problem is not None:
        raise BackfillError(problem)
    return RunOptions(
        tables=tuple(params.get("tables") or ()),
        chunk_rows=params.get("chunk_rows") or None,
        chunk_mb=params.get("chunk_mb") or None,
        max_parallel=int(params["max_parallel"]),
        mode=params["mode"],
        dry_run=bool(params["dry_run"]),
    )


def backfill_selection_problem(mappings: MappingSet, patterns: Sequence[str]) -> str | None:
    """What is wrong when a name or glob of the backfill's ``tables`` Param selects only tables
    the backfill refuses, else None (:func:`runner.refused_selection`): checked before the run
    is recorded, so a refused run leaves no run behind."""
    return refused_selection(mappings, patterns)


def chunk_target_problem(params: Mapping[str, Any]) -> str | None:
    """A ``chunk_rows``/``chunk_mb`` Param above the form's maximum (a run whose conf skipped
    the form's check), in the form's words, else None."""
    for name, most in (("chunk_rows", CHUNK_ROWS_MAX), ("chunk_mb", CHUNK_MB_MAX)):
        value = params.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > most:
            return (
                f"Param `{name}` = {value!r} is above its maximum {most}; nothing was done. "
                "Leave it empty to use each mapping's own chunk size"
            )
    return None


def unknown_conf_problem(conf: Mapping[str, Any] | None, declared: Iterable[str]) -> str | None:
    """What is wrong when the run's conf has keys the DAG declares no Param for, else None.

    Airflow (up to 3.3 at least, no setting changes it) merges such a key into the run's
    params as a new one and leaves the Param it was meant for at its default: a misspelt
    ``tabels`` turns a one-table run into an every-table run without a word."""
    valid = list(declared)
    unknown = sorted(set(conf or {}) - set(valid))
    if not unknown:
        return None
    named = []
    for key in unknown:
        close = get_close_matches(key, valid, n=1)
        named.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    takes = f"its Params are {', '.join(valid)}" if valid else "it takes no Params"
    return (
        f"unknown Param(s) {', '.join(named)} in the run's conf; nothing was done: {takes}. "
        "Trigger it again with those names"
    )


def refuse_unknown_conf(context: Mapping[str, Any]) -> None:
    """Fail the task at once, without retries, when the run's conf has a key the DAG has no
    Param for. The first thing each DAG's first task does, before any work."""
    fail_now(unknown_conf_problem(context["dag_run"].conf, context["dag"].params))


def fail_now(problem: str | None) -> None:
    """Fail the task without retries when there is a problem with what the run was given."""
    if problem is not None:
        raise AirflowFailException(problem)


@contextmanager
def failing_now(*settled: type[Exception]) -> Iterator[None]:
    """Errors of the ``settled`` types fail the task without retries: they come from the
    run's Params or the mappings, which a retry would find unchanged."""
    try:
        yield
    except settled as exc:
        raise AirflowFailException(str(exc)) from None


# actions that lose what the connectors have read so far: the form asks for their name again
CONFIRMED_ACTIONS = ("delete", "reset_lost_positions")


def connectors_params_problem(
    action: str, tables: Collection[str] | None, drop_slot: bool, confirm: str = ""
) -> str | None:
    """The connectors DAG's Params that do not go together, in the form's words, else None."""
    if action in CONFIRMED_ACTIONS and confirm.strip() != action:
        return (
            f"{action} loses the connectors' stored positions (what they have read so far), so "
            f"it runs only with Param `confirm` set to {action!r}; nothing was done"
        )
    if confirm.strip() and action not in CONFIRMED_ACTIONS:
        return (
            f"Param `confirm` is for {' and '.join(CONFIRMED_ACTIONS)}, not {action}; "
            "nothing was done. Clear it"
        )
    if action == "snapshot_tables" and not tables:
        return (
            "snapshot_tables needs Param `tables`: the tables to snapshot again (MySQL "
            "db.table, PostgreSQL schema.table, bare names or globs); nothing was done"
        )
    if tables and action != "snapshot_tables":
        return (
            f"Param `tables` is for snapshot_tables; {action} acts on whole connectors (every "
            "table they capture, both directions), so nothing was done. Clear `tables`, or use "
            "action snapshot_tables to read tables again"
        )
    if drop_slot and action != "delete":
        return f"Param `drop_replication_slot` is for delete, not {action}; nothing was done"
    return None


def resolve_params_problem(ids: Collection[int], table: str | None, note: str) -> str | None:
    """The dead_letters DAG's resolve needs a note and either ids or a table, in the form's
    words, else None."""
    if not note.strip():
        return (
            "resolve needs Param `note`: how the dead letters were dealt with (stored as "
            "'resolved by hand: <note>'); nothing was marked"
        )
    if not ids and not table:
        return (
            "resolve needs the ids of the dead letters (Param `ids`), or a table to resolve all "
            "its open ones (Param `table`); action list shows them. Nothing was marked"
        )
    if ids and table:
        return "resolve takes Param `ids` or Param `table`, not both; nothing was marked"
    return None
