"""`stack/stack exec -- CMD` runs CMD against this machine's stack: stack.env's MPS_* win over
the caller's (so `make test` and `make prune-test-data` never reach endpoints a shell happens to
export), and exec names each value it replaced instead of replacing it silently. Variables
stack.env does not set stay the caller's. `exec -- env` starts no service: it exports the
environment and runs `env`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "stack" / "stack"


def _stack_env() -> dict[str, str]:
    values = {}
    for line in (REPO / "stack" / "stack.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def _caller(tmp_path: Path, **mps: str) -> dict[str, str]:
    """This environment without any MPS_* (a test run through `stack/stack exec` has them all),
    plus ``mps``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPS_")}
    return {**env, "MPS_STATE_DIR": str(tmp_path / "state"), **mps}


def _exec(env: dict[str, str]) -> tuple[dict[str, str], str]:
    """The environment CMD gets, and what exec printed on stderr."""
    done = subprocess.run(
        ["bash", str(STACK), "exec", "--", "env", "-0"],
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    return dict(pairs), done.stderr.decode()


def _exec_env(env: dict[str, str]) -> dict[str, str]:
    return _exec(env)[0]


def test_without_caller_values_exec_uses_the_stacks_own(tmp_path: Path) -> None:
    got = _exec_env(_caller(tmp_path))
    stack = _stack_env()
    assert stack  # the file was read
    assert {name: got.get(name) for name in stack} == stack


def test_stack_env_wins_and_exec_names_each_value_it_replaced(tmp_path: Path) -> None:
    maps = str(tmp_path / "maps")
    env = _caller(tmp_path, MPS_PG_PORT="15433", MPS_PG_DATABASE="x", MPS_MAPPINGS_DIR=maps)
    got, said = _exec(env)
    stack = _stack_env()
    assert got["MPS_PG_PORT"] == stack["MPS_PG_PORT"]
    assert got["MPS_PG_DATABASE"] == stack["MPS_PG_DATABASE"]
    assert got["MPS_MAPPINGS_DIR"] == maps  # stack.env does not set it: the caller's
    assert "MPS_PG_PORT from your environment is replaced by the local stack's value" in said
    assert "MPS_PG_DATABASE from your environment is replaced" in said
    assert "MPS_MAPPINGS_DIR" not in said
    assert "run .venv/bin/python -m mysql_pg_sync" in said


def test_a_caller_value_equal_to_the_stacks_is_not_reported(tmp_path: Path) -> None:
    """A nested `stack/stack exec` (a test run through `make test` calls it) exports the same
    values it reads: nothing to say."""
    stack = _stack_env()
    _, said = _exec(_caller(tmp_path, MPS_PG_PORT=stack["MPS_PG_PORT"]))
    assert said == ""


def test_an_empty_caller_value_counts_as_unset(tmp_path: Path) -> None:
    got = _exec_env(_caller(tmp_path, MPS_PG_PORT=""))
    assert got["MPS_PG_PORT"] == _stack_env()["MPS_PG_PORT"]


def test_install_up_and_down_keep_the_stack_env_values(tmp_path: Path) -> None:
    """The commands that run the shared servers (and write the Airflow connections) see
    stack.env's values whatever the caller exported: sourced, the script runs no command."""
    env = _caller(tmp_path, MPS_PG_PORT="15433", MPS_PG_DATABASE="mps_test_exec_env")
    done = subprocess.run(
        ["bash", "-c", f'. "{STACK}"\necho "$MPS_PG_PORT $MPS_PG_DATABASE"'],
        capture_output=True,
        text=True,
        env=env,
        check=True,
        timeout=60,
    )
    stack = _stack_env()
    assert done.stdout.split() == [stack["MPS_PG_PORT"], stack["MPS_PG_DATABASE"]]
