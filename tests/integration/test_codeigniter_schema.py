"""A CodeIgniter-era MySQL schema end to end on the real servers.

The schema holds what old CodeIgniter apps left behind and the other tests do not: ZEROFILL,
FLOAT(M,D), DOUBLE UNSIGNED, YEAR, BIT(1) flags, tiny/medium/long text and blobs, CHAR(36)
uuids, zero dates in NOT NULL columns, TIMESTAMP ... ON UPDATE, latin1 and utf8mb3 tables,
_bin collations, reserved words and odd column names, enum members with a comma, a quote or a
backslash, VIRTUAL and PERSISTENT generated columns, a table keyed by a UNIQUE NOT NULL index
and one with only a NULLable unique index. Each table goes the operator's way: `mappings
generate` -> `validate` -> `ddl` -> backfill -> stream both ways -> reconcile finds nothing.
Values MySQL cannot hold are refused where they are written, naming table, column and fix.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from tests.integration.stream_harness import Pipeline, drive, mysql_rows, pg_rows, pipeline
from tests.integration.test_backfill import captured_backfill, mysql_admin_exec, run_all

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, render_connectors
from mysql_pg_sync.cdc.consumer import StreamConsumer
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.errors import ConfigError, MappingError
from mysql_pg_sync.mapping.models import MappingSet, load_mappings
from mysql_pg_sync.reconcile.service import ReconcileParams, reconcile_all
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

pytestmark = pytest.mark.slow  # connectors, a backfill, a stream, reconcile twice: ~15 s each

# Python escapes below: '\\\\' is one backslash in MySQL's string literals ('back\\slash').
SCHEMA = [
    """CREATE TABLE ci_types (
  id int(11) unsigned NOT NULL AUTO_INCREMENT,
  code int(11) unsigned zerofill NOT NULL DEFAULT 0,
  price float(7,4) DEFAULT NULL,
  ratio double unsigned DEFAULT NULL,
  exact decimal(65,30) DEFAULT NULL,
  built year(4) DEFAULT NULL,
  is_active bit(1) NOT NULL DEFAULT b'1',
  guid char(36) NOT NULL,
  token varchar(40) COLLATE utf8mb4_bin DEFAULT NULL,
  summary tinytext, body mediumtext, log longtext,
  thumb tinyblob, photo mediumblob, archive longblob,
  status enum('','new','a,b','it''s','back\\\\slash') NOT NULL DEFAULT '',
  perms set('read','write','admin') NOT NULL DEFAULT '',
  modified timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),
  price_x2 float AS (price * 2) VIRTUAL,
  label varchar(30) AS (concat('C-', code)) PERSISTENT,
  PRIMARY KEY (id), UNIQUE KEY uq_guid (guid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
    """CREATE TABLE ci_dates (
  id int(11) NOT NULL PRIMARY KEY,
  created datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  born date NOT NULL DEFAULT '0000-00-00',
  expires date DEFAULT NULL,
  note varchar(20) DEFAULT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE ci_latin1 (
  id int(11) NOT NULL PRIMARY KEY, name varchar(50), bio text,
  code varchar(10) COLLATE latin1_bin
) ENGINE=InnoDB DEFAULT CHARSET=latin1""",
    """CREATE TABLE ci_utf8 (
  id int(11) NOT NULL PRIMARY KEY, name varchar(50), bio text, code char(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8""",
    """CREATE TABLE `order` (
  `key` int(11) NOT NULL PRIMARY KEY, `group` varchar(20), `desc` text,
  `MixedCase` int(11), `first name` varchar(30)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    # CodeIgniter's config-style table: no primary key, a unique NOT NULL (_bin) name instead
    """CREATE TABLE ci_settings (
  `name` varchar(64) COLLATE utf8mb4_bin NOT NULL, `value` text, UNIQUE KEY uq_name (`name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE ci_tokens (
  email varchar(100) NULL, token varchar(64), UNIQUE KEY uq_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    # generated totals copied one way (the mapping is edited to mysql_to_pg below)
    """CREATE TABLE ci_totals (
  id int(11) NOT NULL PRIMARY KEY, qty int(11) NOT NULL, price decimal(10,2) NOT NULL,
  total decimal(12,2) AS (qty * price) PERSISTENT, total_v decimal(12,2) AS (qty * price) VIRTUAL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
]
DEC65 = "12345678901234567890123456789012345.123456789012345678901234567890"
SEED = [
    "INSERT INTO ci_types (code, price, ratio, exact, built, is_active, guid, token, summary, "
    "body, log, thumb, photo, archive, status, perms) VALUES "
    f"(42, 123.4567, 1.5, '{DEC65}', 1999, b'0', 'f47ac10b-58cc-4372-a567-0e02b2c3d479', 'AbC',"
    " 'tiny ü', 'medium 😀', REPEAT('long ', 1000), X'00FF', X'DEADBEEF', X'', 'a,b',"
    " 'read,admin'),"
    " (7, -999.9999, 0, '-0.000000000000000000000000000001', 2155, b'1',"
    " 'a47ac10b-58cc-4372-a567-0e02b2c3d479', 'abc', '', NULL, NULL, NULL, NULL, NULL, '', ''),"
    " (0, NULL, NULL, NULL, 1901, b'1', 'b47ac10b-58cc-4372-a567-0e02b2c3d479', NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, 'it''s', 'write'),"
    " (0, NULL, NULL, NULL, 0, b'1', 'c47ac10b-58cc-4372-a567-0e02b2c3d479', NULL, NULL, NULL,"
    " NULL, NULL, NULL, NULL, 'back\\\\slash', 'write')",
    "INSERT INTO ci_dates VALUES (1, '0000-00-00 00:00:00', '0000-00-00', '0000-00-00', 'zero'),"
    " (2, '2020-01-02 03:04:05', '1980-05-06', NULL, 'real'),"
    " (3, '1970-01-01 00:00:00', '1970-01-01', '1970-01-01', 'epoch')",
    "INSERT INTO ci_latin1 VALUES (1, 'café Müller € Œ', 'naïve façade ½ £ ÿ', 'Ab'),"
    " (2, 'plain', NULL, 'ab')",
    "INSERT INTO ci_utf8 VALUES (1, 'Zoë 日本', 'ünïcödé ✓', 'ß'), (2, '', NULL, NULL)",
    "INSERT INTO `order` VALUES (1, 'admins', 'first', 10, 'Ann'), (2, NULL, NULL, NULL, NULL)",
    "INSERT INTO ci_settings VALUES ('site_name', 'Legacy'), ('theme', NULL), ('Theme', 'dark')",
    "INSERT INTO ci_tokens VALUES (NULL, 'x'), ('a@b.c', 'y')",
    "INSERT INTO ci_totals (id, qty, price) VALUES (1, 3, 2.50), (2, 0, 9.99)",
]
SYNCED = ("ci_types", "ci_dates", "ci_latin1", "ci_utf8", "order", "ci_settings", "ci_totals")


@dataclass(frozen=True)
class Legacy:
    """The schema in MySQL, its mappings as generated (and hand-edited), the PostgreSQL tables."""

    mysql: DatabaseEndpoint
    postgres: DatabaseEndpoint
    folder: Path
    generated: str  # what `mappings generate` printed

    @property
    def db(self) -> str:
        return self.mysql.database

    def mappings(self) -> MappingSet:
        return load_mappings(self.folder)


def _edit_entry(folder: Path, db: str, table: str, **changes: Any) -> None:
    """A hand edit, as an operator makes it in the table's YAML file."""
    path = folder / f"{db}.{table}.yaml"
    entry = yaml.safe_load(path.read_text())
    columns = changes.pop("columns", {})
    entry.update(changes)
    for column in entry["columns"]:
        column.update(columns.get(column["name"], {}))
    path.write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True))


@pytest.fixture
def legacy(
    mysql_db: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Legacy:
    """README "Add a table" steps 1-3 for the whole schema: create and fill it in MySQL, `make
    mappings-generate`, a hand edit (ci_totals copied one way, its generated columns with it),
    generate again (the edit is kept), `make mappings-validate`, `make ddl`."""
    mysql_admin_exec(mysql_admin, mysql_db.database, *SCHEMA, *SEED)
    monkeypatch.setenv("MPS_MYSQL_DATABASE", mysql_db.database)
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    folder = tmp_path / "mappings"
    generate = ["mappings", "generate", "--database", mysql_db.database, "--out", str(folder)]
    assert main(generate) == 0
    generated = capsys.readouterr().out
    totals = {"exclude": False, "exclude_reason": None}
    _edit_entry(
        folder,
        mysql_db.database,
        "ci_totals",
        direction="mysql_to_pg",
        columns={"total": totals, "total_v": totals},
    )
    assert main(generate) == 0
    assert main(["mappings", "validate", str(folder)]) == 0
    assert "8 mapping(s) valid: 7 enabled, 1 unsupported" in capsys.readouterr().out
    assert main(["ddl", "--mappings", str(folder)]) == 0
    return Legacy(mysql_db, pg_db, folder, generated)


def test_the_generator_keys_excludes_and_refuses_with_reasons(legacy: Legacy) -> None:
    mappings = legacy.mappings()
    db = legacy.db
    settings = mappings.by_source(f"{db}.ci_settings")
    assert (settings.key, settings.is_synced) == (("name",), True)  # the UNIQUE NOT NULL index
    tokens = mappings.by_source(f"{db}.ci_tokens")
    assert not tokens.is_synced
    assert tokens.unsupported is not None
    assert "unique key uq_email has NULLable column(s) email" in tokens.unsupported
    assert "make them NOT NULL or add a primary key" in tokens.unsupported
    types = mappings.by_source(f"{db}.ci_types")
    for name in ("price_x2", "label"):  # VIRTUAL and PERSISTENT
        column = types.column(name)
        assert (column.generated, column.exclude) == (True, True)
        assert "direction: mysql_to_pg" in (column.exclude_reason or "")
        assert f"column excluded: {db}.ci_types.{name}: generated column" in legacy.generated
    totals = mappings.by_source(f"{db}.ci_totals")  # the hand edit survived the second run
    assert totals.direction == "mysql_to_pg"
    assert [c.name for c in totals.synced_columns()] == ["id", "qty", "price", "total", "total_v"]
    assert mappings.by_source(f"{db}.ci_latin1").column("name").charset == "latin1"
    assert mappings.by_source(f"{db}.ci_utf8").column("name").charset == "utf8mb3"
    assert types.column("summary").charset is None  # utf8mb4, the default
    assert mappings.by_source(f"{db}.order").key == ("key",)


def test_postgres_types_and_checks_hold_exactly_what_mysql_can(legacy: Legacy) -> None:
    """The DDL: NOT NULL date columns may be NULL (MySQL's zero date), and CHECKs refuse what
    MySQL could not store, so the PostgreSQL app finds out when it writes, not a dead letter
    later. The constraint in the error names table and column."""
    with pg_connect(legacy.postgres, autocommit=True) as conn:
        nullable = dict(
            conn.execute(
                "SELECT column_name, is_nullable FROM information_schema.columns "
                "WHERE table_name = 'ci_dates'"
            ).fetchall()
        )
        assert nullable == {
            "id": "NO",
            "created": "YES",
            "born": "YES",
            "expires": "YES",
            "note": "YES",
        }
        # the edges MySQL holds pass
        conn.execute(
            "INSERT INTO ci_types (code, price, ratio, built, is_active, guid, summary, thumb,"
            " status, perms) VALUES (0, -999.9999, 0, 0, true, 'edge', repeat('é', 127),"
            " decode(repeat('00', 255), 'hex'), 'a,b', '{}')"
        )
        conn.execute("INSERT INTO ci_latin1 (id, name) VALUES (9, 'ÿ € Ÿ ‰ ™')")
        conn.execute("INSERT INTO ci_utf8 (id, name) VALUES (9, '日本 ✓')")
        refused = {
            "ci_types_built_range": "UPDATE ci_types SET built = 1900",
            "ci_types_ratio_range": "UPDATE ci_types SET ratio = -1",
            "ci_types_price_digits": "UPDATE ci_types SET price = 1000",
            "ci_types_summary_size": "UPDATE ci_types SET summary = repeat('é', 128)",
            "ci_types_thumb_size": "UPDATE ci_types SET thumb = decode(repeat('00', 256), 'hex')",
            "ci_latin1_name_charset": "UPDATE ci_latin1 SET name = '日本'",
            "ci_latin1_bio_charset": "UPDATE ci_latin1 SET bio = 'emoji 😀'",
            "ci_utf8_name_charset": "UPDATE ci_utf8 SET name = 'emoji 😀'",
        }
        for constraint, sql in refused.items():
            with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
                conn.execute(sql)  # type: ignore[arg-type]


def test_a_generated_column_written_both_ways_is_refused_with_the_fix(
    legacy: Legacy, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit_entry(legacy.folder, legacy.db, "ci_types", columns={"label": {"exclude": False}})
    assert main(["mappings", "validate", str(legacy.folder)]) == 1
    message = capsys.readouterr().err
    assert f"{legacy.db}.ci_types.yaml: table {legacy.db}.ci_types:" in message
    assert "column 'label' is generated in MySQL" in message
    assert "set exclude: true for it, or copy it one way with direction: mysql_to_pg" in message
    # `mappings generate` keeps the hand edit, so it refuses to write it back the same way
    generate = ["mappings", "generate", "--database", legacy.db, "--out", str(legacy.folder)]
    assert main(generate) == 1
    assert "column 'label' is generated in MySQL" in capsys.readouterr().err
    with pytest.raises(MappingError, match="column 'label' is generated in MySQL"):
        legacy.mappings()


# Avro: both sources register every table's key and value schema at once (7 tables, a burst).
# The local registry keeps them in PostgreSQL (ADR 0010), which takes concurrent registrations;
# its former in-memory H2 storage failed some ("Concurrent update in table SEQUENCES").
@pytest.fixture(params=["json", "avro"])
def running(
    request: pytest.FixtureRequest,
    legacy: Legacy,
    endpoints: Endpoints,
    mysql_admin: DatabaseEndpoint,
    pg_admin: DatabaseEndpoint,
    tmp_path: Path,
) -> Iterator[Pipeline]:
    """Step 4: the connectors for every synced table (Debezium's JSON or Avro converter), then
    the backfill of all of them with the real handoff (Connect's capture check, Kafka's end
    offsets). Avro cannot name the column `first name`: its mapping must leave it out."""
    if request.param == "avro":
        settings = ConnectorSettings(converter="avro")
        with pytest.raises(
            ConfigError, match=rf"'{legacy.db}.order.first name' are not valid Avro"
        ):
            render_connectors(legacy.mappings(), endpoints, settings, "mariadb")
        _edit_entry(legacy.folder, legacy.db, "order", columns={"first name": {"exclude": True}})
    mappings = list(legacy.mappings())
    with pipeline(
        endpoints,
        legacy.mysql,
        legacy.postgres,
        mysql_admin,
        pg_admin,
        mappings,
        [],
        [],
        converter=request.param,
    ) as p:
        backfill = captured_backfill(p.endpoints, p.mappings, tmp_path)
        summary = run_all(backfill, RunOptions(chunk_rows=2, strict_counts=True))
        assert sorted(t.split(".", 1)[1] for t in summary["tables"]) == sorted(SYNCED)
        assert all(t["finalized"] for t in summary["tables"].values())
        yield p


def _reconcile(p: Pipeline, legacy: Legacy, report: Path) -> dict[str, dict[str, Any]]:
    run, _, _ = reconcile_all(
        p.endpoints, ReconcileParams(mappings=str(legacy.folder), recheck_delay_s=0), folder=report
    )
    return {t["table"].split(".", 1)[1]: t for t in run["tables"]}


def _assert_in_sync(tables: dict[str, dict[str, Any]]) -> None:
    assert sorted(tables) == sorted(SYNCED)
    drift = {
        name: (t["status"], t.get("error"), t.get("drift_examples"))
        for name, t in tables.items()
        if t["status"] != "in_sync"
    }
    assert drift == {}


def _pg(p: Pipeline, sql: str) -> list[tuple[Any, ...]]:
    return pg_rows(p, sql)


def _my(p: Pipeline, sql: str) -> list[tuple[Any, ...]]:
    return mysql_rows(p, sql)


MYSQL_CHANGES = [
    "INSERT INTO ci_types (code, price, ratio, exact, built, is_active, guid, token, summary,"
    " status, perms, photo) VALUES (5, 1.25, 2.5, '3.5', 2001, b'0',"
    " 'd47ac10b-58cc-4372-a567-0e02b2c3d479', 'Tok', 'live ü', 'a,b', 'admin', X'0102')",
    f"UPDATE ci_types SET status = 'it''s', perms = 'read,write', exact = '-{DEC65}' WHERE id = 1",
    "UPDATE ci_types SET status = 'back\\\\slash', built = 0 WHERE id = 2",
    "DELETE FROM ci_types WHERE id = 3",
    "INSERT INTO ci_dates VALUES (4, '0000-00-00 00:00:00', '0000-00-00', '0000-00-00', 'zero'),"
    " (5, '2001-02-03 04:05:06', '2001-02-03', NULL, 'live')",
    "UPDATE ci_dates SET note = 'zero upd' WHERE id = 1",
    # a real epoch is not the zero date (Debezium sends both as the epoch without ZeroDateAsNull)
    "UPDATE ci_dates SET note = 'epoch upd' WHERE id = 3",
    "INSERT INTO ci_dates VALUES (6, '1970-01-01 00:00:00', '1970-01-01', '1970-01-01', 'epoch')",
    "INSERT INTO ci_latin1 VALUES (3, 'Ærø ÿ „quote“', 'über', 'X')",
    "UPDATE ci_latin1 SET name = 'crème brûlée' WHERE id = 2",
    "INSERT INTO ci_utf8 VALUES (3, 'Ελληνικά', 'текст', 'ñ')",
    "INSERT INTO `order` VALUES (3, 'editors', 'd', 7, 'Bob')",
    "UPDATE `order` SET `group` = 'g2', `first name` = 'Ann B', `MixedCase` = -1 WHERE `key` = 1",
    "INSERT INTO ci_settings VALUES ('lang', 'de')",
    "UPDATE ci_settings SET `value` = 'Light' WHERE `name` = 'Theme'",
    "INSERT INTO ci_totals (id, qty, price) VALUES (3, 2, 1.25)",
    "UPDATE ci_totals SET qty = 4 WHERE id = 1",
]
PG_CHANGES = [
    "INSERT INTO ci_types (id, code, price, ratio, exact, built, is_active, guid, status, perms,"
    " modified) VALUES (100, 9, 2.5, 0.25, 1.5, 1990, true,"
    " 'e47ac10b-58cc-4372-a567-0e02b2c3d479', 'back\\slash', '{read,admin}', now())",
    "UPDATE ci_types SET summary = 'from pg ✓', status = '' WHERE id = 2",
    "UPDATE ci_dates SET note = 'pg zero' WHERE id = 1",  # MySQL keeps its zero dates
    "UPDATE ci_dates SET note = 'pg epoch' WHERE id = 3",  # and its real epochs
    "INSERT INTO ci_dates (id, note) VALUES (20, 'pg null')",  # NULL dates: zero dates there
    "INSERT INTO ci_latin1 VALUES (10, 'façade € ‰', 'Ü', 'y')",
    "INSERT INTO ci_utf8 VALUES (10, 'Łódź', 'pg', 'é')",
    "INSERT INTO \"order\" VALUES (10, 'pg', 'desc', 1, 'First Name')",
    'UPDATE "order" SET "MixedCase" = 99 WHERE "key" = 2',
    "DELETE FROM ci_settings WHERE name = 'theme'",
    "INSERT INTO ci_settings VALUES ('THEME', 'x')",
]


def test_a_codeigniter_schema_syncs_both_ways_and_reconciles_clean(
    running: Pipeline, legacy: Legacy, mysql_admin: DatabaseEndpoint, tmp_path: Path
) -> None:
    p = running
    # the backfill kept every value, and reconcile agrees
    assert _pg(p, "SELECT code, price, exact::text, built, is_active FROM ci_types WHERE id=1") == [
        (42, 123.4567, DEC65, 1999, False)
    ]
    assert _pg(p, "SELECT status::text, perms, guid FROM ci_types ORDER BY id") == [
        ("a,b", ["read", "admin"], "f47ac10b-58cc-4372-a567-0e02b2c3d479"),
        ("", [], "a47ac10b-58cc-4372-a567-0e02b2c3d479"),
        ("it's", ["write"], "b47ac10b-58cc-4372-a567-0e02b2c3d479"),
        ("back\\slash", ["write"], "c47ac10b-58cc-4372-a567-0e02b2c3d479"),
    ]
    assert _pg(p, "SELECT id, created, born, expires FROM ci_dates ORDER BY id") == [
        (1, None, None, None),  # zero dates
        (2, dt.datetime(2020, 1, 2, 3, 4, 5), dt.date(1980, 5, 6), None),
        (3, dt.datetime(1970, 1, 1), dt.date(1970, 1, 1), dt.date(1970, 1, 1)),
    ]
    assert _pg(p, "SELECT name, bio FROM ci_latin1 WHERE id = 1") == [
        ("café Müller € Œ", "naïve façade ½ £ ÿ")
    ]
    assert _pg(p, "SELECT total, total_v FROM ci_totals ORDER BY id") == [
        (Decimal("7.50"), Decimal("7.50")),
        (Decimal("0.00"), Decimal("0.00")),
    ]
    _assert_in_sync(_reconcile(p, legacy, tmp_path / "after-backfill"))

    with closing(p.consumer()) as consumer:
        for sql in MYSQL_CHANGES:  # the legacy app's writes
            mysql_rows(p, sql)
        _drive_until(p, consumer, _mysql_changes_in_postgres(p))
        with p.pg() as pg:
            for sql in PG_CHANGES:
                pg.execute(sql)
        _drive_until(p, consumer, PG_CHANGES_IN_MYSQL)
        # quiet: what the stream applied comes back only as dropped echoes
        summary = consumer.run(max_seconds=3)
        assert (summary.applied, summary.dead_letters) == (0, 0)
    assert _pg(p, "SELECT count(*) FROM mps_sync.dead_letters") == [(0,)]

    # MySQL kept its zero dates through PostgreSQL's writes, and computed its generated columns
    assert _my(
        p, "SELECT id, CAST(created AS CHAR), CAST(born AS CHAR), note FROM ci_dates ORDER BY id"
    ) == [
        (1, "0000-00-00 00:00:00", "0000-00-00", "pg zero"),
        (2, "2020-01-02 03:04:05", "1980-05-06", "real"),
        (3, "1970-01-01 00:00:00", "1970-01-01", "pg epoch"),
        (4, "0000-00-00 00:00:00", "0000-00-00", "zero"),
        (5, "2001-02-03 04:05:06", "2001-02-03", "live"),
        (6, "1970-01-01 00:00:00", "1970-01-01", "epoch"),
        (20, "0000-00-00 00:00:00", "0000-00-00", "pg null"),
    ]
    assert _my(p, "SELECT label, price_x2, status FROM ci_types WHERE id = 100") == [
        ("C-00000000009", 5.0, "back\\slash")
    ]
    assert _pg(p, "SELECT exact::text FROM ci_types WHERE id = 1") == [(f"-{DEC65}",)]
    assert _pg(p, "SELECT total FROM ci_totals ORDER BY id") == [
        (Decimal("10.00"),),
        (Decimal("0.00"),),
        (Decimal("2.50"),),
    ]
    _assert_in_sync(_reconcile(p, legacy, tmp_path / "after-stream"))

    # the app's migration adds an enum member the mapping does not list yet: a dead letter that
    # names table, key, column and the fix, never a value changed on the way
    mysql_admin_exec(
        mysql_admin,
        legacy.db,
        "ALTER TABLE ci_types MODIFY status"
        " enum('','new','a,b','it''s','back\\\\slash','void') NOT NULL DEFAULT ''",
    )
    mysql_rows(p, "UPDATE ci_types SET status = 'void' WHERE id = 4")
    with closing(p.consumer()) as consumer:
        drive(consumer, lambda: _pg(p, "SELECT count(*) FROM mps_sync.dead_letters") == [(1,)])
    [(error,)] = _pg(p, "SELECT error FROM mps_sync.dead_letters")
    assert f"table {legacy.db}.ci_types key (id=4): column 'status'" in error
    assert (
        "value is not a member of the enum: 'void'; if the MySQL column gained it, run "
        "`mappings generate` and `ddl` again"
    ) in error


Check = tuple[str, str, list[tuple[Any, ...]]]  # side to read, query, expected rows


def _mysql_changes_in_postgres(p: Pipeline) -> list[Check]:
    first_name = "Ann B" if p.settings.converter == "json" else None  # Avro: never copied
    return [
        ("pg", "SELECT count(*), max(id) FROM ci_types", [(4, 5)]),
        ("pg", "SELECT status::text, built FROM ci_types WHERE id = 2", [("back\\slash", 0)]),
        ("pg", "SELECT exact::text FROM ci_types WHERE id = 1", [(f"-{DEC65}",)]),
        (
            "pg",
            "SELECT id, created, note FROM ci_dates WHERE id IN (1, 4) ORDER BY id",
            [(1, None, "zero upd"), (4, None, "zero")],
        ),
        (
            "pg",
            "SELECT id, created, born, note FROM ci_dates WHERE id IN (3, 6) ORDER BY id",
            [
                (3, dt.datetime(1970, 1, 1), dt.date(1970, 1, 1), "epoch upd"),
                (6, dt.datetime(1970, 1, 1), dt.date(1970, 1, 1), "epoch"),
            ],
        ),
        (
            "pg",
            "SELECT name FROM ci_latin1 ORDER BY id",
            [("café Müller € Œ",), ("crème brûlée",), ("Ærø ÿ „quote“",)],
        ),
        ("pg", "SELECT name FROM ci_utf8 WHERE id = 3", [("Ελληνικά",)]),
        (
            "pg",
            'SELECT "group", "first name", "MixedCase" FROM "order" WHERE "key" = 1',
            [("g2", first_name, -1)],
        ),
        ("pg", 'SELECT count(*) FROM "order"', [(3,)]),
        (
            "pg",
            "SELECT value FROM ci_settings WHERE name IN ('Theme', 'lang') "
            'ORDER BY value COLLATE "C"',
            [("Light",), ("de",)],
        ),
        (
            "pg",
            "SELECT id, total, total_v FROM ci_totals WHERE id IN (1, 3) ORDER BY id",
            [(1, Decimal("10.00"), Decimal("10.00")), (3, Decimal("2.50"), Decimal("2.50"))],
        ),
    ]


PG_CHANGES_IN_MYSQL: list[Check] = [
    (
        "mysql",
        "SELECT summary, status FROM ci_types WHERE id IN (2, 100) ORDER BY id",
        [("from pg ✓", ""), (None, "back\\slash")],
    ),
    (
        "mysql",
        "SELECT note FROM ci_dates WHERE id IN (1, 3, 20) ORDER BY id",
        [("pg zero",), ("pg epoch",), ("pg null",)],
    ),
    ("mysql", "SELECT name FROM ci_latin1 WHERE id = 10", [("façade € ‰",)]),
    ("mysql", "SELECT name FROM ci_utf8 WHERE id = 10", [("Łódź",)]),
    (
        "mysql",
        "SELECT `MixedCase` FROM `order` WHERE `key` IN (2, 10) ORDER BY `key`",
        [(99,), (1,)],
    ),
    (
        "mysql",
        "SELECT `name` FROM ci_settings ORDER BY `name`",
        [("THEME",), ("Theme",), ("lang",), ("site_name",)],
    ),
]


def _failing(p: Pipeline, checks: list[Check]) -> list[tuple[str, list[tuple[Any, ...]]]]:
    read = {"pg": pg_rows, "mysql": mysql_rows}
    found = ((sql, read[side](p, sql), want) for side, sql, want in checks)
    return [(sql, got) for sql, got, want in found if got != want]


def _drive_until(p: Pipeline, consumer: StreamConsumer, checks: list[Check]) -> None:
    try:
        drive(consumer, lambda: not _failing(p, checks), timeout_s=120)
    except AssertionError:
        raise AssertionError(f"still different: {_failing(p, checks)}") from None
