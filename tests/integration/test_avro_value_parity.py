"""The Avro path hands the applier the same values as the JSON path: each test runs the same
changes through real Debezium connectors with the JSON and with the Avro (Apicurio) converter
and asserts the correct outcome, which the JSON path gives.

Tables are named mps_test_av_*; the databases are the fixtures' fresh mps_test_* ones.
"""

from __future__ import annotations

import datetime as dt
import random
import string
import struct
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from decimal import Decimal
from typing import Any

import pytest
from tests.integration.stream_harness import (
    Pipeline,
    PipelineFactory,
    drive,
    mysql_rows,
    pg_rows,
)

from mysql_pg_sync.cdc.decode import DecodeError
from mysql_pg_sync.cdc.decode_avro import AvroDecoder, SchemaRegistryError, registry_fetch
from mysql_pg_sync.cdc.events import KafkaPosition
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.integration

FORMATS = pytest.mark.parametrize("converter", ["json", "avro"])
LETTERS = (
    "SELECT key, error, kafka_topic, kafka_partition, kafka_offset FROM mps_sync.dead_letters "
    "WHERE resolved_at IS NULL ORDER BY id"
)


def _pipeline(
    make_pipeline: PipelineFactory,
    converter: str,
    db: str,
    table: str,
    columns: list[dict[str, Any]],
    mysql_ddl: str,
    pg_ddl: list[str],
    key: Iterable[str] = ("id",),
    direction: str = "both",
) -> AbstractContextManager[Pipeline]:
    key = list(key)
    mapping = TableMapping.model_validate(
        {
            "source": f"{db}.{table}",
            "target": f"public.{table}",
            "key": key,
            "direction": direction,
            "conflict": {"rule": "postgres_wins"},
            "columns": columns,
        }
    )
    return make_pipeline([mapping], [mysql_ddl], pg_ddl, converter=converter)


def _letters(p: Pipeline) -> list[tuple[Any, ...]]:
    try:
        return pg_rows(p, LETTERS)
    except Exception:  # the state schema does not exist before the first batch
        return []


def _settle(p: Pipeline, consumer: Any, done: Any, timeout_s: float = 90) -> None:
    """Drive until ``done()`` or a dead letter, then a little longer."""
    try:
        drive(consumer, lambda: bool(done()) or bool(_letters(p)), timeout_s=timeout_s)
    finally:
        end = time.monotonic() + 2
        while time.monotonic() < end:
            consumer.run(max_seconds=0.5)


def _ids(rows: Any) -> set[Any]:
    return {r[0] for r in rows}


# -- PostgreSQL `numeric` without precision (Debezium's VariableScaleDecimal) -> MySQL ----------


@FORMATS
def test_pg_unconstrained_numeric_reaches_mysql(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, converter: str
) -> None:
    table = f"mps_test_av_vnum_{converter}"
    columns: list[dict[str, Any]] = [
        {"name": "id", "column_type": "int(11)", "nullable": False},
        {"name": "amount", "column_type": "decimal(40,10)", "pg_type": "numeric"},
        {"name": "wide", "column_type": "decimal(38,10)", "pg_type": "numeric(38,10)"},
    ]
    mysql_ddl = (
        f"CREATE TABLE {table} (id int PRIMARY KEY, amount decimal(40,10) NULL, "
        "wide decimal(38,10) NULL)"
    )
    pg_ddl = [
        f"CREATE TABLE public.{table} (id integer PRIMARY KEY, amount numeric, wide numeric(38,10))"
    ]
    expected = {
        1: (Decimal("12.5000000000"), Decimal("1234567890123456789012345678.1234567890")),
        2: (Decimal("-0.0000010000"), None),
        3: (Decimal("123456789012345678901234567890.0123456789"), Decimal("-0.0000000001")),
    }
    with _pipeline(
        make_pipeline, converter, mysql_db.database, table, columns, mysql_ddl, pg_ddl
    ) as p:
        consumer = p.consumer()
        try:
            with p.pg() as conn:
                conn.execute(
                    f"INSERT INTO {table} VALUES "
                    "(1, 12.5, 1234567890123456789012345678.1234567890), (2, -0.000001, NULL), "
                    "(3, 123456789012345678901234567890.0123456789, -0.0000000001)"
                )
            rows = lambda: mysql_rows(p, f"SELECT id, amount, wide FROM {table}")  # noqa: E731
            _settle(p, consumer, lambda: _ids(rows()) >= set(expected))
            got = {r[0]: tuple(r[1:]) for r in rows()}
            assert got == expected, f"letters: {_letters(p)}"
            assert _letters(p) == []
        finally:
            consumer.close()


# -- MySQL geometry (Debezium's Geometry struct) -> PostgreSQL bytea ----------------------------


