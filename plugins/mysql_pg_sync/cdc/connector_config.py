"""Render the Debezium connector configs from the templates in include/connectors and the mappings.

Templates are data (YAML with ``{{placeholder}}`` fields); this module only fills them in. The
MySQL side captures tables whose mapping replicates to PostgreSQL, the PostgreSQL side tables that
replicate back. Passwords are never rendered: the configs hold ``${file:<secrets>:<key>}``
references that Kafka Connect resolves itself.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from mysql_pg_sync.cdc.connector_drift import is_secret
from mysql_pg_sync.cdc.loop_guard import LoopTags, backfill_origin, tags_from_env
from mysql_pg_sync.cdc.unparseable_ddl import ddl_filter
from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.names import HEARTBEAT_TABLE, SIGNAL_TABLE
from mysql_pg_sync.settings import Endpoints

REPO = Path(__file__).resolve().parents[3]
DEFAULT_TEMPLATES = REPO / "include" / "connectors"
DEFAULT_SECRETS_FILE = REPO / ".stack" / "secrets" / "connect.properties"

Flavour = Literal["mariadb", "mysql"]
Converter = Literal["json", "avro", "worker"]
Side = Literal["mysql", "postgres"]

CONNECTOR_CLASSES: dict[Flavour, str] = {
    "mariadb": "io.debezium.connector.mariadb.MariaDbConnector",
    "mysql": "io.debezium.connector.mysql.MySqlConnector",
}
POSTGRES_CONNECTOR_CLASS = "io.debezium.connector.postgresql.PostgresConnector"
PG_SIGNAL_SCHEMA = "mps_sync"  # the sync metadata schema (ADR 0005)
DEFAULT_HEARTBEAT_MS = 10_000
DEFAULT_ERRORS_MAX_RETRIES = 3  # Debezium's -1 retries forever and hides a broken source
# Debezium 3.x reads its DDL filter under this name (an "internal." field,
# SchemaHistory.DDL_FILTER): the documented schema.history.internal.ddl.filter is ignored, so the
# name is checked against the real connector in test_connectors_unparseable_ddl.py
DDL_FILTER = "internal.schema.history.internal.ddl.filter"
SCHEMA_RECOVERY_MODE = "recovery"  # Debezium's snapshot.mode that re-reads the schema only
_SERVER_ID_BASE = 100_000  # clear of the small ids real servers and replicas use
_SERVER_ID_SPAN = 2_000_000_000
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TOPIC_INVALID = re.compile(r"[^A-Za-z0-9._-]")  # Kafka's legal topic name characters


def detect_flavour(version: str) -> Flavour:
    """MariaDB or MySQL from ``SELECT VERSION()`` (``10.11.6-MariaDB-0+deb12u1`` vs ``8.4.3``)."""
    return "mariadb" if "mariadb" in version.lower() else "mysql"


@dataclass(frozen=True)
class ConnectorSettings:
    """Names and knobs of the two source connectors; everything else comes from the mappings."""

    prefix: str = "mps"
    secrets_file: str = str(DEFAULT_SECRETS_FILE)
    mysql_user_key: str = "mysql.user"
    mysql_password_key: str = "mysql.password"
    postgres_user_key: str = "postgres.user"
    postgres_password_key: str = "postgres.password"
    heartbeat_ms: int = DEFAULT_HEARTBEAT_MS
    errors_max_retries: int = DEFAULT_ERRORS_MAX_RETRIES
    converter: Converter = "json"
    templates_dir: Path = DEFAULT_TEMPLATES
    tags: LoopTags = field(default_factory=LoopTags)  # the sync's writers' (ADR 0003, 0012)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", self.prefix):
            raise ConfigError(
                f"connector prefix {self.prefix!r} must be lowercase letters, digits and '_' "
                "(it names the replication slot, which PostgreSQL restricts the same way)"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ConnectorSettings:
        """``MPS_CONNECTOR_PREFIX``, ``MPS_CONNECT_SECRETS_FILE``, ``MPS_CONNECT_CONVERTER``,
        and the loop tags (``MPS_PG_ORIGIN``, ``MPS_GTID_DOMAIN``)."""
        env = os.environ if env is None else env
        converter = env.get("MPS_CONNECT_CONVERTER", "json")
        if converter not in ("json", "avro", "worker"):
            raise ConfigError(
                f"MPS_CONNECT_CONVERTER={converter!r}; use json, avro or worker "
                "(worker keeps the Connect worker's own converters)"
            )
        return cls(
            prefix=env.get("MPS_CONNECTOR_PREFIX", "mps"),
            secrets_file=env.get("MPS_CONNECT_SECRETS_FILE") or str(DEFAULT_SECRETS_FILE),
            converter=converter,  # type: ignore[arg-type]  # checked just above
            tags=tags_from_env(env),
        )

    @property
    def mysql_connector(self) -> str:
        return f"{self.prefix}-mysql-source"

    @property
    def postgres_connector(self) -> str:
        return f"{self.prefix}-postgres-source"

    @property
    def mysql_topic_prefix(self) -> str:
        return f"{self.prefix}_mysql"

    @property
    def postgres_topic_prefix(self) -> str:
        return f"{self.prefix}_pg"

    @property
    def slot_name(self) -> str:
        return f"{self.prefix}_pg_slot"

    @property
    def publication_name(self) -> str:
        return f"{self.prefix}_pg_publication"

    @property
    def server_id(self) -> int:
        """Our replica id on the binlog: stable per connector, unlikely to collide."""
        return _SERVER_ID_BASE + zlib.crc32(self.mysql_connector.encode()) % _SERVER_ID_SPAN

    def connector_name(self, side: Side) -> str:
        return self.mysql_connector if side == "mysql" else self.postgres_connector


@dataclass(frozen=True)
class RenderedConnector:
    """One connector ready for ``PUT /connectors/{name}/config``."""

    name: str
    side: Side
    config: dict[str, str]
    tables: tuple[str, ...]  # captured tables, as MySQL db.table / PostgreSQL schema.table
    topic_prefix: str
    signal_table: str


def change_topic(topic_prefix: str, namespace: str, table: str) -> str:
    """The Kafka topic Debezium writes a table's changes to.

    Debezium replaces each character a topic name cannot hold with '_' (per UTF-16 unit, as Java
    counts: a character outside the BMP becomes two)."""
    name = f"{topic_prefix}.{namespace}.{table}"
    return _TOPIC_INVALID.sub(lambda m: "__" if ord(m.group()) > 0xFFFF else "_", name)


def mysql_signal_table(endpoints: Endpoints) -> str:
    return f"{endpoints.mysql.database}.{SIGNAL_TABLE}"


def postgres_signal_table() -> str:
    return f"{PG_SIGNAL_SCHEMA}.{SIGNAL_TABLE}"


def postgres_heartbeat_table() -> str:
    return f"{PG_SIGNAL_SCHEMA}.{HEARTBEAT_TABLE}"


def postgres_heartbeat_query() -> str:
    """What the PostgreSQL source runs every heartbeat: a change in its own publication, so
    Debezium confirms a newer LSN and the slot releases WAL that other databases wrote."""
    return (
        f"INSERT INTO {postgres_heartbeat_table()} (id, beat_at) VALUES (1, now()) "
        "ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at"
    )


def mysql_captured_tables(mappings: Iterable[TableMapping]) -> tuple[str, ...]:
    """MySQL ``db.table`` of enabled mappings that replicate MySQL -> PostgreSQL, sorted."""
    return tuple(sorted({str(m.source) for m in mappings if m.replicates_to_pg()}))


# The columns where Debezium would send MySQL's zero date as the epoch (NOT NULL DATE and
# DATETIME; a TIMESTAMP cannot hold the epoch itself, so its epoch is the zero date): the
# ZeroDateAsNull converter (stack/java) sends null there, and a real 1970-01-01 stays itself.
ZERO_DATE_CONVERTER = "local.mysqlpgsync.ZeroDateAsNull"
_ZERO_DATE_KINDS = ("date", "datetime")


def mysql_captured_databases(mappings: Iterable[TableMapping], endpoints: Endpoints) -> list[str]:
    """The MySQL source's database include list: the captured tables' and the signal table's."""
    tables = mysql_captured_tables(mappings)
    return sorted({t.split(".", 1)[0] for t in tables} | {endpoints.mysql.database})


