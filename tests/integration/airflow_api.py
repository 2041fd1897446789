"""The running Airflow api-server (`stack/stack up airflow-ui`) through its REST API, as the UI
calls it: log in, trigger DAG runs with Params, follow them under the real scheduler, read task
logs."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = f"http://127.0.0.1:{os.environ.get('MPS_AIRFLOW_PORT', '8080')}"
TIMEOUT_S = 60
FINISHED = ("success", "failed")
LOG_EXCERPT_LINES = 25
DAG_TEST_MAX_S = 900  # pytest's timeout (pyproject.toml): an older dag.test() run is orphaned

T = TypeVar("T")


def admin_password() -> str:
    path = Path(os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
    return str(json.loads(path.read_text())["admin"])


def healthy() -> bool:
    try:
        return requests.get(f"{AIRFLOW}/api/v2/monitor/health", timeout=30).ok
    except requests.RequestException:
        return False


def start_airflow_ui() -> str:
    """The running api-server, started (idempotently) when it is not up yet."""
    if not healthy():
        subprocess.run(
            ["bash", str(REPO / "stack/stack"), "up", "airflow-ui"],
            check=True,
            timeout=240,
            capture_output=True,
        )
    return AIRFLOW


def api(method: str, path: str, **kwargs: Any) -> Any:
    token = requests.post(
        f"{AIRFLOW}/auth/token",
        timeout=30,
        json={"username": "admin", "password": admin_password()},
    )
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = requests.request(method, f"{AIRFLOW}{path}", headers=headers, timeout=30, **kwargs)
    response.raise_for_status()
    return response.json() if response.content else None


def poll(
    what: str | Callable[[], str],
    check: Callable[[], T],
    timeout_s: float = TIMEOUT_S,
    every_s: float = 0.5,
) -> T:
    """``check()`` once it is truthy; ``what`` (a callable: asked at the time-out) says what
    was waited for."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            waited_for = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout_s:.0f}s waiting for {waited_for}")
        time.sleep(every_s)


# ------------------------------------------------------------------ runs under the scheduler


def trigger(dag_id: str, conf: dict[str, Any], prefix: str = "sched_test") -> str:
    """Trigger a run with Params (as the UI's trigger form does); returns its run id."""
    run_id = f"{prefix}_{uuid.uuid4().hex[:8]}"
    api(
        "POST",
        f"/api/v2/dags/{dag_id}/dagRuns",
        json={"dag_run_id": run_id, "logical_date": None, "conf": conf},
    )
    return run_id


def dag_run(dag_id: str, run_id: str) -> dict[str, Any]:
    return dict(api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))


def find_run(dag_id: str, run_id: str) -> dict[str, Any] | None:
    """The run, or None while it does not exist (yet)."""
    try:
        return dag_run(dag_id, run_id)
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return None
        raise


def runs_in_progress(dag_id: str) -> list[dict[str, Any]]:
    found = api("GET", f"/api/v2/dags/{dag_id}/dagRuns?state=queued&state=running&limit=100")
    return list(found["dag_runs"])


def task_instances(dag_id: str, run_id: str) -> list[dict[str, Any]]:
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=1000"
    return list(api("GET", path)["task_instances"])


def _task_name(ti: dict[str, Any]) -> str:
    return ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] >= 0 else "")


def task_states(dag_id: str, run_id: str) -> str:
    return ", ".join(f"{_task_name(t)}={t['state']}" for t in task_instances(dag_id, run_id))


def wait_for_run(dag_id: str, run_id: str, timeout_s: float) -> dict[str, Any]:
    """The run once it has finished; a failed run fails the test naming its failed tasks."""
    run = poll(
        lambda: f"DAG {dag_id} run {run_id} to finish; its tasks: {task_states(dag_id, run_id)}",
        lambda: (r := dag_run(dag_id, run_id))["state"] in FINISHED and r,
        timeout_s,
        every_s=0.5,
    )
    if run["state"] != "success":
        pytest.fail(failure_report(dag_id, run_id))
    return run