@FORMATS
def test_mysql_geometry_reaches_pg(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, converter: str
) -> None:
    table = f"mps_test_av_geo_{converter}"
    columns: list[dict[str, Any]] = [
        {"name": "id", "column_type": "int(11)", "nullable": False},
        {"name": "g", "column_type": "point"},
    ]
    mysql_ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, g point NULL)"
    pg_ddl = [f"CREATE TABLE public.{table} (id integer PRIMARY KEY, g bytea)"]
    with _pipeline(
        make_pipeline,
        converter,
        mysql_db.database,
        table,
        columns,
        mysql_ddl,
        pg_ddl,
        direction="mysql_to_pg",
    ) as p:
        consumer = p.consumer()
        try:
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES (1, ST_GeomFromText('POINT(1 2)')), "
                "(2, ST_GeomFromText('POINT(-3.5 4.25)'))",
            )
            rows = lambda: pg_rows(p, f"SELECT id, g FROM {table}")  # noqa: E731
            _settle(p, consumer, lambda: _ids(rows()) >= {1, 2})
            wkb = {i: bytes(g)[4:] for i, g in mysql_rows(p, f"SELECT id, g FROM {table}")}
            assert wkb[1] == b"\x01\x01\x00\x00\x00" + struct.pack("<dd", 1, 2)
            got = {i: None if g is None else bytes(g) for i, g in rows()}
            assert got == wkb, f"letters: {_letters(p)}"
            assert _letters(p) == []
        finally:
            consumer.close()


# -- PostgreSQL unchanged TOASTed text, bytea and text[] (SET) -> MySQL keeps them -------------


def _member(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(200))


@FORMATS
@pytest.mark.parametrize("column", ["t", "b", "s"])
def test_pg_unchanged_toasted_values_are_kept(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, converter: str, column: str
) -> None:
    """t: text, b: bytea, s: text[] (a MySQL SET), each TOASTed out of line and left out of an
    UPDATE that does not touch it (REPLICA IDENTITY DEFAULT): MySQL keeps its value."""
    table = f"mps_test_av_toast_{column}_{converter}"
    rng = random.Random(7)
    members = [_member(rng) for _ in range(20)]
    set_def = ",".join(f"'{m}'" for m in members)
    big = {
        "t": "".join(rng.choice(string.ascii_letters) for _ in range(20000)),
        "b": rng.randbytes(20000),
        "s": members,
    }
    mysql_type = {"t": "longtext", "b": "longblob", "s": f"set({set_def})"}[column]
    pg_type = {"t": "text", "b": "bytea", "s": "text[]"}[column]
    mapped: dict[str, Any] = {"name": column, "column_type": mysql_type}
    if column == "s":
        mapped["values"] = members
    columns: list[dict[str, Any]] = [
        {"name": "id", "column_type": "int(11)", "nullable": False},
        {"name": "n", "column_type": "int(11)"},
        mapped,
    ]
    mysql_ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, n int NULL, {column} {mysql_type} NULL)"
    pg_ddl = [
        f"CREATE TABLE public.{table} (id integer PRIMARY KEY, n integer, {column} {pg_type})",
        f"ALTER TABLE public.{table} ALTER COLUMN {column} SET STORAGE EXTERNAL",
    ]
    with _pipeline(
        make_pipeline, converter, mysql_db.database, table, columns, mysql_ddl, pg_ddl
    ) as p:
        consumer = p.consumer()
        try:
            with p.pg() as conn:
                conn.execute(f"INSERT INTO {table} VALUES (1, 1, %s)", (big[column],))
            rows = lambda: mysql_rows(p, f"SELECT id, n, {column} FROM {table}")  # noqa: E731
            _settle(p, consumer, lambda: _ids(rows()) == {1})
            assert _letters(p) == []
            with p.pg() as conn:
                conn.execute(f"UPDATE {table} SET n = 2 WHERE id = 1")
            _settle(p, consumer, lambda: [r[1] for r in rows()] == [2])
            (row,) = rows()
            assert row[1] == 2, f"letters: {_letters(p)}"
            want = {"t": big["t"], "b": big["b"], "s": ",".join(members)}[column]
            assert (bytes(row[2]) if column == "b" else row[2]) == want
            assert _letters(p) == []
        finally:
            consumer.close()


# -- a value that cannot be decoded: its dead letter names the column and keeps the key ---------


@FORMATS
def test_undecodable_value_dead_letter_names_column_and_keeps_key(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, converter: str
) -> None:
    table = f"mps_test_av_letter_{converter}"
    columns: list[dict[str, Any]] = [
        {"name": "id", "column_type": "int(11)", "nullable": False},
        {"name": "tm", "column_type": "time(6)", "pg_type": "interval"},
    ]
    mysql_ddl = f"CREATE TABLE {table} (id int PRIMARY KEY, tm time(6) NULL)"
    pg_ddl = [f"CREATE TABLE public.{table} (id integer PRIMARY KEY, tm interval)"]
    with _pipeline(
        make_pipeline, converter, mysql_db.database, table, columns, mysql_ddl, pg_ddl
    ) as p:
        consumer = p.consumer()
        try:
            with p.pg() as conn:  # a month has no length in hours: the decoder refuses it
                conn.execute(f"INSERT INTO {table} VALUES (7, '1 mon'), (8, '01:00:00')")
            _settle(p, consumer, lambda: _ids(mysql_rows(p, f"SELECT id FROM {table}")) == {8})
            letters = _letters(p)
            assert len(letters) == 1, letters
            key, error, topic, partition, offset = letters[0]
            assert "'tm'" in error
            assert f"topic {topic} partition {partition} offset {offset}" in error
            # the key is what `dead-letters retry` copies the row by
            assert key == {"id": 7}, f"dead letter key {key!r} (a retry needs it): {error}"
        finally:
            consumer.close()