def zero_date_columns(mappings: Iterable[TableMapping]) -> tuple[str, ...]:
    """MySQL ``db.table.column`` of the NOT NULL date and datetime columns the MySQL source
    captures, sorted: the columns the ZeroDateAsNull converter takes over."""
    return tuple(
        sorted(
            f"{m.source}.{c.name}"
            for m in mappings
            if m.replicates_to_pg()
            for c in m.synced_columns()
            if not c.nullable and c.kind in _ZERO_DATE_KINDS
        )
    )


def postgres_captured_tables(mappings: Iterable[TableMapping]) -> tuple[str, ...]:
    """PostgreSQL ``schema.table`` of enabled mappings that replicate back to MySQL, sorted."""
    return tuple(sorted({str(m.target) for m in mappings if m.replicates_to_mysql()}))


def include_list(names: Iterable[str]) -> str:
    """Debezium's include lists are comma-separated, fully matched regular expressions."""
    out = []
    for name in names:
        if "," in name:
            raise ConfigError(
                f"table {name!r} contains a comma, which Debezium's include lists cannot express; "
                "rename the table or leave it out of the mappings"
            )
        out.append(re.escape(name))
    return ",".join(out)


_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def refuse_non_avro_names(mappings: Iterable[TableMapping], side: Side) -> None:
    """The Avro converter rewrites a column name Avro does not allow ('first name' becomes
    'first_name'), so the stream would never see that column's values: refuse it up front."""
    bad = []
    for m in mappings:
        if side == "mysql" and m.replicates_to_pg():
            bad += [f"{m.name}.{c.name}" for c in m.synced_columns() if not _avro(c.name)]
        if side == "postgres" and m.replicates_to_mysql():
            bad += [f"{m.target}.{c.pg_name}" for c in m.synced_columns() if not _avro(c.pg_name)]
    if bad:
        raise ConfigError(
            f"{side} column(s) {', '.join(repr(b) for b in bad)} are not valid Avro field names "
            "([A-Za-z_][A-Za-z0-9_]*): the Avro converter would rename them and the stream "
            "would never see their values; use the JSON converter (MPS_CONNECT_CONVERTER=json), "
            "or exclude such a column in its mapping (a PostgreSQL one can get another pg_name)"
        )


