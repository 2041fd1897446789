"""The DAGs' Param checks that no JSON schema can express: an unknown conf key, Params that do not
go together. Each names the valid Params in the form's words (the failing without retries is in
tests/dags/test_dag_params_refusals.py)."""

from __future__ import annotations

import pytest

from mysql_pg_sync.airflow.dag_params import (
    connectors_params_problem,
    resolve_params_problem,
    unknown_conf_problem,
)

RECONCILE = ("tables", "repair", "dry_run", "max_repairs", "recheck_delay_s")


def test_known_keys_and_no_conf_at_all_pass() -> None:
    assert unknown_conf_problem({"tables": ["a"], "repair": True}, RECONCILE) is None
    assert unknown_conf_problem({}, RECONCILE) is None
    assert unknown_conf_problem(None, RECONCILE) is None  # a scheduled run


def test_a_misspelt_key_is_named_with_the_param_it_was_probably_meant_for() -> None:
    problem = unknown_conf_problem({"tabels": ["customers"], "dry_run": False}, RECONCILE)
    assert problem == (
        "unknown Param(s) 'tabels' (did you mean 'tables'?) in the run's conf; nothing was "
        "done: its Params are tables, repair, dry_run, max_repairs, recheck_delay_s. Trigger it "
        "again with those names"
    )


def test_every_unknown_key_is_named_even_without_a_close_param() -> None:
    problem = unknown_conf_problem({"zzz": 1, "repiar": True}, RECONCILE)
    assert problem is not None
    assert "'repiar' (did you mean 'repair'?), 'zzz' in the run's conf" in problem


def test_a_dag_without_params_refuses_any_key() -> None:
    problem = unknown_conf_problem({"tables": []}, ())
    assert problem is not None
    assert "it takes no Params" in problem


@pytest.mark.parametrize(
    ("action", "tables", "drop_slot", "expected"),
    [
        ("snapshot_tables", [], False, "snapshot_tables needs Param `tables`"),
        ("snapshot_tables", None, False, "snapshot_tables needs Param `tables`"),
        ("apply", ["orders"], False, "Param `tables` is for snapshot_tables; apply acts on"),
        ("pause", [], True, "Param `drop_replication_slot` is for delete, not pause"),
        ("delete", [], False, "runs only with Param `confirm` set to 'delete'"),
        ("reset_lost_positions", [], False, "set to 'reset_lost_positions'"),
    ],
)
def test_connectors_params_that_do_not_go_together_are_named_as_in_the_form(
    action: str, tables: list[str] | None, drop_slot: bool, expected: str
) -> None:
    problem = connectors_params_problem(action, tables, drop_slot)
    assert problem is not None
    assert expected in problem
    assert "--" not in problem  # the CLI's options are not the form's


def test_connectors_params_that_go_together_pass() -> None:
    assert connectors_params_problem("snapshot_tables", ["gro*"], False) is None
    assert connectors_params_problem("delete", [], True, "delete") is None
    assert (
        connectors_params_problem("reset_lost_positions", [], False, " reset_lost_positions ")
        is None
    )
    assert connectors_params_problem("apply", None, False) is None


@pytest.mark.parametrize(("action", "confirm"), [("delete", "yes"), ("delete", "Delete")])
def test_a_destructive_connectors_action_needs_its_own_name_as_confirmation(
    action: str, confirm: str
) -> None:
    problem = connectors_params_problem(action, [], False, confirm)
    assert problem is not None
    assert "nothing was done" in problem


def test_confirm_on_an_action_that_does_not_take_it_is_refused() -> None:
    problem = connectors_params_problem("apply", None, False, "delete")
    assert problem is not None
    assert "Param `confirm` is for delete and reset_lost_positions" in problem


@pytest.mark.parametrize(
    ("ids", "table", "note", "expected"),
    [
        ([1], None, "", "resolve needs Param `note`"),
        ([1], None, "  ", "resolve needs Param `note`"),
        ([], None, "fixed", "resolve needs the ids of the dead letters (Param `ids`)"),
        ([], "", "fixed", "or a table to resolve all its open ones (Param `table`)"),
        ([1], "legacy.orders", "fixed", "resolve takes Param `ids` or Param `table`, not both"),
    ],
)
def test_resolve_needs_a_note_and_ids_or_a_table_in_the_forms_words(
    ids: list[int], table: str | None, note: str, expected: str
) -> None:
    problem = resolve_params_problem(ids, table, note)
    assert problem is not None
    assert expected in problem
    assert "--note" not in problem


def test_resolve_with_a_note_and_ids_or_a_table_passes() -> None:
    assert resolve_params_problem([3], None, "fixed by hand") is None
    assert resolve_params_problem([], "legacy.orders", "fixed by hand") is None