# -- composite date/decimal keys, updates and deletes both ways, a schema change mid-stream -----


@FORMATS
def test_composite_date_decimal_keys_both_ways(
    make_pipeline: PipelineFactory, mysql_db: DatabaseEndpoint, converter: str
) -> None:
    table = f"mps_test_av_keys_{converter}"
    columns: list[dict[str, Any]] = [
        {"name": "d", "column_type": "date", "nullable": False},
        {"name": "amt", "column_type": "decimal(10,2)", "nullable": False},
        {"name": "note", "column_type": "varchar(20)"},
        {"name": "at", "column_type": "datetime(6)"},
    ]
    mysql_ddl = (
        f"CREATE TABLE {table} (d date NOT NULL, amt decimal(10,2) NOT NULL, "
        "note varchar(20) NULL, at datetime(6) NULL, PRIMARY KEY (d, amt))"
    )
    pg_ddl = [
        f"CREATE TABLE public.{table} (d date NOT NULL, amt numeric(10,2) NOT NULL, "
        "note varchar(20), at timestamp(6), PRIMARY KEY (d, amt))"
    ]
    sql = f"SELECT d, amt, note, at FROM {table} ORDER BY d, amt"
    with _pipeline(
        make_pipeline,
        converter,
        mysql_db.database,
        table,
        columns,
        mysql_ddl,
        pg_ddl,
        key=("d", "amt"),
    ) as p:
        consumer = p.consumer()
        try:
            mysql_rows(
                p,
                f"INSERT INTO {table} VALUES ('2024-02-29', 1.50, 'a', '2024-02-29 01:02:03.5'), "
                "('1999-12-31', -2.00, 'b', NULL), ('2000-01-01', 0.00, 'c', NULL)",
            )
            mysql_rows(p, f"UPDATE {table} SET note = 'a2' WHERE d = '2024-02-29'")
            mysql_rows(p, f"DELETE FROM {table} WHERE d = '1999-12-31'")
            _settle(p, consumer, lambda: len(m := mysql_rows(p, sql)) == 2 and pg_rows(p, sql) == m)
            assert pg_rows(p, sql) == mysql_rows(p, sql), f"letters: {_letters(p)}"
            # a new value schema (new registry id) mid-stream: an unmapped column in PostgreSQL
            with p.pg() as conn:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN extra text")
                conn.execute(f"UPDATE {table} SET note = 'c2', extra = 'x' WHERE amt = 0")
                conn.execute(f"DELETE FROM {table} WHERE amt = 1.50")
                conn.execute(f"INSERT INTO {table} VALUES ('2030-06-01', 99.99, 'e', NULL, 'y')")
            _settle(p, consumer, lambda: mysql_rows(p, sql) == pg_rows(p, sql))
            want = [
                (dt.date(2000, 1, 1), Decimal("0.00"), "c2", None),
                (dt.date(2030, 6, 1), Decimal("99.99"), "e", None),
            ]
            assert mysql_rows(p, sql) == want, f"letters: {_letters(p)}"
            assert _letters(p) == []
        finally:
            consumer.close()


# -- the registry cannot give a message's schema: the error names the message ------------------


def test_avro_registry_error_names_topic_and_offset(endpoints: Endpoints) -> None:
    assert endpoints.schema_registry_url, "MPS_SCHEMA_REGISTRY_URL is not set (stack/stack.env)"
    decoder = AvroDecoder(registry_fetch(endpoints.schema_registry_url))
    position = KafkaPosition("mps_test_av_topic", 0, 41)
    missing = b"\x00" + struct.pack(">I", 2_000_000_000) + b"\x02"
    with pytest.raises(DecodeError) as raised:
        decoder.decode_change(missing, missing, position)
    assert "topic mps_test_av_topic partition 0 offset 41" in str(raised.value)


def test_avro_registry_url_that_is_no_schema_api_stops_the_run(endpoints: Endpoints) -> None:
    """The registry's root instead of its Confluent-compatible API (the URL lacks
    /apis/ccompat/v7): a 404 for every id. Read as unknown ids, every message would be a dead
    letter; it is the URL's fault, and the run stops naming it."""
    assert endpoints.schema_registry_url, "MPS_SCHEMA_REGISTRY_URL is not set (stack/stack.env)"
    root = endpoints.schema_registry_url.split("/apis/")[0]
    assert root != endpoints.schema_registry_url, endpoints.schema_registry_url
    decoder = AvroDecoder(registry_fetch(root))
    missing = b"\x00" + struct.pack(">I", 1) + b"\x02"
    with pytest.raises(SchemaRegistryError, match="no message was dead-lettered"):
        decoder.decode_change(missing, missing, KafkaPosition("mps_test_av_root", 0, 7))
