"""What each DAG does with Params that cannot work, run through its task callables with a run's
context (no Airflow run, no database: the refusals come before any work), and how the trigger
forms show the Params (Airflow's UI marks a Param required unless its type allows null)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException

from mysql_pg_sync.airflow import dead_letters, endpoints
from mysql_pg_sync.airflow.dag_params import fail_now, failing_now, refuse_unknown_conf
from mysql_pg_sync.errors import ConfigError, MappingError
from mysql_pg_sync.settings import Endpoints, endpoints_from_env

REPO = Path(__file__).resolve().parents[2]
# Nothing listens there: a task that got past its checks fails at its first connection instead
# of acting on the local stack.
NOWHERE = {
    "MPS_MYSQL_PORT": "9",
    "MPS_PG_PORT": "9",
    "MPS_KAFKA_BOOTSTRAP": "127.0.0.1:9",
    "MPS_CONNECT_URL": "http://127.0.0.1:9",
}
MAPPINGS = (
    ("legacy.customers", "public.customers"),
    ("legacy.group", "public.group"),
)
KNOWN = "known: legacy.customers, legacy.group"
UNKNOWN = f"no mapping matches 'custmers'; {KNOWN}"


@pytest.fixture(scope="module")
def dags() -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"), safe_mode=False)
    assert bag.import_errors == {}
    return dict(bag.dags)


@pytest.fixture(autouse=True)
def _nowhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def nowhere() -> Endpoints:
        return endpoints_from_env(NOWHERE)

    # both imported above: a module first imported while patched would keep the patch
    monkeypatch.setattr(endpoints, "endpoints_from_airflow", nowhere)
    monkeypatch.setattr(dead_letters, "endpoints_from_airflow", nowhere)
    folder = tmp_path / "mappings"
    folder.mkdir()
    for source, target in MAPPINGS:
        entry = {
            "source": source,
            "target": target,
            "key": ["id"],
            "direction": "both",
            "columns": [{"name": "id", "column_type": "int", "nullable": False}],
        }
        (folder / f"{source}.yaml").write_text(yaml.safe_dump(entry))
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(folder))
    monkeypatch.setenv("MPS_EXPECTATIONS_DIR", str(tmp_path))  # no expectation files


def _runner(
    dag: Any, task_id: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[dict[str, Any]], Any]:
    """Call the task's function as a run with this conf would (what the UI or REST API sends)."""
    function = dag.get_task(task_id).python_callable

    def run(conf: dict[str, Any]) -> Any:
        params = {**{k: dag.params[k] for k in dag.params}, **conf}
        context = {
            "dag": dag,
            "dag_run": SimpleNamespace(conf=conf),
            "params": params,
            "run_id": "manual__test",
        }
        monkeypatch.setitem(function.__globals__, "get_current_context", lambda: context)
        return function()

    return run


