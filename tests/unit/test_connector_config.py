"""Rendering the Debezium connector configs from the templates and the mappings (no servers)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.cdc.connector_config import (
    ConnectorSettings,
    assert_no_plain_secrets,
    detect_flavour,
    include_list,
    render_connectors,
    render_mysql_source,
    render_postgres_source,
)
from mysql_pg_sync.cdc.connector_lifecycle import config_differs
from mysql_pg_sync.cdc.events import ChangeEvent
from mysql_pg_sync.cdc.loop_guard import LoopTags, backfill_origin, is_echo, origin_pool
from mysql_pg_sync.cdc.service import config_from_env
from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.settings import endpoints_from_env

ENDPOINTS = endpoints_from_env({})
SETTINGS = ConnectorSettings(prefix="mps", secrets_file="/run/secrets/connect.properties")


def mapping(table: str, direction: str = "both", enabled: bool = True) -> TableMapping:
    return TableMapping(
        source=f"legacy.{table}",
        target=f"public.{table}",
        key=("id",),
        direction=direction,  # type: ignore[arg-type]
        enabled=enabled,
        columns=(ColumnMapping(name="id", column_type="int(11)", pg_type="integer"),),
    )


MAPPINGS = MappingSet(
    (
        mapping("orders"),
        mapping("customers", "mysql_to_pg"),
        mapping("audit", "pg_to_mysql"),
        mapping("legacy_only", enabled=False),
    )
)


@pytest.mark.parametrize(
    ("version", "flavour", "cls"),
    [
        (
            "10.11.6-MariaDB-0+deb12u1-log",
            "mariadb",
            "io.debezium.connector.mariadb.MariaDbConnector",
        ),
        ("8.4.3", "mysql", "io.debezium.connector.mysql.MySqlConnector"),
    ],
)
def test_flavour_picks_the_connector_class(version: str, flavour: str, cls: str) -> None:
    assert detect_flavour(version) == flavour
    rendered = render_mysql_source(MAPPINGS, ENDPOINTS, SETTINGS, detect_flavour(version))
    assert rendered.config["connector.class"] == cls


def test_mysql_source_captures_tables_replicating_to_postgres_plus_the_signal_table() -> None:
    rendered = render_mysql_source(MAPPINGS, ENDPOINTS, SETTINGS, "mariadb")
    config = rendered.config
    assert rendered.tables == ("legacy.customers", "legacy.orders")
    assert config["table.include.list"] == (
        r"legacy\.customers,legacy\.orders,legacy\.mps_debezium_signal"
    )
    assert config["database.include.list"] == "legacy"
    assert config["signal.data.collection"] == "legacy.mps_debezium_signal"
    assert config["snapshot.mode"] == "no_data"
    assert config["topic.prefix"] == "mps_mysql"
    assert config["schema.history.internal.kafka.topic"] == "mps_mysql.schema-history"
    assert config["heartbeat.interval.ms"] == "10000"
    assert config["poll.interval.ms"] == "100"  # lag: Debezium would wait 500 ms per batch
    assert config["include.query"] == "false"
    assert config["value.converter"] == "org.apache.kafka.connect.json.JsonConverter"
    assert config["value.converter.schemas.enable"] == "true"


def _dated(table: str, direction: str = "both") -> TableMapping:
    return TableMapping(
        source=f"legacy.{table}",
        target=f"public.{table}",
        key=("id",),
        direction=direction,  # type: ignore[arg-type]
        columns=(
            ColumnMapping(name="id", column_type="int(11)", nullable=False),
            ColumnMapping(name="day", column_type="date", nullable=False),
            ColumnMapping(name="at", column_type="datetime(6)", nullable=False),
            ColumnMapping(name="maybe", column_type="date"),  # Debezium sends NULL there itself
            ColumnMapping(name="stamp", column_type="timestamp", nullable=False),  # no epoch
        ),
    )


def test_zero_dates_of_not_null_date_and_datetime_columns_go_to_the_converter() -> None:
    mappings = (_dated("events"), _dated("back", "pg_to_mysql"))
    config = render_mysql_source(mappings, ENDPOINTS, SETTINGS, "mariadb").config
    assert config["converters"] == "zerodates"
    assert config["zerodates.type"] == "local.mysqlpgsync.ZeroDateAsNull"
    assert config["zerodates.columns"] == "legacy.events.at,legacy.events.day"
    assert config["event.converting.failure.handling.mode"] == "fail"  # never a silent NULL
    pg = render_postgres_source(mappings, ENDPOINTS, SETTINGS).config
    assert pg["event.converting.failure.handling.mode"] == "fail"
    for source in (config, pg):  # a NULL must not become the column's DEFAULT on the way
        assert source["transforms"].split(",")[-1] == "dropdefaults"
        assert source["transforms.dropdefaults.type"] == "local.mysqlpgsync.DropSchemaDefaults"


def test_the_postgres_source_drops_the_backfill_s_writes_and_keeps_the_stream_s() -> None:
    settings = ConnectorSettings.from_env({"MPS_PG_ORIGIN": "sync_b", "MPS_GTID_DOMAIN": "42"})
    assert settings.tags == LoopTags(pg_origin="sync_b", mariadb_gtid_domain=42)
    assert config_from_env({"MPS_PG_ORIGIN": "sync_b", "MPS_GTID_DOMAIN": "42"}).tags == (
        settings.tags
    )
    mysql, pg = (c.config for c in render_connectors(MAPPINGS, ENDPOINTS, settings, "mariadb"))
    # first: a dropped event is not copied by the other transform
    assert pg["transforms"] == "dropbackfill,dropdefaults"
    assert pg["transforms.dropbackfill.type"] == "local.mysqlpgsync.DropOriginWrites"
    assert pg["transforms.dropbackfill.origin"] == "sync_b_backfill"
    assert mysql["transforms"] == "dropdefaults"  # the backfill never writes MySQL


def test_the_guard_knows_the_backfill_s_origins_as_echoes() -> None:
    tags = LoopTags(pg_origin="sync_b")
    assert origin_pool(backfill_origin("sync_b"), 3) == [
        "sync_b_backfill",
        "sync_b_backfill_1",
        "sync_b_backfill_2",
    ]
    for origin, echo in (
        ("sync_b", True),
        ("sync_b_7", True),
        ("sync_b_backfill", True),
        ("sync_b_backfill_31", True),
        ("sync_b_backfillx", False),
        ("sync_b_backfill_", False),
        ("sync_bx", False),
        ("other", False),
        (None, False),
    ):
        event = ChangeEvent("postgres", "public", "t", "c", {}, None, {"id": 1}, 0, origin=origin)
        assert is_echo(event, tags) is echo, origin


def test_a_gtid_domain_that_is_not_a_number_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"MPS_GTID_DOMAIN='x7' is not a whole number"):
        ConnectorSettings.from_env({"MPS_GTID_DOMAIN": "x7"})


def test_passwords_are_config_provider_references_only() -> None:
    for connector in render_connectors(MAPPINGS, ENDPOINTS, SETTINGS, "mariadb"):
        config = connector.config
        secrets = "/run/secrets/connect.properties"
        assert config["database.password"].startswith(f"${{file:{secrets}:")
        assert config["database.user"].startswith(f"${{file:{secrets}:")
        assert ENDPOINTS.mysql.password not in str(config)
        assert "{{" not in str(config)


def test_postgres_source_captures_tables_replicating_back() -> None:
    rendered = render_postgres_source(MAPPINGS, ENDPOINTS, SETTINGS)
    config = rendered.config
    assert rendered.tables == ("public.audit", "public.orders")
    assert (
        config["table.include.list"]
        == r"public\.audit,public\.orders,mps_sync\.mps_debezium_signal,"
        r"mps_sync\.mps_debezium_heartbeat"
    )
    # the heartbeat writes a table of the publication, so the slot advances (ADR 0009)
    assert config["heartbeat.action.query"].startswith(
        "INSERT INTO mps_sync.mps_debezium_heartbeat (id, beat_at) VALUES (1, now())"
    )
    assert config["plugin.name"] == "pgoutput"
    assert config["publication.autocreate.mode"] == "filtered"
    assert config["slot.name"] == "mps_pg_slot"
    assert config["publication.name"] == "mps_pg_publication"
    assert config["database.dbname"] == "app"
    assert config["snapshot.mode"] == "no_data"


def test_a_side_without_tables_gets_no_connector_and_never_an_empty_include_list() -> None:
    only_mysql = MappingSet((mapping("customers", "mysql_to_pg"),))
    names = [c.name for c in render_connectors(only_mysql, ENDPOINTS, SETTINGS, "mariadb")]
    assert names == ["mps-mysql-source"]
    with pytest.raises(ConfigError, match="include list as 'all'"):
        render_mysql_source(
            MappingSet((mapping("audit", "pg_to_mysql"),)), ENDPOINTS, SETTINGS, "mysql"
        )
    with pytest.raises(ConfigError, match="pg_to_mysql"):
        render_postgres_source(only_mysql, ENDPOINTS, SETTINGS)


def test_include_list_escapes_regex_and_rejects_commas() -> None:
    assert include_list(["db.t$1"]) == r"db\.t\$1"
    with pytest.raises(ConfigError, match=r"'db.a,b' contains a comma"):
        include_list(["db.a,b"])


def test_avro_needs_a_registry_and_uses_it() -> None:
    avro = replace(SETTINGS, converter="avro")
    with pytest.raises(ConfigError, match="MPS_SCHEMA_REGISTRY_URL"):
        render_mysql_source(MAPPINGS, ENDPOINTS, avro, "mariadb")
    ccompat = "http://apicurio:8080/apis/ccompat/v7"
    with_registry = replace(ENDPOINTS, schema_registry_url=ccompat)
    config = render_mysql_source(MAPPINGS, with_registry, avro, "mariadb").config
    assert config["value.converter"] == "io.apicurio.registry.utils.converter.AvroConverter"
    # the converter speaks Apicurio's own API; the consumer reads the Confluent-compatible one
    assert (
        config["value.converter.apicurio.registry.url"] == "http://apicurio:8080/apis/registry/v2"
    )
    assert config["value.converter.apicurio.registry.headers.enabled"] == "false"
    assert config["value.converter.apicurio.registry.id-handler"].endswith("Legacy4ByteIdHandler")
    assert config["value.converter.apicurio.registry.use-id"] == "contentId"


def test_worker_converter_leaves_converters_to_the_worker() -> None:
    config = render_mysql_source(
        MAPPINGS, ENDPOINTS, replace(SETTINGS, converter="worker"), "mariadb"
    ).config
    assert not any(k.endswith("converter") for k in config)


def test_unknown_placeholder_names_the_template_and_key(tmp_path: Path) -> None:
    (tmp_path / "converters").mkdir()
    (tmp_path / "converters" / "json.yaml").write_text("{}\n")
    (tmp_path / "mysql_source.yaml").write_text('config:\n  topic.prefix: "{{nope}}"\n')
    with pytest.raises(
        ConfigError, match=r"mysql_source.yaml: topic.prefix uses placeholder \{\{nope\}\}"
    ):
        render_mysql_source(
            MAPPINGS, ENDPOINTS, replace(SETTINGS, templates_dir=tmp_path), "mariadb"
        )


def test_a_literal_password_in_a_template_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"database\.password holds a literal secret"):
        assert_no_plain_secrets({"database.password": "hunter2"}, "t.yaml")
    assert_no_plain_secrets({"database.password": "${env:PW}"}, "t.yaml")


def test_settings_validate_prefix_and_converter() -> None:
    with pytest.raises(ConfigError, match="lowercase"):
        ConnectorSettings(prefix="My-Prefix")
    with pytest.raises(ConfigError, match="MPS_CONNECT_CONVERTER"):
        ConnectorSettings.from_env({"MPS_CONNECT_CONVERTER": "protobuf"})
    from_env = ConnectorSettings.from_env({"MPS_CONNECT_SECRETS_FILE": "/s.properties"})
    assert from_env.secrets_file == "/s.properties"
    assert from_env.server_id == ConnectorSettings(prefix="mps").server_id  # stable
    assert from_env.server_id != ConnectorSettings(prefix="other").server_id


def test_config_differs_ignores_the_name_connect_adds() -> None:
    desired = {"a": "1"}
    assert not config_differs(desired, {"a": "1", "name": "c"}, "c")
    assert config_differs(desired, {"a": "2", "name": "c"}, "c")
    assert config_differs(desired, {"a": "1", "b": "x", "name": "c"}, "c")
    assert config_differs(desired, None, "c")


def test_avro_refuses_column_names_it_would_rename() -> None:
    """Avro allows [A-Za-z_][A-Za-z0-9_]*: its converter writes `first name` as first_name, and
    the stream would never see the column. JSON carries any name."""
    spaced = mapping("order").model_copy(
        update={
            "columns": (
                ColumnMapping(name="id", column_type="int(11)", pg_type="integer"),
                ColumnMapping(name="first name", column_type="varchar(9)", pg_name="first_name"),
            )
        }
    )
    endpoints = replace(ENDPOINTS, schema_registry_url="http://apicurio:8080/apis/ccompat/v7")
    avro = replace(SETTINGS, converter="avro")
    with pytest.raises(ConfigError, match=r"mysql column\(s\) 'legacy.order.first name' are not"):
        render_connectors([spaced], endpoints, avro, "mariadb")
    # the PostgreSQL name is fine, so a table copied back only needs no MySQL side change
    back = spaced.model_copy(update={"direction": "pg_to_mysql"})
    assert [c.side for c in render_connectors([back], endpoints, avro, "mariadb")] == ["postgres"]
    assert len(render_connectors([spaced], endpoints, SETTINGS, "mariadb")) == 2
