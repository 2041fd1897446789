"""`stack/stack exec -- CMD`: the MPS_* the caller exported win, stack.env fills in the others;
install/up/down keep stack.env's (they run the shared servers). `exec -- env` starts no
service: it exports the environment and runs `env`."""

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


def _exec_env(env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        ["bash", str(STACK), "exec", "--", "env", "-0"],
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    pairs = (item.split("=", 1) for item in done.stdout.decode().split("\0") if "=" in item)
    return dict(pairs)


def test_without_caller_values_exec_uses_the_stacks_own(tmp_path: Path) -> None:
    got = _exec_env(_caller(tmp_path))
    stack = _stack_env()
    assert stack  # the file was read
    assert {name: got.get(name) for name in stack} == stack


def test_a_value_the_caller_exported_wins_over_stack_env(tmp_path: Path) -> None:
    env = _caller(
        tmp_path,
        MPS_PG_PORT="15433",
        MPS_PG_DATABASE="mps_test_exec_env",
        MPS_MAPPINGS_DIR=str(tmp_path / "maps"),
        MPS_PG_PASSWORD="pass word=with spaces",
    )
    got = _exec_env(env)
    assert got["MPS_PG_PORT"] == "15433"
    assert got["MPS_PG_DATABASE"] == "mps_test_exec_env"
    assert got["MPS_MAPPINGS_DIR"] == str(tmp_path / "maps")
    assert got["MPS_PG_PASSWORD"] == "pass word=with spaces"
    # the ones the caller left unset still come from stack.env
    stack = _stack_env()
    for name in ("MPS_MYSQL_PORT", "MPS_PG_HOST", "MPS_PG_USER", "MPS_KAFKA_BOOTSTRAP"):
        assert got[name] == stack[name]
    # the stack's own Airflow metadata database stays the stack's
    assert f"@127.0.0.1:{stack['MPS_PG_PORT']}/" in got["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


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
