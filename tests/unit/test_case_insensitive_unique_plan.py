"""Unique keys under a case-insensitive MySQL collation: the letter pairs, the index expression,
the DDL plan, the mapping's `collation` (validated, generated, merged) and the warnings."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.backfill.target import UniqueIndex, exact_unique_indexes
from mysql_pg_sync.cli import main
from mysql_pg_sync.ddl import index_names, indexes_ddl, plan_ddl
from mysql_pg_sync.dialects import mysql as my
from mysql_pg_sync.dialects import postgres as pg
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.generate import generate
from mysql_pg_sync.mapping.introspect import LiveColumn, LiveIndex, LiveTable
from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings

CAPITAL_SHARP_S, GEORGIAN_AN, CYRILLIC_PALOCHKA, A_WITH_STROKE = "ẞ", "Ⴀ", "Ӏ", "Ⱥ"


def users(**changes: Any) -> TableMapping:
    columns = {
        "id": {"column_type": "int(11)"},
        "email": {"column_type": "varchar(100)", "collation": "utf8mb4_general_ci"},
        "token": {"column_type": "varchar(40)", "collation": "utf8mb4_bin"},
        "slug": {"column_type": "varchar(40)"},  # a mapping written before collations
        "nick": {"column_type": "varchar(40)", "collation": "utf8mb4_turkish_ci"},
        "guid": {"column_type": "char(36)", "collation": "utf8mb4_general_ci", "pg_type": "uuid"},
        "tenant": {"column_type": "int(11)"},
    }
    for name, change in changes.pop("columns", {}).items():
        columns[name] = {**columns.get(name, {}), **change}
    data: dict[str, Any] = {
        "source": "legacy.users",
        "target": "public.users",
        "key": ["id"],
        "columns": [{"name": n, **c} for n, c in columns.items()],
        "indexes": [
            {"name": "uq_email", "columns": ["email"], "unique": True},
            {"name": "uq_token", "columns": ["token"], "unique": True},
            {"name": "uq_slug", "columns": ["slug"], "unique": True},
            {"name": "uq_nick", "columns": ["nick"], "unique": True},
            {"name": "uq_guid", "columns": ["guid"], "unique": True},
            {"name": "uq_tenant_email", "columns": ["tenant", "email"], "unique": True},
            {"name": "ix_email", "columns": ["email"]},
        ],
        **changes,
    }
    return TableMapping.model_validate(data)


def fold(value: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """What the index's function computes (translate() semantics)."""
    table = dict(pairs)
    return "".join(table.get(c, c) for c in value)


# --- the letter pairs ---------------------------------------------------------------------------


def test_the_pairs_fold_ascii_latin1_greek_cyrillic_but_not_letters_mysql_keeps_apart() -> None:
    pairs = dict(my.CASE_PAIRS)
    assert len(pairs) == len(my.CASE_PAIRS)  # each capital once
    for capital, small in ("Aa", "Zz", "Éé", "Þþ", "Œœ", "Σσ", "Ωω", "Άά", "Жж", "Ёё", "Ѐѐ"):
        assert pairs[capital] == small
    assert pairs["İ"] == "i"  # general_ci and unicode_ci take them as equal
    # PostgreSQL's lower() folds these, MariaDB's general_ci or unicode_ci does not
    for capital in (CAPITAL_SHARP_S, GEORGIAN_AN, CYRILLIC_PALOCHKA, A_WITH_STROKE):
        assert capital not in pairs
    # never a small letter folded, nor a letter to anything but its own small letter
    assert all(small not in pairs for small in pairs.values())
    assert all(capital.lower() == small for capital, small in pairs.items() if capital != "İ")


@pytest.mark.parametrize(
    ("collation", "folds"),
    [
        ("utf8mb4_general_ci", "all"),
        ("utf8mb4_unicode_ci", "all"),
        ("utf8mb4_unicode_520_nopad_ci", "all"),
        ("utf8mb4_uca1400_ai_ci", "all"),
        ("utf8mb3_general_ci", "all"),
        ("utf8_unicode_ci", "all"),  # MySQL's old name of utf8mb3
        ("latin1_swedish_ci", "latin1"),
        ("ascii_general_ci", "ascii"),
        ("utf8mb4_turkish_ci", None),  # I and i differ there
        ("utf8mb4_czech_ci", None),  # 'ch' is one letter there
        ("utf8mb4_uca1400_as_ci", None),  # İ and i differ there
        ("utf8mb4_0900_ai_ci", None),  # MySQL 8: not checked here
        ("latin2_general_ci", None),
        ("utf8mb4_bin", None),
        ("utf8mb4_general_cs", None),
    ],
)
def test_which_collations_fold_which_letters(collation: str, folds: str | None) -> None:
    folding = my.case_folding(collation)
    if folds is None:
        assert folding is None
        return
    assert folding is not None
    assert folding.name == {"all": "utf8"}.get(folds, folds)
    capitals = {capital for capital, _ in folding.pairs}
    assert {"A", "Z"} <= capitals
    assert ("É" in capitals) == (folds != "ascii")
    # latin1 keeps OE, S and Z caron and Y diaeresis apart from their small letters
    assert ("Œ" in capitals) == ("Ж" in capitals) == (folds == "all")