def test_every_dag_refuses_an_unknown_conf_key_in_its_first_task(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert set(dags) >= {
        "backfill",
        "connectors",
        "connectors_health",
        "data_quality",
        "dead_letters",
        "reconcile",
        "stream",
    }
    for dag_id, dag in dags.items():
        for first in (t for t in dag.tasks if not t.upstream_task_ids):
            with pytest.raises(AirflowFailException) as err:
                _runner(dag, first.task_id, monkeypatch)({"tabels": ["customers"]})
            text = str(err.value)
            assert text.startswith("unknown Param(s) 'tabels'"), (dag_id, first.task_id, text)
            if "tables" in dag.params:
                assert "(did you mean 'tables'?)" in text
            assert ", ".join(dag.params) in text if len(dag.params) else "no Params" in text


def test_the_refusal_reads_the_run_conf_against_the_dags_declared_params() -> None:
    dag = SimpleNamespace(params={"minutes": 5})
    refuse_unknown_conf({"dag_run": SimpleNamespace(conf={"minutes": 1}), "dag": dag})
    refuse_unknown_conf({"dag_run": SimpleNamespace(conf=None), "dag": dag})  # scheduled
    bad = {"dag_run": SimpleNamespace(conf={"minuets": 1}), "dag": dag}
    with pytest.raises(AirflowFailException, match=r"'minuets' \(did you mean 'minutes'\?\)"):
        refuse_unknown_conf(bad)


def test_problems_fail_without_retries_and_other_errors_keep_their_retries() -> None:
    fail_now(None)
    with pytest.raises(AirflowFailException, match=r"^wrong$"):
        fail_now("wrong")
    with pytest.raises(AirflowFailException, match="no mapping matches"), failing_now(MappingError):
        raise MappingError("no mapping matches 'x'; known: a.b")
    with pytest.raises(ConfigError), failing_now(MappingError):  # e.g. a timeout: retried
        raise ConfigError("timed out")


def test_reconcile_and_backfill_name_the_misspelt_param_and_every_valid_one(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(AirflowFailException) as err:
        _runner(dags["reconcile"], "start", monkeypatch)({"tables": ["x"], "dryrun": False})
    assert str(err.value) == (
        "unknown Param(s) 'dryrun' (did you mean 'dry_run'?) in the run's conf; nothing was "
        "done: its Params are tables, repair, dry_run, max_repairs, authoritative, "
        "recheck_delay_s. Trigger it again with those names"
    )


def test_data_quality_refuses_an_unknown_table_at_once_listing_the_known_ones(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _runner(dags["data_quality"], "validate", monkeypatch)
    for name in ("custmers", "zz*"):
        with pytest.raises(AirflowFailException) as err:
            run({"tables": [name]})
        assert str(err.value) == f"no mapping matches {name!r}; {KNOWN}"


def test_data_quality_takes_a_glob(dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    selected: list[list[str]] = []

    def gather(endpoints: Any, mappings: Any, *rest: Any) -> Any:
        selected.append([m.name for m in mappings])
        raise LookupError("stop before reading")

    monkeypatch.setattr("mysql_pg_sync.quality.run.gather_facts", gather)
    with pytest.raises(LookupError):
        _runner(dags["data_quality"], "validate", monkeypatch)({"tables": ["gro*"]})
    assert selected == [["legacy.group"]]


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"action": "snapshot_tables"}, "snapshot_tables needs Param `tables`"),
        ({"action": "snapshot_tables", "tables": None}, "snapshot_tables needs Param `tables`"),
        ({"action": "snapshot_tables", "tables": ["custmers"]}, UNKNOWN),
        ({"action": "apply", "tables": ["customers"]}, "Param `tables` is for snapshot_tables"),
        ({"action": "stop", "drop_replication_slot": True}, "Param `drop_replication_slot` is for"),
        ({"action": "delete"}, "runs only with Param `confirm` set to 'delete'"),
        ({"action": "reset_lost_positions", "confirm": "yes"}, "Param `confirm` set to"),
    ],
)  # fmt: skip
def test_connectors_refuses_params_that_cannot_work_at_once(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch, conf: dict[str, Any], expected: str
) -> None:
    with pytest.raises(AirflowFailException) as err:
        _runner(dags["connectors"], "run_action", monkeypatch)(conf)
    assert expected in str(err.value)


@pytest.mark.parametrize(
    ("conf", "expected"),
    [
        ({"action": "resolve"}, "resolve needs Param `note`"),
        ({"action": "resolve", "ids": [1], "note": " "}, "resolve needs Param `note`"),
        ({"action": "resolve", "note": "done"}, "resolve needs the ids of the dead letters"),
        (
            {"action": "resolve", "ids": [1], "table": "customers", "note": "done"},
            "not both",
        ),
        ({"action": "list", "table": "custmers"}, UNKNOWN),
        ({"action": "retry", "table": "custmers"}, UNKNOWN),
        (
            {"action": "resolve", "table": "custmers", "note": "done"},
            UNKNOWN,
        ),
    ],
)
def test_dead_letters_refuses_params_that_cannot_work_at_once_in_the_forms_words(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch, conf: dict[str, Any], expected: str
) -> None:
    monkeypatch.setattr(dead_letters, "list_letters", lambda *a, **k: [])
    with pytest.raises(AirflowFailException) as err:
        _runner(dags["dead_letters"], "dead_letters", monkeypatch)(conf)
    assert expected in str(err.value)
    assert "--" not in str(err.value)  # the CLI's options are not the form's


