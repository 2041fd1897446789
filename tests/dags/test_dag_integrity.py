"""Every DAG imports cleanly, touches no database or network while parsed, and is documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"

# Parse the DAG folder in a child process whose sockets refuse to connect: any database, Kafka or
# HTTP call made at import time turns into an import error that names the file.
_PARSE_WITHOUT_NETWORK = r"""
import json, socket, sys
def _refuse(self, address):
    raise RuntimeError(f"network/database access while parsing DAGs: connect({address!r})")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
def _names(callbacks):
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []
    return [f"{c.__module__}.{getattr(c, '__qualname__', type(c).__name__)}" for c in callbacks]
def _seconds(delta):
    return delta.total_seconds() if delta is not None else None
for dag_id, dag in bag.dags.items():
    out["dags"][dag_id] = {
        "doc_md": dag.doc_md or "",
        "tags": sorted(dag.tags or []),
        "file": dag.fileloc,
        "dagrun_timeout": _seconds(dag.dagrun_timeout),
        "params": {k: {"default": dag.params.get_param(k).value,
                       "description": dag.params.get_param(k).description or ""}
                   for k in dag.params},
        "tasks": [
            {"id": t.task_id, "owner": t.owner, "retries": t.retries,
             "on_failure": _names(t.on_failure_callback),
             "execution_timeout": _seconds(t.execution_timeout),
             "retry_delay": _seconds(t.retry_delay)}
            for t in dag.tasks
        ],
        "on_failure_dag": bool(dag.on_failure_callback),
    }
print(json.dumps(out, default=str))
"""
NOTIFIER = "mysql_pg_sync.airflow.notifier.notify_failure"


@pytest.fixture(scope="module")
def parsed() -> dict:
    result = subprocess.run(
        [sys.executable, "-c", _PARSE_WITHOUT_NETWORK, str(DAGS)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_dag_folder_imports_without_errors_or_network(parsed: dict) -> None:
    assert parsed["errors"] == {}


def test_every_dag_file_defines_dags(parsed: dict) -> None:
    files = {str(p) for p in DAGS.glob("*.py") if not p.name.startswith("_")}
    assert files, "dags/ holds no DAG file"
    assert files == {d["file"] for d in parsed["dags"].values()}


def test_every_dag_is_documented_tagged_owned_and_retried(parsed: dict) -> None:
    problems = []
    for dag_id, dag in parsed["dags"].items():
        if len(dag["doc_md"].strip()) < 40:
            problems.append(f"{dag_id}: doc_md missing (use doc_md=__doc__)")
        if not dag["tags"]:
            problems.append(f"{dag_id}: no tags")
        for task in dag["tasks"]:
            if task["owner"] in ("", "airflow"):
                problems.append(f"{dag_id}.{task['id']}: owner not set")
            if task["retries"] < 1:
                problems.append(f"{dag_id}.{task['id']}: retries < 1")
    assert problems == []


def test_the_products_dags_are_all_there(parsed: dict) -> None:
    assert set(parsed["dags"]) >= {
        "backfill",
        "connectors",
        "connectors_health",
        "stream",
        "reconcile",
        "data_quality",
        "dead_letters",
        "state_retention",
    }


def test_every_task_of_every_dag_alerts_through_the_notifier(parsed: dict) -> None:
    """docs/monitoring.md: notify_failure is every DAG's failure callback."""
    missing = [
        f"{dag_id}.{task['id']}"
        for dag_id, dag in parsed["dags"].items()
        for task in dag["tasks"]
        if NOTIFIER not in task["on_failure"]
    ]
    assert missing == []


def test_a_run_timeout_outlasts_every_try_so_the_final_failure_alerts(parsed: dict) -> None:
    """The scheduler skips the tasks of a run it times out: a task still retrying then never
    fails, and its failure callback never fires."""
    problems = []
    for dag_id, dag in parsed["dags"].items():
        if dag["dagrun_timeout"] is None:
            continue
        worst = 0.0
        for task in dag["tasks"]:
            if task["execution_timeout"] is None:
                problems.append(f"{dag_id}.{task['id']}: no execution_timeout under a run timeout")
                continue
            tries = task["retries"] + 1
            worst += tries * task["execution_timeout"] + task["retries"] * task["retry_delay"]
        if worst >= dag["dagrun_timeout"]:
            problems.append(f"{dag_id}: tries take up to {worst} s >= {dag['dagrun_timeout']} s")
    assert problems == []


def test_backfill_chunk_rows_defaults_to_each_mappings_value(parsed: dict) -> None:
    from mysql_pg_sync.airflow.dag_params import backfill_options

    params = parsed["dags"]["backfill"]["params"]
    assert params["chunk_rows"]["default"] is None
    assert "mapping's backfill.chunk_rows" in params["chunk_rows"]["description"]
    defaults = {k: p["default"] for k, p in params.items()}
    options = backfill_options(defaults)
    assert (options.chunk_rows, options.chunk_mb) == (None, None)  # None: the mapping decides
    assert backfill_options({**defaults, "chunk_rows": 0}).chunk_rows is None
    assert backfill_options({**defaults, "chunk_rows": 5000}).chunk_rows == 5000


def test_reconcile_params_say_repairs_are_written_only_with_dry_run_off(parsed: dict) -> None:
    params = parsed["dags"]["reconcile"]["params"]
    assert params["dry_run"]["default"] is True
    assert "only with dry_run off" in params["repair"]["description"]
    assert "nothing is written" in params["dry_run"]["description"]
    assert "**nothing is written**" in parsed["dags"]["reconcile"]["doc_md"]