def test_only_ci_collations_ignore_case() -> None:
    assert my.is_case_insensitive("utf8mb4_general_ci")
    assert my.is_case_insensitive("utf8mb4_0900_AI_CI")
    for collation in ("utf8mb4_bin", "utf8mb4_nopad_bin", "utf8mb4_0900_as_cs", "", None):
        assert not my.is_case_insensitive(collation)


# --- the index expression -----------------------------------------------------------------------


def test_the_fold_is_lower_in_the_c_collation_for_ascii_and_translate_beyond() -> None:
    ascii_pairs = my._case_pairs(0x7F)
    assert pg.case_fold_sql('"email"', ascii_pairs) == 'lower("email" COLLATE "C")'
    latin1 = pg.case_fold_sql('"email"', my._case_pairs(0xFF))
    assert latin1 == (
        '(CASE WHEN octet_length("email") = char_length("email") THEN lower("email" COLLATE "C") '
        'ELSE translate(lower("email" COLLATE "C"), \'ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞ\', '
        "'àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþ') END)"
    )


def test_the_fold_refuses_pairs_that_lower_in_the_c_collation_would_not_match() -> None:
    # lower(... COLLATE "C") folds all of A-Z: pairs without I (a Turkish collation) would
    # fold I anyway, stricter than MySQL
    without_i = tuple(p for p in my.CASE_PAIRS if p[0] != "I")
    with pytest.raises(ValueError, match="A-Z"):
        pg.case_fold_sql('"nick"', without_i)


def test_folded_values_are_equal_only_where_mysql_takes_them_as_equal() -> None:
    pairs = my.CASE_PAIRS
    assert fold("A@X.com", pairs) == fold("a@x.com", pairs)
    assert fold("ÉLODIE", pairs) == fold("élodie", pairs)
    assert fold("ИВАН", pairs) == fold("иван", pairs)
    assert fold("é", pairs) != fold("e", pairs)  # accents: MySQL equal, PostgreSQL not (looser)
    assert fold("a", pairs) != fold("a ", pairs)  # PAD SPACE: MySQL equal, PostgreSQL not
    for capital in (CAPITAL_SHARP_S, A_WITH_STROKE, CYRILLIC_PALOCHKA):
        assert fold(capital, pairs) != fold(capital.lower(), pairs)  # MySQL: different


# --- the DDL plan -------------------------------------------------------------------------------


def unique_statements(mapping: TableMapping) -> dict[str, str]:
    names = index_names(MappingSet((mapping,)))
    return {i.name: i.create for i in indexes_ddl(mapping, unique=True, names=names)}


def test_ddl_folds_case_in_unique_indexes_over_ci_columns_only() -> None:
    mapping = users()
    statements = unique_statements(mapping)
    function, create_function = pg.case_fold_function("public", "utf8", my.CASE_PAIRS)
    assert function.startswith('"public"."mysql_ci_utf8_')
    folded = f'{function}("email")'
    assert statements["users_uq_email"] == (
        "-- email: MySQL utf8mb4_general_ci ignores case: unique over the value with case folded "
        "(only the letter pairs that collation takes as equal; accents and trailing spaces still "
        'count here)\nCREATE UNIQUE INDEX IF NOT EXISTS "users_uq_email" ON "public"."users" '
        f"({folded})"
    )
    assert statements["users_uq_tenant_email"].endswith(f'ON "public"."users" ("tenant", {folded})')
    # _bin, no recorded collation, a uuid (its equality ignores case already): as before
    plain = 'CREATE UNIQUE INDEX IF NOT EXISTS "users_{0}" ON "public"."users" ("{1}")'
    assert statements["users_uq_token"] == plain.format("uq_token", "token")
    assert statements["users_uq_slug"] == plain.format("uq_slug", "slug")
    assert statements["users_uq_guid"] == plain.format("uq_guid", "guid")
    # the function once, before the table; the unique indexes after it
    every = plan_ddl(MappingSet((mapping,)))
    assert every.count(create_function) == 1
    table_at = next(i for i, s in enumerate(every) if s.startswith("CREATE TABLE"))
    assert every.index(create_function) < table_at
    assert [s for s in every if "UNIQUE INDEX" in s] == list(statements.values())
    # a secondary index keeps the plain column: it serves the PostgreSQL app's own lookups
    names = index_names(MappingSet((mapping,)))
    (secondary,) = indexes_ddl(mapping, unique=False, names=names)
    assert secondary.create == (
        'CREATE INDEX IF NOT EXISTS "users_ix_email" ON "public"."users" ("email")'
    )
    assert secondary.folded == secondary.functions == ()


