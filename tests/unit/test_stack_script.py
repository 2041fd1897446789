"""stack/stack recovers from its own half-done steps: the functions run in isolation (the script
defines them without running when sourced), against a temporary state folder, with no service."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "stack" / "stack"
CLUSTER_ID = "U18aQ4rURJ-CrJr3J8G27w"


def _bash(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        MPS_STATE_DIR=str(tmp_path / "state"),
        MPS_VENV=str(tmp_path / "venv"),
        MPS_STACK_LOCKED="",
    )
    return subprocess.run(
        ["bash", "-c", f'. "{STACK}"\nmkdir -p "$LOGS" "$RUN" "$KAFKA_DIR"\n{script}'],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )


def test_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(STACK)], check=False).returncode == 0


def test_sbin_is_on_path_for_mariadbd(tmp_path: Path) -> None:
    result = _bash('echo "$PATH"', tmp_path)
    assert result.returncode == 0, result.stderr
    assert "/usr/sbin" in result.stdout.strip().split(":")


def test_failed_cluster_id_leaves_no_empty_file_and_the_next_run_makes_one(tmp_path: Path) -> None:
    failed = _bash(': >"$KAFKA_DIR/cluster.id"\njava() { return 1; }\nkafka_cluster_id', tmp_path)
    assert failed.returncode != 0
    assert "could not generate a Kafka cluster id" in failed.stderr
    cluster_id = tmp_path / "state" / "kafka" / "cluster.id"
    assert cluster_id.read_text() == ""  # the empty file an older run left is not trusted...
    made = _bash(f"java() {{ echo noise; echo {CLUSTER_ID}; }}\nkafka_cluster_id", tmp_path)
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == CLUSTER_ID  # ...but made again
    assert cluster_id.read_text().strip() == CLUSTER_ID
    reused = _bash("java() { echo should-not-run; }\nkafka_cluster_id", tmp_path)
    assert reused.stdout.strip() == CLUSTER_ID


def test_connect_restarts_only_when_its_jar_stamps_change(tmp_path: Path) -> None:
    script = """
    mkdir -p "$STATE/lib/kafka" "$STATE/lib/plugins/debezium-mysql"
    echo k1 >"$STATE/lib/kafka/.installed"; echo p1 >"$STATE/lib/plugins/debezium-mysql/.installed"
    echo c1 >"$STATE/lib/plugins/debezium-mysql/.mps-converters"
    sleep 1.1; echo 1 >"$RUN/connect.pid"
    check() { if jars_changed connect connect "$RUN/connect.pid" "$RUN/connect.jars" >/dev/null
      then echo "$1=restart"; else echo "$1=keep"; fi; }
    check no-record-older-stamps   # a worker an older stack/stack started: its stamp is recorded
    check same
    echo c2 >"$STATE/lib/plugins/debezium-mysql/.mps-converters"
    check converters-recompiled
    jar_stamp connect >"$RUN/connect.jars"; check after-restart
    jar_stamp kafka >"$RUN/kafka.jars"
    if jars_changed kafka kafka "$RUN/connect.pid" "$RUN/kafka.jars" >/dev/null
      then echo kafka=restart; else echo kafka=keep; fi
    rm "$RUN/connect.jars"; sleep 1.1; touch "$STATE/lib/plugins/debezium-mysql/.mps-converters"
    check no-record-newer-stamp
    """
    result = _bash(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "no-record-older-stamps=keep",
        "same=keep",
        "converters-recompiled=restart",
        "after-restart=keep",
        "kafka=keep",  # converters are Connect's only
        "no-record-newer-stamp=restart",
    ]


def test_a_venv_without_pip_is_not_usable(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True
    )
    result = _bash(
        'venv_usable && echo usable || echo broken; echo "[$(venv_interpreter)]"', tmp_path
    )
    assert result.returncode == 0, result.stderr
    status, interpreter = result.stdout.split("\n")[:2]
    assert status == "broken"
    # version and path: they go into the venv's stamp
    assert interpreter.startswith("[3.")
    assert interpreter.endswith("]")


def test_install_rejects_an_unknown_package_set(tmp_path: Path) -> None:
    result = _bash("cmd_install nonsense", tmp_path)
    assert result.returncode != 0
    assert "unknown package set 'nonsense'" in result.stderr


def test_every_transform_is_in_the_service_loader_list() -> None:
    """Connect's plugin.discovery=service_load finds only the transforms the jar's
    META-INF/services list names: a transform left out would fail `connectors apply`."""
    java = REPO / "stack" / "java"
    transforms = {
        f"local.mysqlpgsync.{f.stem}"
        for f in java.glob("*.java")
        if re.search(r"implements\s+Transformation<", f.read_text())
    }
    listed = re.search(r'local transforms="([^"]*)"', (REPO / "stack" / "stack").read_text())
    assert listed is not None
    assert transforms
    assert set(listed.group(1).split()) == transforms