def failure_report(dag_id: str, run_id: str) -> str:
    """The DAG, the run, each failed task and the end of its last try's log."""
    tis = task_instances(dag_id, run_id)
    failed = [t for t in tis if t["state"] in ("failed", "upstream_failed")]
    lines = [f"DAG {dag_id} run {run_id} failed under the scheduler"]
    for ti in failed:
        lines.append(f"--- task {_task_name(ti)}: {ti['state']} after {ti['try_number']} tries")
        if ti["state"] == "failed":
            lines.extend(task_log_excerpt(dag_id, run_id, ti))
    return "\n".join(lines)


def task_log_excerpt(dag_id: str, run_id: str, ti: dict[str, Any]) -> list[str]:
    """The last lines of a task instance's last try, its exception first."""
    path = (
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/"
        f"{ti['try_number']}?map_index={ti['map_index']}&full_content=true"
    )
    try:
        content = api("GET", path)["content"]
    except requests.RequestException as exc:
        return [f"(log not readable: {exc})"]
    lines = []
    for entry in content:
        event = entry if isinstance(entry, str) else entry.get("event") or ""
        if event.strip().startswith("::"):  # the log viewer's folding markers
            continue
        if isinstance(entry, dict):
            for error in entry.get("error_detail") or []:
                lines.append(f"{error.get('exc_type')}: {error.get('exc_value')}")
            event = f"{entry.get('level', '')} {event}"
        lines.append(event.strip())
    return [line for line in lines if line][-LOG_EXCERPT_LINES:]


def _age_s(run: dict[str, Any]) -> float:
    started = datetime.fromisoformat(run["start_date"] or run["run_after"])
    return (datetime.now(UTC) - started).total_seconds()


def settle_dag_test_runs(dag_id: str, timeout_s: float) -> None:
    """Wait for the ``dag.test()`` runs of a DAG (other tests, ``make demo``) to end; mark failed
    those older than the test timeout, left by a killed process. While the DAG is unpaused the
    scheduler would take over their tasks and run them, with their conf, on the stack's
    connections."""
    for run in runs_in_progress(dag_id):
        if run["triggered_by"] == "test" and _age_s(run) > DAG_TEST_MAX_S:
            api(
                "PATCH",
                f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}",
                json={"state": "failed"},
            )
    poll(
        f"the dag.test() runs of {dag_id} to end (the scheduler would take over their tasks)",
        lambda: not [r for r in runs_in_progress(dag_id) if r["triggered_by"] == "test"],
        timeout_s,
        every_s=1,
    )


def busy(dag_ids: tuple[str, ...]) -> list[str]:
    """The runs of these DAGs queued or running and the Asset events waiting to start one;
    ``dag.test()`` runs do not count: their own process runs them."""
    pending = []
    for dag_id in dag_ids:
        pending += [
            f"{dag_id} run {r['dag_run_id']} ({r['state']})"
            for r in runs_in_progress(dag_id)
            if r["triggered_by"] != "test"
        ]
        queued = api("GET", f"/api/v2/dags/{dag_id}/assets/queuedEvents")["total_entries"]
        if queued:
            pending.append(f"{dag_id}: {queued} queued Asset event(s)")
    return pending


@contextmanager
def scheduling(*dag_ids: str, timeout_s: float = 300) -> Iterator[None]:
    """The DAGs unpaused, so the scheduler runs their runs (a paused DAG's runs neither start nor
    finish); afterwards each DAG's paused state as it was found.

    Before pausing again, the runs still going (a nightly run that unpausing caught up, the
    data_quality runs that Asset events start) are waited for: paused mid-run they would stay
    'running' until the next unpause."""
    for dag_id in dag_ids:
        settle_dag_test_runs(dag_id, timeout_s)
    paused = {d: bool(api("GET", f"/api/v2/dags/{d}")["is_paused"]) for d in dag_ids}
    try:
        for dag_id in dag_ids:
            api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        yield
    finally:
        try:
            poll(
                lambda: f"the runs of {', '.join(dag_ids)} to end: {busy(dag_ids)}",
                lambda: not busy(dag_ids),
                timeout_s,
                every_s=0.5,
            )
        finally:
            for dag_id, was_paused in paused.items():
                api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": was_paused})
