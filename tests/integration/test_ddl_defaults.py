"""Column defaults on the real servers: a MariaDB table full of CodeIgniter-style defaults goes
through `mappings generate` and `ddl`; then the same insert, giving only the key, runs on both
sides, and every PostgreSQL column holds what MariaDB's row becomes in PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import TableMapping, load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint
from mysql_pg_sync.types.convert import row_to_pg
from mysql_pg_sync.types.drivers import mysql_conv, register_pg_loaders

# Python escapes: '\\\\' is one backslash in MariaDB's string literal.
TABLE = """CREATE TABLE ci_defaults (
  id int(11) NOT NULL PRIMARY KEY,
  name varchar(255) NOT NULL DEFAULT '',
  quoted varchar(40) NOT NULL DEFAULT 'it''s a back\\\\slash',
  padded char(5) NOT NULL DEFAULT 'ab',
  flag tinyint(1) NOT NULL DEFAULT 0,
  active tinyint(1) NOT NULL DEFAULT 1,
  n int(11) NOT NULL DEFAULT 0,
  neg smallint(6) NOT NULL DEFAULT -7,
  big bigint(20) unsigned NOT NULL DEFAULT 18446744073709551615,
  status enum('new','paid','it''s') NOT NULL DEFAULT 'it''s',
  perms set('read','write') NOT NULL DEFAULT 'read,write',
  no_perms set('read','write') NOT NULL DEFAULT '',
  price decimal(10,2) DEFAULT 0.00,
  rate decimal(10,4) NOT NULL DEFAULT 1.5,
  ratio float NOT NULL DEFAULT 0.1,
  dbl double NOT NULL DEFAULT 2.5,
  built year(4) NOT NULL DEFAULT 2024,
  on_bit bit(1) NOT NULL DEFAULT b'1',
  bits bit(8) NOT NULL DEFAULT b'101',
  created datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
  modified timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  precise datetime(6) NOT NULL DEFAULT current_timestamp(6),
  milli datetime(3) DEFAULT current_timestamp(3),
  centi timestamp(2) NULL DEFAULT current_timestamp(2),
  coarse datetime DEFAULT current_timestamp(6),
  today date DEFAULT curdate(),
  zero datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  zero_day date NOT NULL DEFAULT '0000-00-00',
  fixed_day date NOT NULL DEFAULT '2024-02-29',
  fixed_at datetime NOT NULL DEFAULT '2020-01-02 03:04:05',
  fixed_ts timestamp NOT NULL DEFAULT '2020-01-02 03:04:05',
  noon time NOT NULL DEFAULT '12:30:00',
  doc json DEFAULT NULL,
  obj json NOT NULL DEFAULT '{}',
  raw binary(4) NOT NULL DEFAULT 'ab',
  note text DEFAULT 'hello',
  token char(36) DEFAULT uuid(),
  plain varchar(10) DEFAULT NULL,
  bare varchar(10)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
# the current time: (column, fractional digits MySQL keeps)
CURRENT_TIME = {"created": 0, "modified": 0, "precise": 6, "milli": 3, "centi": 2, "coarse": 0}
NOT_CARRIED = ("token",)  # an expression the translator does not know: NULL in PostgreSQL
MYSQL_NOW = dt.datetime(2023, 11, 14, 22, 13, 20, 987654)  # SET timestamp; the session is UTC


def _cut(value: dt.datetime, digits: int) -> dt.datetime:
    unit = 10 ** (6 - digits)
    return value.replace(microsecond=value.microsecond // unit * unit)


@pytest.fixture
def defaults_db(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    try:
        conn.cursor().execute(TABLE)
    finally:
        conn.close()
    return mysql_db


def _mysql_row(endpoint: DatabaseEndpoint) -> dict[str, Any]:
    conn = mysql_connect(endpoint, conv=mysql_conv(), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(f"SET timestamp = {MYSQL_NOW.replace(tzinfo=dt.UTC).timestamp()}")
        cur.execute("INSERT INTO ci_defaults (id) VALUES (1)")
        cur.execute("SELECT * FROM ci_defaults WHERE id = 1")
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone(), strict=True))
    finally:
        conn.close()


def _pg_row(endpoint: DatabaseEndpoint) -> tuple[dict[str, Any], dt.datetime]:
    """The row PostgreSQL makes of an insert giving only the key, and the transaction's time."""
    with pg_connect(endpoint) as conn:
        register_pg_loaders(conn)
        conn.execute("INSERT INTO public.ci_defaults (id) VALUES (1)")
        cur = conn.execute("SELECT *, CURRENT_TIMESTAMP AS txn_now FROM public.ci_defaults")
        names = [d.name for d in cur.description or ()]
        row = dict(zip(names, cur.fetchone() or (), strict=True))
    return row, row.pop("txn_now")


def test_a_row_inserted_with_only_its_key_gets_mysqls_defaults_in_postgresql(
    defaults_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out, db = tmp_path / "mappings", defaults_db.database
    assert main(["mappings", "generate", "--database", db, "--out", str(out)]) == 0
    mapping: TableMapping = load_mappings(out).by_source(f"{db}.ci_defaults")
    recorded = {c.name: c.default for c in mapping.columns}
    assert recorded["name"] == "''"
    assert recorded["quoted"] == "'it''s a back\\\\slash'"  # MariaDB 10.2.7+'s form
    assert recorded["status"] == "'it''s'"
    assert recorded["flag"] == "0"
    assert recorded["on_bit"] == "b'1'"
    assert recorded["modified"] == "current_timestamp()"
    assert recorded["doc"] is None  # DEFAULT NULL
    assert recorded["token"] == "uuid()"
    assert mapping.column("modified").on_update == "current_timestamp()"
    text = (out / f"{db}.ci_defaults.yaml").read_text()
    assert "- {name: status, " in text  # each column still on one line
    assert "default: \"'it''s'\"" in text

    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    capsys.readouterr()
    assert main(["ddl", "--mappings", str(out), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "-- MySQL ON UPDATE current_timestamp() not carried" in printed
    assert "-- MySQL default uuid() not carried" in printed
    assert main(["ddl", "--mappings", str(out)]) == 0

    source = _mysql_row(defaults_db)
    target, pg_now = _pg_row(pg_db)
    expected = row_to_pg(mapping, source)  # what MariaDB's row is in PostgreSQL
    assert set(target) == set(expected)
    for name, digits in CURRENT_TIME.items():
        assert dt.datetime.fromisoformat(source[name]) == _cut(MYSQL_NOW, digits), name
        now = pg_now if target[name].tzinfo else pg_now.replace(tzinfo=None)
        assert target[name] == _cut(now, digits), name  # cut like MySQL's, never rounded up
    assert source["today"] == "2023-11-14"
    assert target["today"] == pg_now.date()
    for name in NOT_CARRIED:
        assert source[name] is not None
        assert target[name] is None
    compared = {n for n in expected if n not in CURRENT_TIME and n != "today"} - set(NOT_CARRIED)
    assert {n: target[n] for n in compared} == {n: expected[n] for n in compared}
    # and the values themselves, to read
    assert target["status"] == "it's"
    assert target["quoted"] == "it's a back\\slash"
    assert target["flag"] is False
    assert target["active"] is True
    assert target["big"] == Decimal("18446744073709551615")
    assert target["perms"] == ["read", "write"]
    assert target["no_perms"] == []
    assert target["bits"] == "00000101"
    assert target["raw"] == b"ab\x00\x00"
    assert target["zero"] is None  # the zero date under zero_dates: null
    assert target["fixed_ts"] == dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert target["plain"] is None