def test_the_fold_function_is_immutable_inlinable_and_named_by_its_body() -> None:
    name, create = pg.case_fold_function("App", "latin1", my._case_pairs(0xFF))
    body = pg.case_fold_sql("$1", my._case_pairs(0xFF))
    assert create == (
        f"DO $$ BEGIN CREATE FUNCTION {name}(text) RETURNS text LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS $fold$ SELECT {body} $fold$; COMMENT ON FUNCTION {name}(text) IS "
        "'Folds the case of the letters MySQL''s latin1 _ci collations take as equal (and only "
        "those): unique keys ignore case as in MySQL. Written by mysql-pg-sync''s ddl'; "
        "EXCEPTION WHEN duplicate_function THEN NULL; END $$"
    )
    assert "STRICT" not in create  # a STRICT SQL function over a CASE is not inlined
    # another letter set is another function: an index never sees its function change
    other, _ = pg.case_fold_function("App", "latin1", my._case_pairs(0x7F))
    assert name.startswith('"App"."mysql_ci_latin1_')
    assert other.startswith('"App"."mysql_ci_latin1_')
    assert other != name


def test_an_unchecked_ci_collation_keeps_the_plain_column_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        statements = plan_ddl(MappingSet((users(),)))
    (nick,) = [s for s in statements if '"users_uq_nick"' in s]
    comment, create = nick.split("\n")
    assert (
        create == 'CREATE UNIQUE INDEX IF NOT EXISTS "users_uq_nick" ON "public"."users" ("nick")'
    )
    assert comment.startswith("-- nick: MySQL utf8mb4_turkish_ci ignores case, but which letters")
    assert "less strict than MySQL" in comment
    assert "legacy.users: unique index uq_nick: nick: MySQL utf8mb4_turkish_ci" in caplog.text


def test_index_names_are_those_of_before() -> None:
    before = users(columns={"email": {"collation": None}})
    assert unique_statements(before).keys() == unique_statements(users()).keys()


# --- the mapping's collation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "message"),
    [
        (
            {"name": "id", "column_type": "int(11)", "collation": "utf8mb4_general_ci"},
            "collation 'utf8mb4_general_ci' on a int(11) column: only char, varchar and text",
        ),
        (
            {"name": "state", "column_type": "enum('a','b')", "collation": "utf8mb4_general_ci"},
            "only char, varchar and text columns have one here",
        ),
        (
            {"name": "email", "column_type": "varchar(9)", "collation": "latin1_swedish_ci"},
            "collation 'latin1_swedish_ci' is not one of the column's character set utf8mb4",
        ),
        (
            {
                "name": "email",
                "column_type": "varchar(9)",
                "charset": "latin1",
                "collation": "utf8mb4_bin",
            },
            "is not one of the column's character set latin1",
        ),
    ],
)
def test_a_contradictory_collation_is_refused_naming_file_table_and_column(
    tmp_path: Path, column: dict[str, Any], message: str
) -> None:
    entry = {
        "source": "legacy.t",
        "target": "public.t",
        "key": ["k"],
        "columns": [{"name": "k", "column_type": "int(11)"}, column],
    }
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(entry))
    with pytest.raises(MappingError) as error:
        load_mappings(tmp_path)
    text = str(error.value)
    assert f"{tmp_path / 't.yaml'}: table legacy.t: field columns[1 '{column['name']}']" in text
    assert message in text


def test_utf8_and_utf8mb3_are_one_character_set() -> None:
    mapping = users(columns={"email": {"charset": "utf8", "collation": "utf8mb3_general_ci"}})
    assert mapping.column("email").case_insensitive
    mapping = users(columns={"email": {"charset": "utf8mb3", "collation": "utf8_general_ci"}})
    assert '"mysql_ci_utf8_' in unique_statements(mapping)["users_uq_email"]