def _avro(name: str) -> bool:
    return _AVRO_NAME.fullmatch(name) is not None


def render_mysql_source(
    mappings: MappingSet | Iterable[TableMapping],
    endpoints: Endpoints,
    settings: ConnectorSettings,
    flavour: Flavour,
    skipped_ddl: Sequence[str] = (),
) -> RenderedConnector:
    """``skipped_ddl``: statements Debezium cannot parse that it is to skip (see
    :mod:`.unparseable_ddl`), recorded by ``connectors skip_ddl``."""
    mappings = tuple(mappings)
    if settings.converter == "avro":
        refuse_non_avro_names(mappings, "mysql")
    tables = mysql_captured_tables(mappings)
    if not tables:
        raise ConfigError(
            "no enabled mapping replicates mysql_to_pg, so the MySQL connector would capture "
            "every table (Debezium reads an empty include list as 'all'); enable a mapping first"
        )
    signal = mysql_signal_table(endpoints)
    databases = mysql_captured_databases(mappings, endpoints)
    values = {
        "connector_name": settings.mysql_connector,
        "connector_class": CONNECTOR_CLASSES[flavour],
        "host": endpoints.mysql.host,
        "port": str(endpoints.mysql.port),
        "secrets_file": settings.secrets_file,
        "user_key": settings.mysql_user_key,
        "password_key": settings.mysql_password_key,
        "server_id": str(settings.server_id),
        "topic_prefix": settings.mysql_topic_prefix,
        "database_include_list": include_list(databases),
        "table_include_list": include_list((*tables, signal)),
        "kafka_bootstrap": endpoints.kafka_bootstrap,
        "heartbeat_ms": str(settings.heartbeat_ms),
        "signal_table": signal,
        "errors_max_retries": str(settings.errors_max_retries),
        "zero_date_converter": ZERO_DATE_CONVERTER,
        "zero_date_columns": ",".join(zero_date_columns(mappings)),
    }
    config = _render(settings, "mysql_source.yaml", values, endpoints)
    skips = ddl_filter(skipped_ddl)
    if skips is not None:
        config[DDL_FILTER] = skips
    return RenderedConnector(
        settings.mysql_connector, "mysql", config, tables, settings.mysql_topic_prefix, signal
    )


def added_databases(current: Mapping[str, str] | None, desired: Mapping[str, str]) -> list[str]:
    """Databases the ``desired`` MySQL source config includes and the running one did not (pure).

    The schema history keeps only the included databases' DDL
    (``schema.history.internal.store.only.captured.databases.ddl``), so the connector has never
    seen the tables of such a database: the first change to one fails its task ("Encountered
    change event for table ... whose schema isn't known to this connector"). A new connector
    (``current`` None) reads the schema of every included database when it starts anyway.
    """
    if current is None:
        return []

    def names(config: Mapping[str, str]) -> set[str]:
        patterns = config.get("database.include.list") or ""
        return {re.sub(r"\\(.)", r"\1", p) for p in patterns.split(",") if p}  # see include_list

    return sorted(names(desired) - names(current))


def with_schema_recovery(connector: RenderedConnector) -> RenderedConnector:
    """The MySQL source in ``snapshot.mode=recovery``: each start records the current schema of
    every included database in the history, then streams on from the stored binlog position."""
    return replace(connector, config={**connector.config, "snapshot.mode": SCHEMA_RECOVERY_MODE})


