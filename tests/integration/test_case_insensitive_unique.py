"""Unique keys under case-insensitive collations on the real servers.

A MariaDB table with unique _ci and _bin columns goes through `mappings generate`, `ddl` and a
backfill; then the same inserts run on both sides and PostgreSQL refuses exactly what MariaDB
refuses, but for what MySQL's collations also ignore (accents, trailing spaces). The letter
pairs the DDL folds are checked against every collation of the server they are used for.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import MySQLdb
import psycopg
import pytest
from tests.integration.test_backfill import make_backfill, mysql_admin_exec, run_all

from mysql_pg_sync.backfill.runner import RunOptions
from mysql_pg_sync.backfill.target import exact_unique_indexes, key_problem, unique_indexes
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import DatabaseEndpoint, Endpoints

TABLE = """CREATE TABLE accounts (
  id int(11) NOT NULL PRIMARY KEY,
  email varchar(100) COLLATE utf8mb4_general_ci NOT NULL,
  username varchar(40) COLLATE utf8mb4_unicode_ci NULL,
  token varchar(40) COLLATE utf8mb4_bin NOT NULL,
  UNIQUE KEY uq_email (email),
  UNIQUE KEY uq_username (username),
  UNIQUE KEY uq_token (token)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""
# Rows MariaDB holds side by side: letters PostgreSQL's lower() would take as equal but these
# collations do not (U+023A/U+2C65 and U+1E9E/ß under general_ci; Georgian under unicode_ci)
SEED = [
    (1, "a@x.com", "élodie", "tok"),
    (2, "Ⱥ@x.com", "ẞen", "TOK"),
    (3, "ⱥ@x.com", "ßen", "Tok"),
    (4, "ẞ@x.com", "Ⴀ", "t1"),
    (5, "ß@x.com", "ⴀ", "t2"),
    (6, "ivan@x.com", None, "t3"),
    (7, "jürgen@x.com", None, "t4"),
]
INSERT = "INSERT INTO {table} (id, email, username, token) VALUES ({p}, {p}, {p}, {p})"


@pytest.fixture
def accounts(
    mysql_db: DatabaseEndpoint,
    mysql_admin: DatabaseEndpoint,
    pg_db: DatabaseEndpoint,
    endpoints: Endpoints,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[DatabaseEndpoint, DatabaseEndpoint]:
    """README "Add a table": the table in MySQL, `mappings generate`, `validate`, `ddl`, then
    a backfill of rows MariaDB holds legally."""
    mysql_admin_exec(mysql_admin, mysql_db.database, TABLE)
    admin = replace(mysql_admin, database=mysql_db.database)
    for row in SEED:
        assert _mysql_insert(admin, row) is None
    out, db = tmp_path / "mappings", mysql_db.database
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    assert main(["mappings", "generate", "--database", db, "--out", str(out)]) == 0
    assert main(["mappings", "validate", str(out)]) == 0
    assert main(["ddl", "--mappings", str(out)]) == 0
    mappings = load_mappings(out)
    mapping = mappings.by_source(f"{db}.accounts")
    assert [mapping.column(c).collation for c in ("email", "username", "token")] == [
        "utf8mb4_general_ci",
        "utf8mb4_unicode_ci",
        "utf8mb4_bin",
    ]
    # the backfill checks the table `ddl` made and copies every row: nothing MySQL holds is
    # refused by a unique index stricter than MySQL's
    backfill = make_backfill(endpoints, mysql_db, pg_db, list(mappings), tmp_path)
    summary = run_all(backfill, RunOptions(strict_counts=True))
    assert summary["tables"][mapping.name]["state"] == "streaming", summary
    with pg_connect(pg_db) as conn:
        copied = conn.execute("SELECT id, email, username, token FROM public.accounts ORDER BY id")
        assert copied.fetchall() == SEED
    with pg_connect(pg_db) as conn:
        indexes = unique_indexes(conn, "public", "accounts")
    assert key_problem(mapping, indexes) is None
    assert exact_unique_indexes(mapping, mappings, indexes) == []
    by_name = {i.name: i for i in indexes}
    assert by_name["accounts_uq_email"].expressions
    assert by_name["accounts_uq_username"].expressions
    assert by_name["accounts_uq_token"].columns == ("token",)
    return admin, pg_db


def _mysql_insert(admin: DatabaseEndpoint, row: tuple[Any, ...]) -> str | None:
    """None when MariaDB takes the row, else its error."""
    conn = mysql_connect(admin, autocommit=True)
    try:
        conn.cursor().execute(INSERT.format(table="accounts", p="%s"), row)
    except MySQLdb.IntegrityError as exc:
        return str(exc)
    finally:
        conn.close()
    return None


def _pg_insert(endpoint: DatabaseEndpoint, row: tuple[Any, ...]) -> str | None:
    """None when PostgreSQL takes the row, else its error."""
    try:
        with pg_connect(endpoint) as conn:
            conn.execute(INSERT.format(table="public.accounts", p="%s"), row)
    except psycopg.errors.UniqueViolation as exc:
        return str(exc)
    return None


# (row, what both refuse: the unique key, or None)
SAME_ON_BOTH = [
    ((10, "A@x.com", None, "t10"), "email"),  # _ci: a value differing only in case
    ((11, "A@X.COM", None, "t11"), "email"),
    ((12, "IVAN@x.com", None, "t12"), "email"),
    ((13, "JÜRGEN@x.com", None, "t13"), "email"),  # Latin-1 letters fold too
    ((14, "c@x.com", "ÉLODIE", "t14"), "username"),
    ((15, "d@x.com", None, "TOk"), None),  # _bin: case counts, on both sides
    ((16, "Ⱥ@X.COM", None, "t16"), "email"),  # general_ci: Ⱥ is itself, x/X still fold
    ((17, "e@x.com", "ⴀ2", "t17"), None),
]
# What MySQL's collations ignore beyond case and PostgreSQL does not: both taken in PostgreSQL
LOOSER_IN_POSTGRES = [
    (20, "á@x.com", None, "t20"),  # accents: general_ci takes á as a
    (21, "a@x.com ", None, "t21"),  # PAD SPACE: trailing spaces do not count in MySQL
    (22, "f@x.com", "elodie", "t22"),  # unicode_ci: é = e
]


def test_postgresql_refuses_what_mysql_refuses_in_unique_keys(
    accounts: tuple[DatabaseEndpoint, DatabaseEndpoint],
) -> None:
    mysql, postgres = accounts
    for row, refused_by in SAME_ON_BOTH:
        mysql_error, pg_error = _mysql_insert(mysql, row), _pg_insert(postgres, row)
        if refused_by is None:
            assert (mysql_error, pg_error) == (None, None), row
            continue
        assert mysql_error is not None, row
        assert f"uq_{refused_by}" in mysql_error, (row, mysql_error)
        assert pg_error is not None, row
        assert f'"accounts_uq_{refused_by}"' in pg_error, (row, pg_error)
        if refused_by == "email":
            assert "Key (mysql_ci_utf8_" in pg_error, pg_error
            assert len(pg_error) < 300, pg_error


def test_what_mysql_ignores_beyond_case_postgresql_still_takes(
    accounts: tuple[DatabaseEndpoint, DatabaseEndpoint],
) -> None:
    mysql, postgres = accounts
    for row in LOOSER_IN_POSTGRES:
        assert _mysql_insert(mysql, row) is not None, row
        assert _pg_insert(postgres, row) is None, row


# --- the letter pairs against the server ---------------------------------------------------------


@contextmanager
def _letters_table(admin: DatabaseEndpoint, pairs: list[tuple[str, str]]) -> Iterator[Any]:
    """A MariaDB table of (capital, small) pairs, stored byte for byte (utf8mb4_bin)."""
    conn = mysql_connect(admin, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(
            "CREATE TABLE letters (c varchar(2) COLLATE utf8mb4_bin, s varchar(2) COLLATE "
            "utf8mb4_bin) CHARACTER SET utf8mb4"
        )
        cur.executemany("INSERT INTO letters VALUES (%s, %s)", pairs)
        yield cur
    finally:
        conn.close()


def _name(letter: str) -> str:
    return f"U+{ord(letter):04X} {unicodedata.name(letter, '?')}"


def test_every_pair_folded_is_equal_under_each_collation_it_is_folded_for(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint
) -> None:
    admin = replace(mysql_admin, database=mysql_db.database)
    with _letters_table(admin, list(my.CASE_PAIRS)) as cur:
        cur.execute(  # MariaDB 10.10+: uca1400 collations are listed by charset only here
            "SELECT FULL_COLLATION_NAME FROM "
            "information_schema.COLLATION_CHARACTER_SET_APPLICABILITY ORDER BY 1"
        )
        collations = [str(r[0]) for r in cur.fetchall()]
        checked = [c for c in collations if my.case_folding(c) is not None]
        assert {
            "utf8mb4_general_ci",
            "utf8mb4_unicode_ci",
            "utf8mb4_uca1400_ai_ci",
            "utf8mb3_general_ci",
            "latin1_swedish_ci",
        } <= set(checked)
        different = {}
        for collation in checked:
            charset = my.collation_charset(collation)
            folding = my.case_folding(collation)
            capitals = {c for c, _ in folding.pairs} if folding else set()
            # the pairs the character set holds (utf8mb3 and ucs2: no letter above U+FFFF)
            holds = " AND ".join(
                f"CONVERT(CONVERT({x} USING {charset}) USING utf8mb4) = {x}" for x in ("c", "s")
            )
            cur.execute(
                f"SELECT c FROM letters WHERE {holds} AND "
                f"CONVERT(c USING {charset}) COLLATE {collation} <> "
                f"CONVERT(s USING {charset}) COLLATE {collation}"
            )
            found = [str(r[0]) for r in cur.fetchall() if str(r[0]) in capitals]
            if found:
                different[collation] = [_name(c) for c in found]
    assert different == {}


# ASCII, Latin-1, Greek, Cyrillic, the German sharp s, the Turkish dotted and dotless i, and
# letters newer than MariaDB's Unicode tables
LETTERS = (
    "AaZz ÀàÉéÞþÿŸ ŒœŠšŽž ΑαΣσςΆάϴθϹϲ ЖжЁёЀѐӀӏҊҋ ßẞ İiIı ȺⱥႠⴀᎠꭰ 𐐀𐐨 Ǆǅǆ ǈ Ω K Å ＡａⒶⓐⅠⅰ"
).replace(" ", "")


def test_the_fold_never_takes_as_equal_two_letters_mariadb_keeps_apart(
    mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint, pg_db: DatabaseEndpoint
) -> None:
    """The DDL's expression run by PostgreSQL on every letter of the list and every letter
    its lower() changes: any two letters it folds to the same are equal in MariaDB under
    each collation it folds for."""
    with pg_connect(pg_db, autocommit=True) as conn:
        every = [chr(c) for c in range(0x41, 0x20000) if not 0xD800 <= c <= 0xDFFF]
        cased = conn.execute(
            "SELECT c FROM unnest(%s::text[]) c WHERE lower(c) <> c", (every,)
        ).fetchall()
        letters = sorted(set(LETTERS) | {str(r[0]) for r in cased})
        folded = {}
        for collation in ("utf8mb4_general_ci", "utf8mb4_unicode_ci", "latin1_swedish_ci"):
            folding = my.case_folding(collation)
            assert folding is not None
            function, create = pg.case_fold_function("public", folding.name, folding.pairs)
            conn.execute(create)  # as ddl runs it; a second time creates nothing
            conn.execute(create)
            rows = conn.execute(
                f"SELECT v, {function}(v) FROM unnest(%s::text[]) v", (letters,)
            ).fetchall()
            folded[collation] = {str(v): str(f) for v, f in rows}
    assert folded["utf8mb4_general_ci"]["É"] == "é"
    assert folded["utf8mb4_general_ci"]["ẞ"] == "ẞ"  # lower() would make it ß
    assert folded["latin1_swedish_ci"]["Œ"] == "Œ"
    assert folded["latin1_swedish_ci"]["É"] == "é"
    pairs = {
        (letter, value)
        for by_letter in folded.values()
        for letter, value in by_letter.items()
        if value != letter
    }
    admin = replace(mysql_admin, database=mysql_db.database)
    with _letters_table(admin, sorted(pairs)) as cur:
        different = {}
        for collation, by_letter in folded.items():
            charset = my.collation_charset(collation)
            cur.execute(
                f"SELECT c, s FROM letters WHERE CONVERT(c USING {charset}) COLLATE {collation} "
                f"<> CONVERT(s USING {charset}) COLLATE {collation}"
            )
            found = [(str(c), str(s)) for c, s in cur.fetchall() if by_letter.get(str(c)) == str(s)]
            if charset == "latin1":  # letters latin1 cannot hold are never written there
                found = [(c, s) for c, s in found if max(ord(c), ord(s)) <= 0xFF]
            if found:
                different[collation] = [f"{_name(c)} / {_name(s)}" for c, s in found]
    assert different == {}