def test_a_case_insensitive_key_is_a_validation_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = (
        "source: legacy.ci_sessions\ntarget: public.ci_sessions\nkey: [id]\n{direction}columns:\n"
        "- {{name: id, column_type: varchar(128), collation: utf8mb4_general_ci}}\n"
        "- {{name: data, column_type: blob}}\n"
    )
    (tmp_path / "s.yaml").write_text(entry.format(direction=""))
    with caplog.at_level(logging.WARNING):
        mapping = load_mappings(tmp_path).by_source("legacy.ci_sessions")
    # not on every load: each task's log filled up with every other table's warnings
    assert caplog.text == ""
    assert main(["mappings", "validate", str(tmp_path)]) == 0
    assert (
        "warning: legacy.ci_sessions: the key ignores case in MySQL (id utf8mb4_general_ci), "
        "but PostgreSQL's primary key compares exactly"
    ) in capsys.readouterr().out
    assert mapping.case_insensitive_key_warning() is not None
    # the primary key itself is not folded: the stream and reconcile match rows by it
    assert 'PRIMARY KEY ("id")' in "\n".join(plan_ddl(MappingSet((mapping,))))
    caplog.clear()
    (tmp_path / "s.yaml").write_text(entry.format(direction="direction: mysql_to_pg\n"))
    assert main(["mappings", "validate", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().out  # nothing PostgreSQL writes reaches MySQL


# --- mappings generate --------------------------------------------------------------------------


def live_users(email_collation: str = "utf8mb4_general_ci") -> LiveTable:
    return LiveTable(
        "legacy",
        "users",
        columns=[
            LiveColumn("id", "int(11)", False, None, ""),
            LiveColumn("email", "varchar(100)", False, None, "", "utf8mb4", email_collation),
            LiveColumn("token", "varchar(40)", False, None, "", "utf8mb4", "utf8mb4_bin"),
            LiveColumn("bio", "text", True, None, "", "utf8mb4", "utf8mb4_unicode_ci"),
            LiveColumn("state", "enum('a','b')", True, None, "", "utf8mb4", "utf8mb4_general_ci"),
            LiveColumn("raw", "blob", True, None, "", "binary", "binary"),
        ],
        indexes=[
            LiveIndex("PRIMARY", ("id",), True, False),
            LiveIndex("uq_email", ("email",), True, False),
            LiveIndex("uq_token", ("token",), True, False),
        ],
    )


def collations(entry: dict[str, Any]) -> dict[str, str | None]:
    return {c["name"]: c.get("collation") for c in entry["columns"]}


def test_generate_records_the_collation_of_char_varchar_and_text_columns() -> None:
    entries, _ = generate([live_users()], {}, ["legacy"])
    entry = entries["legacy.users"]
    assert collations(entry) == {
        "id": None,
        "email": "utf8mb4_general_ci",
        "token": "utf8mb4_bin",
        "bio": "utf8mb4_unicode_ci",
        "state": None,
        "raw": None,
    }
    statements = unique_statements(TableMapping.model_validate(entry))
    assert '"mysql_ci_utf8_' in statements["users_uq_email"]
    assert statements["users_uq_token"].endswith('("token")')


def test_generate_fills_the_collation_into_old_entries_keeping_hand_edits() -> None:
    fresh, _ = generate([live_users()], {}, ["legacy"])
    old = fresh["legacy.users"]
    old["columns"] = [{k: v for k, v in c.items() if k != "collation"} for c in old["columns"]]
    old["columns"][1]["pg_name"] = "mail"  # a hand edit
    old["direction"] = "mysql_to_pg"
    TableMapping.model_validate(old)  # a file written before collations still loads
    merged, drift = generate([live_users()], {"legacy.users": old}, ["legacy"])
    entry = merged["legacy.users"]
    assert collations(entry)["email"] == "utf8mb4_general_ci"
    assert entry["columns"][1]["pg_name"] == "mail"
    assert entry["direction"] == "mysql_to_pg"
    assert not drift.has_drift  # recording a fact for the first time is no drift


def test_generate_reports_a_changed_collation_as_drift() -> None:
    first, _ = generate([live_users()], {}, ["legacy"])
    merged, drift = generate([live_users("utf8mb4_bin")], first, ["legacy"])
    assert collations(merged["legacy.users"])["email"] == "utf8mb4_bin"
    assert drift.retyped_columns == [
        "legacy.users.email collation utf8mb4_general_ci -> utf8mb4_bin (ddl does not change an "
        "existing PostgreSQL unique index)"
    ]
    assert drift.has_drift


# --- an existing table (the backfill's target check) --------------------------------------------


def test_an_existing_plain_unique_index_where_ddl_would_fold_case_is_a_warning() -> None:
    mapping = users()
    mappings = MappingSet((mapping,))
    plain = [
        UniqueIndex("users_pkey", ("id",), primary=True),
        UniqueIndex("users_uq_email", ("email",)),
        UniqueIndex("users_uq_token", ("token",)),
    ]
    (warning,) = exact_unique_indexes(mapping, mappings, plain)
    assert warning.startswith(
        'legacy.users: unique index users_uq_email on "public"."users" compares email as '
        "written, but MySQL ignores case there"
    )
    assert 'DROP INDEX "public"."users_uq_email"; then `ddl --tables legacy.users`' in warning
    folded = [*plain[:1], UniqueIndex("users_uq_email", ("<fold>",), expressions=True)]
    assert exact_unique_indexes(mapping, mappings, folded) == []