def render_postgres_source(
    mappings: MappingSet | Iterable[TableMapping],
    endpoints: Endpoints,
    settings: ConnectorSettings,
) -> RenderedConnector:
    mappings = tuple(mappings)
    if settings.converter == "avro":
        refuse_non_avro_names(mappings, "postgres")
    tables = postgres_captured_tables(mappings)
    if not tables:
        raise ConfigError(
            "no enabled mapping replicates pg_to_mysql, so the PostgreSQL connector has nothing "
            "to capture; set direction 'both' or 'pg_to_mysql' on a mapping first"
        )
    signal = postgres_signal_table()
    values = {
        "connector_name": settings.postgres_connector,
        "host": endpoints.postgres.host,
        "port": str(endpoints.postgres.port),
        "database": endpoints.postgres.database,
        "secrets_file": settings.secrets_file,
        "user_key": settings.postgres_user_key,
        "password_key": settings.postgres_password_key,
        "topic_prefix": settings.postgres_topic_prefix,
        "table_include_list": include_list((*tables, signal, postgres_heartbeat_table())),
        "slot_name": settings.slot_name,
        "publication_name": settings.publication_name,
        "heartbeat_ms": str(settings.heartbeat_ms),
        "heartbeat_query": postgres_heartbeat_query(),
        "signal_table": signal,
        "errors_max_retries": str(settings.errors_max_retries),
        "backfill_origin": backfill_origin(settings.tags.pg_origin),
    }
    config = _render(settings, "postgres_source.yaml", values, endpoints)
    return RenderedConnector(
        settings.postgres_connector,
        "postgres",
        config,
        tables,
        settings.postgres_topic_prefix,
        signal,
    )


def render_connectors(
    mappings: MappingSet | Iterable[TableMapping],
    endpoints: Endpoints,
    settings: ConnectorSettings,
    flavour: Flavour,
    skipped_ddl: Sequence[str] = (),
) -> list[RenderedConnector]:
    """Every connector the mappings need: a side with no captured table gets none."""
    mappings = tuple(mappings)
    out = []
    if mysql_captured_tables(mappings):
        out.append(render_mysql_source(mappings, endpoints, settings, flavour, skipped_ddl))
    if postgres_captured_tables(mappings):
        out.append(render_postgres_source(mappings, endpoints, settings))
    return out


def assert_no_plain_secrets(config: Mapping[str, str], where: str) -> None:
    """Raise if a password-like key holds a literal value instead of a config-provider reference."""
    for key, value in config.items():
        if is_secret(key) and value and not value.startswith("${"):
            raise ConfigError(
                f"{where}: {key} holds a literal secret; use a Kafka Connect config provider "
                "reference such as ${file:/path/connect.properties:mysql.password}"
            )


def apicurio_api_url(registry_url: str) -> str:
    """Apicurio's native v2 API (what its converters speak) beside its Confluent-compatible one."""
    base, found, _ = registry_url.partition("/apis/ccompat/")
    return f"{base}/apis/registry/v2" if found else registry_url


def _render(
    settings: ConnectorSettings, template: str, values: Mapping[str, str], endpoints: Endpoints
) -> dict[str, str]:
    path = settings.templates_dir / template
    body = _load_yaml(path)
    config = body.get("config")
    if not isinstance(config, dict):
        raise ConfigError(f"{path}: expected a 'config' mapping of connector properties")
    if settings.converter != "worker":
        converter = settings.templates_dir / "converters" / f"{settings.converter}.yaml"
        config = {**config, **_load_yaml(converter)}
        if settings.converter == "avro":
            if not endpoints.schema_registry_url:
                raise ConfigError(
                    "converter 'avro' needs a schema registry: set MPS_SCHEMA_REGISTRY_URL "
                    "(Apicurio's registry API URL)"
                )
            values = {
                **values,
                "schema_registry_url": endpoints.schema_registry_url,
                "apicurio_api_url": apicurio_api_url(endpoints.schema_registry_url),
            }
    rendered = {str(k): _fill(str(v), values, path, str(k)) for k, v in config.items()}
    assert_no_plain_secrets(rendered, str(path))
    return rendered


def _fill(text: str, values: Mapping[str, str], path: Path, key: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(
                f"{path}: {key} uses placeholder {{{{{name}}}}}, which the renderer does not "
                f"provide; known placeholders: {', '.join(sorted(values))}"
            )
        return values[name]

    return _PLACEHOLDER.sub(one, text)


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"connector template {path} is missing") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"connector template {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"connector template {path} must be a mapping")
    return data
