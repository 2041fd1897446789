"""`mappings generate` against a real wide MySQL schema, and `ddl` from its output on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.generate import NO_KEY_REASON
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint

PLAIN_TABLES = 40

SPECIAL = [
    "CREATE TABLE `order` (`id` int unsigned AUTO_INCREMENT PRIMARY KEY,"
    " `user` varchar(20) NOT NULL, `group` enum('a','b') NOT NULL, `select` json,"
    " UNIQUE KEY `uq_user` (`user`))",
    "CREATE TABLE `user` (`id` bigint unsigned AUTO_INCREMENT PRIMARY KEY, `Name` varchar(10))",
    "CREATE TABLE `Mixed Case Table` (`Key Part` int NOT NULL, `line no` smallint NOT NULL,"
    " `Value` text, PRIMARY KEY (`Key Part`, `line no`))",
    "CREATE TABLE `group` (`a` char(2) NOT NULL, `b` int NOT NULL, `c` date,"
    " UNIQUE KEY `uq_ab` (`a`, `b`), KEY `ix_c` (`c`))",
    "CREATE TABLE `keyless` (`msg` text, `at` datetime)",
    "CREATE TABLE `nullable_unique` (`code` varchar(5) NULL, UNIQUE KEY `uq_code` (`code`))",
    "CREATE TABLE `order_item` (`order_id` int unsigned NOT NULL, `n` int NOT NULL,"
    " `user_id` bigint unsigned, `total` decimal(10,2) AS (`n` * 2) VIRTUAL,"
    " PRIMARY KEY (`order_id`, `n`),"
    " CONSTRAINT `fk_order` FOREIGN KEY (`order_id`) REFERENCES `order` (`id`) ON DELETE CASCADE,"
    " CONSTRAINT `fk_user` FOREIGN KEY (`user_id`) REFERENCES `user` (`id`))",
]


@pytest.fixture
def wide(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> DatabaseEndpoint:
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    try:
        cur = conn.cursor()
        for statement in SPECIAL:
            cur.execute(statement)
        for i in range(PLAIN_TABLES):
            cur.execute(
                f"CREATE TABLE t{i:03d} (id bigint PRIMARY KEY, v{i} varchar(32), n decimal(12,2),"
                " at datetime(6), flag tinyint(1) NOT NULL DEFAULT 0, KEY ix_at (at))"
            )
    finally:
        conn.close()
    return mysql_db


def generate(db: str, out: Path, *extra: str) -> int:
    return main(["mappings", "generate", "--database", db, "--out", str(out), *extra])


def test_generate_wide_schema(
    wide: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mappings"
    assert generate(wide.database, out) == 0
    mappings = load_mappings(out)
    db = wide.database
    assert len(mappings) == PLAIN_TABLES + len(SPECIAL)
    assert len(list(out.glob("*.yaml"))) == len(mappings)
    order = mappings.by_source(f"{db}.order")
    assert order.target.schema == "public"
    assert order.key == ("id",)
    assert order.column("id").auto_increment
    assert order.column("id").pg_type == "bigint"
    assert order.column("group").values == ("a", "b")
    assert order.column("select").kind == "json"  # MariaDB: longtext + json_valid CHECK
    assert mappings.by_source(f"{db}.Mixed Case Table").key == ("Key Part", "line no")
    assert mappings.by_source(f"{db}.group").key == ("a", "b")  # unique over NOT NULL columns
    assert mappings.by_source(f"{db}.group").backfill.key_hint == "keyset"
    keyless = mappings.by_source(f"{db}.keyless")
    assert keyless.unsupported == NO_KEY_REASON
    nullable_unique = mappings.by_source(f"{db}.nullable_unique")
    assert "unique key uq_code has NULLable column(s) code" in str(nullable_unique.unsupported)
    assert not keyless.enabled
    assert not nullable_unique.enabled
    items = mappings.by_source(f"{db}.order_item")
    assert items.column("total").exclude  # generated column
    assert {fk.name for fk in items.foreign_keys} == {"fk_order", "fk_user"}
    enabled = {m.source.table for m in mappings.enabled()}
    assert "keyless" not in enabled
    assert len(enabled) == len(mappings) - 2
    assert "new table:" in capsys.readouterr().out


def test_rerun_keeps_hand_edits_and_reports_drift(
    wide: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "mappings"
    assert generate(wide.database, out) == 0
    path = out / f"{wide.database}.t000.yaml"
    edited = (
        path.read_text()
        .replace("direction: both", "direction: mysql_to_pg")
        .replace(  # the line goes on with the column's collation
            "{name: v0, column_type: varchar(32), pg_type: varchar(32),",
            "{name: v0, column_type: varchar(32), pg_type: text, pg_name: value,",
        )
    )
    assert edited != path.read_text()
    path.write_text(edited)
    capsys.readouterr()
    assert generate(wide.database, out) == 0
    assert "drift" not in capsys.readouterr().out
    assert path.read_text() == edited  # nothing to change: the file is left alone
    conn = mysql_connect(replace(mysql_admin, database=wide.database), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("ALTER TABLE t000 ADD COLUMN extra int, MODIFY v0 varchar(64), DROP COLUMN n")
        cur.execute("DROP TABLE t001")
        cur.execute("CREATE TABLE t999 (id int PRIMARY KEY)")
    finally:
        conn.close()
    assert generate(wide.database, out, "--check") == 3
    report = capsys.readouterr().out
    db = wide.database
    assert f"new table: {db}.t999" in report
    assert f"removed table (mapping kept; delete it by hand): {db}.t001" in report
    assert f"new column: {db}.t000.extra int(11)" in report
    assert f"removed column: {db}.t000.n" in report
    assert f"{db}.t000.v0 varchar(32) -> varchar(64)" in report
    assert path.read_text() == edited  # --check writes nothing
    assert generate(wide.database, out) == 0
    m = load_mappings(out).by_source(f"{db}.t000")
    assert m.direction == "mysql_to_pg"
    assert m.column("v0").pg_name == "value"
    assert m.column("v0").pg_type == "text"
    assert m.column("v0").column_type == "varchar(64)"
    assert [c.name for c in m.columns] == ["id", "v0", "at", "flag", "extra"]


def test_ddl_from_generated_mappings_is_idempotent_and_quoted(
    wide: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "mappings"
    assert generate(wide.database, out) == 0
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    capsys.readouterr()
    ddl = ["ddl", "--mappings", str(out), "--with-indexes", "--with-foreign-keys"]
    assert main([*ddl, "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert 'CREATE TABLE IF NOT EXISTS "public"."order"' in printed
    with pg_connect(pg_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
    assert main(ddl) == 0
    assert main(ddl) == 0  # a second run changes nothing and does not fail
    with pg_connect(pg_db) as conn:
        tables = {
            r[0]
            for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {"order", "user", "group", "Mixed Case Table", "order_item"} <= tables
        assert "keyless" not in tables
        assert len(tables) == PLAIN_TABLES + len(SPECIAL) - 2
        conn.execute('INSERT INTO "public"."user" ("Name") VALUES (\'x\')')
        conn.execute('INSERT INTO "public"."order" ("user", "group") VALUES (\'u\', \'b\')')
        conn.execute('INSERT INTO "public"."order_item" (order_id, n, user_id) VALUES (1, 1, 1)')
        fks = conn.execute(
            "SELECT conname, condeferrable FROM pg_constraint WHERE contype = 'f' ORDER BY 1"
        ).fetchall()
        assert fks == [("order_item_fk_order", True), ("order_item_fk_user", True)]
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute('INSERT INTO "public"."user" ("id", "Name") VALUES (-1, \'neg\')')
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
        }
        assert {"order_uq_user", "group_ix_c", "t000_ix_at", "Mixed Case Table_pkey"} <= indexes


def test_bad_mapping_files_fail_before_anything_is_written(
    wide: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "mappings"
    assert generate(wide.database, out) == 0
    bad = out / f"{wide.database}.t002.yaml"
    bad.write_text(bad.read_text().replace("direction: both", "direction: sideways"))
    (out / f"{wide.database}.t003.yaml").unlink()
    before = {p.name: p.read_text() for p in out.iterdir()}
    capsys.readouterr()
    assert generate(wide.database, out) == 1
    err = capsys.readouterr().err
    assert f"{bad}: table {wide.database}.t002: field direction" in err
    assert {p.name: p.read_text() for p in out.iterdir()} == before  # t003 not recreated
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    assert main(["ddl", "--mappings", str(out)]) == 1
    assert "field direction" in capsys.readouterr().err
    with pg_connect(pg_db) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
        ).fetchone() == (0,)
    assert main(["mappings", "validate", str(out)]) == 1