def _required_in_form(schema: dict[str, Any]) -> bool:
    """Airflow 3's trigger form: a Param is required when its type is set without "null"."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


def test_no_param_with_an_empty_default_is_required_in_the_trigger_form(
    dags: dict[str, Any],
) -> None:
    required_but_empty = [
        f"{dag_id}.{name}"
        for dag_id, dag in dags.items()
        for name in dag.params
        if dag.params[name] in (None, "", [])
        and _required_in_form(dag.params.get_param(name).schema)
    ]
    assert required_but_empty == []
    for dag_id in ("backfill", "reconcile", "data_quality", "connectors"):
        tables = dags[dag_id].params.get_param("tables")
        assert tables.schema["items"] == {"type": "string"}  # still one string per line
        assert tables.resolve(None) is None
        assert tables.resolve(["gro*"]) == ["gro*"]
    note = dags["dead_letters"].params.get_param("note")
    assert note.resolve(None) is None


def test_param_descriptions_give_their_units(dags: dict[str, Any]) -> None:
    minutes = dags["stream"].params.get_param("minutes").description
    assert minutes.startswith("Minutes")
    assert "0.1 to 60" in minutes
    delay = dags["reconcile"].params.get_param("recheck_delay_s").description
    assert delay.startswith("Seconds")


def test_docs_say_each_action_once_and_what_a_retry_really_does(dags: dict[str, Any]) -> None:
    connectors = dags["connectors"].doc_md
    assert connectors.count("- `restart_failed`") == 1
    retry_doc = dags["dead_letters"].doc_md
    assert "deleted on the other side" not in retry_doc
    assert "a key is never deleted on a lookup" in retry_doc
    from mysql_pg_sync.cdc import dead_letter_plan

    assert "deletes the key" not in (dead_letter_plan.__doc__ or "")
    plan_doc = " ".join((dead_letter_plan.__doc__ or "").split())
    assert "writes nothing and the letter stays open" in plan_doc


def test_a_stream_run_with_a_held_table_fails_at_once_so_it_alerts_without_retries(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    held = {"legacy.items": "legacy.items: PostgreSQL lacks column 'note'; run `make ddl`"}
    monkeypatch.setattr(
        "mysql_pg_sync.cdc.service.run_stream", lambda *a, **k: {"held_tables": held}
    )
    monkeypatch.setattr(endpoints, "endpoints_from_airflow", endpoints_from_env)
    with pytest.raises(AirflowFailException) as err:  # not a plain error, which is retried
        _runner(dags["stream"], "consume", monkeypatch)({})
    assert "legacy.items: PostgreSQL lacks column 'note'" in str(err.value)


def test_a_dead_letter_action_that_cannot_be_done_fails_without_retries(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mysql_pg_sync.cdc.dead_letter_retry import DeadLetterError

    def unknown(*args: Any, **kwargs: Any) -> Any:
        raise DeadLetterError("no open dead letter has id 99; nothing was marked")

    monkeypatch.setattr(dead_letters, "resolve", unknown)
    monkeypatch.setattr(dead_letters, "endpoints_from_airflow", endpoints_from_env)
    monkeypatch.setattr(dead_letters, "load_mappings", lambda folder: None)
    with pytest.raises(AirflowFailException, match="no open dead letter has id 99"):
        _runner(dags["dead_letters"], "dead_letters", monkeypatch)(
            {"action": "resolve", "ids": [99], "note": "fixed by hand"}
        )


def test_a_stream_run_that_finds_an_old_hold_fails_without_a_second_alert(
    dags: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mysql_pg_sync.errors import AlreadyReported

    held = {"legacy.items": "legacy.items: PostgreSQL lacks column 'note'; run `make ddl`"}
    monkeypatch.setattr(
        "mysql_pg_sync.cdc.service.run_stream",
        lambda *a, **k: {"held_tables": held, "held_new_tables": []},
    )
    monkeypatch.setattr(endpoints, "endpoints_from_airflow", endpoints_from_env)
    with pytest.raises(AirflowFailException) as err:
        _runner(dags["stream"], "consume", monkeypatch)({})
    assert isinstance(err.value, AlreadyReported)  # red, but the notifier stays quiet
    assert "still held (an earlier run alerted)" in str(err.value)
