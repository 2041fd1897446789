"""`ddl` on PostgreSQL tables that exist: it adds the mapped columns they lack, and refuses,
before any SQL, what it will not change for the operator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.settings import DatabaseEndpoint


def _mappings(folder: Path, columns: list[dict[str, Any]], direction: str = "both") -> Path:
    folder.mkdir(exist_ok=True)
    entry = {
        "source": "app.accounts",
        "target": "public.accounts",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}, *columns],
        "direction": direction,
    }
    (folder / "app.accounts.yaml").write_text(yaml.safe_dump([entry]))
    return folder


def _columns(pg_db: DatabaseEndpoint) -> list[tuple[Any, ...]]:
    with pg_connect(pg_db) as conn:
        return conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'accounts' ORDER BY ordinal_position"
        ).fetchall()


@pytest.fixture
def accounts(pg_db: DatabaseEndpoint, monkeypatch: pytest.MonkeyPatch) -> DatabaseEndpoint:
    """public.accounts with two rows, as an earlier `ddl` and the sync left it."""
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.accounts (id integer PRIMARY KEY, name varchar(10))")
        conn.execute("INSERT INTO public.accounts VALUES (1, 'a'), (2, 'b')")
    return pg_db


def test_a_retyped_column_is_reported_with_the_statement_and_nothing_is_applied(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _mappings(
        tmp_path / "m",
        [
            {"name": "name", "column_type": "varchar(40)"},  # the migration widened it
            {"name": "email", "column_type": "varchar(80)"},  # and added this one
        ],
    )
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "ddl: app.accounts: the existing PostgreSQL table does not match the mapping" in err
    assert (
        "column 'name' is character varying(10) but the mapping says character varying(40)" in err
    )
    assert 'ALTER TABLE "public"."accounts" ALTER COLUMN "name" TYPE character varying(40)' in err
    assert "nothing was applied" in err
    assert _columns(accounts) == [("id", "integer"), ("name", "character varying")]


def test_a_refusal_names_the_command_that_goes_on_with_the_other_tables(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One table that does not match held back every new table, without saying how not to."""
    folder = _mappings(tmp_path / "m", [{"name": "name", "column_type": "varchar(40)"}])
    other = {
        "source": "app.notes",
        "target": "public.notes",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
    }
    (folder / "app.notes.yaml").write_text(yaml.safe_dump([other]))
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert 'to go on with the others meanwhile: make ddl ARGS="--tables app.notes"' in err
    assert main(["ddl", "--mappings", str(folder), "--tables", "app.notes"]) == 0
    with pg_connect(accounts) as conn:
        assert conn.execute("SELECT to_regclass('public.notes') IS NOT NULL").fetchone() == (True,)


def test_a_not_null_column_without_a_default_on_a_table_with_rows_says_what_to_set(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    columns: list[dict[str, Any]] = [
        {"name": "name", "column_type": "varchar(10)"},
        {"name": "email", "column_type": "varchar(80)"},
        {"name": "code", "column_type": "varchar(8)", "nullable": False},  # MySQL filled ''
        {"name": "tier", "column_type": "enum('basic','gold')", "nullable": False},
    ]
    folder = _mappings(tmp_path / "m", columns)
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "NOT NULL column 'code' has no default for the existing rows" in err
    assert "implicit default ('' for strings, 0 for numbers)" in err
    assert "NOT NULL column 'tier' has no default for the existing rows" in err
    assert "MySQL gave its existing rows the first member, 'basic'" in err
    assert "nothing was applied" in err
    assert _columns(accounts) == [("id", "integer"), ("name", "character varying")]

    columns[2]["default"] = "''"  # what MySQL gave its rows
    columns[3]["default"] = "'basic'"
    _mappings(tmp_path / "m", columns)
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert [c for c, _ in _columns(accounts)] == ["id", "name", "email", "code", "tier"]
    with pg_connect(accounts) as conn:
        rows = conn.execute(
            "SELECT id, email, code, tier::text FROM public.accounts ORDER BY id"
        ).fetchall()
    assert rows == [(1, None, "", "basic"), (2, None, "", "basic")]


def test_an_empty_table_takes_a_not_null_column_without_a_default(
    pg_db: DatabaseEndpoint, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    with pg_connect(pg_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.accounts (id integer PRIMARY KEY)")
    columns = [{"name": "code", "column_type": "varchar(8)", "nullable": False}]
    assert main(["ddl", "--mappings", str(_mappings(tmp_path / "m", columns))]) == 0
    assert _columns(pg_db) == [("id", "integer"), ("code", "character varying")]


def _checks(pg_db: DatabaseEndpoint) -> dict[str, bool]:
    with pg_connect(pg_db) as conn:
        rows = conn.execute(
            "SELECT conname, convalidated FROM pg_constraint "
            "WHERE conrelid = 'public.accounts'::regclass AND contype = 'c'"
        ).fetchall()
    return {str(r[0]): bool(r[1]) for r in rows}


def test_a_new_column_s_check_is_added_not_valid_then_validated(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    columns = [
        {"name": "name", "column_type": "varchar(10)"},
        {"name": "points", "column_type": "int(10) unsigned", "nullable": False, "default": "0"},
    ]
    folder = _mappings(tmp_path / "m", columns)
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert 'CHECK ("points" >= 0 AND "points" <= 4294967295) NOT VALID;' in printed
    assert printed.rstrip().endswith(
        'ALTER TABLE "public"."accounts" VALIDATE CONSTRAINT "accounts_points_range";'
    )
    assert _checks(accounts) == {}
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert _checks(accounts) == {"accounts_points_range": True}
    with pg_connect(accounts) as conn:
        assert conn.execute("SELECT id, points FROM public.accounts ORDER BY id").fetchall() == [
            (1, 0),
            (2, 0),
        ]


def test_rows_breaking_a_check_left_not_valid_are_named_and_a_later_run_validates_it(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An earlier ddl's validation failed or was interrupted: its CHECK is still NOT VALID."""
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.accounts ADD COLUMN points bigint DEFAULT 0 NOT NULL")
        conn.execute("UPDATE public.accounts SET points = -5 WHERE id = 2")
        conn.execute(
            "ALTER TABLE public.accounts ADD CONSTRAINT accounts_points_range "
            "CHECK (points >= 0 AND points <= 4294967295) NOT VALID"
        )
        # the PostgreSQL app's own, left NOT VALID on purpose: old rows break it
        conn.execute(
            "ALTER TABLE public.accounts ADD CONSTRAINT app_rule CHECK (name <> 'a') NOT VALID"
        )
    columns = [
        {"name": "name", "column_type": "varchar(10)"},
        {"name": "points", "column_type": "int(10) unsigned", "nullable": False, "default": "0"},
    ]
    folder = _mappings(tmp_path / "m", columns)
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert '"public"."accounts": rows already there break constraint "accounts_points_range"' in err
    assert "stays NOT VALID" in err
    query = err.split("find them with ", 1)[1].split("\n", 1)[0]
    with pg_connect(accounts) as conn:
        assert [r[0] for r in conn.execute(query).fetchall()] == [2]
    assert _checks(accounts) == {"accounts_points_range": False, "app_rule": False}
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("UPDATE public.accounts SET points = 5 WHERE id = 2")
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert _checks(accounts) == {"accounts_points_range": True, "app_rule": False}


def _enum_column(members: str) -> list[dict[str, Any]]:
    return [
        {"name": "name", "column_type": "varchar(10)"},
        {"name": "tier", "column_type": f"enum({members})", "pg_type": "varchar(8)"},
    ]


def test_an_enum_check_is_replaced_when_the_mysql_enum_gains_or_loses_a_member(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CodeIgniter's migration adds a member to an enum mapped as text + CHECK: the CHECK
    would refuse the new value in every change that carries it."""
    assert main(["ddl", "--mappings", str(_mappings(tmp_path / "a", _enum_column("'basic'")))]) == 0
    assert _checks(accounts) == {"accounts_tier_check": True}
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("UPDATE public.accounts SET tier = 'basic'")
    capsys.readouterr()

    wider = _mappings(tmp_path / "b", _enum_column("'basic','gold'"))
    assert main(["ddl", "--mappings", str(wider), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert 'DROP CONSTRAINT "accounts_tier_check",' in printed
    assert "CHECK (\"tier\" IN ('basic', 'gold')) NOT VALID" in printed
    assert main(["ddl", "--mappings", str(wider)]) == 0
    assert _checks(accounts) == {"accounts_tier_check": True}
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("UPDATE public.accounts SET tier = 'gold' WHERE id = 2")
    capsys.readouterr()
    assert main(["ddl", "--mappings", str(wider), "--dry-run"]) == 0
    assert "accounts_tier_check" not in capsys.readouterr().out  # in its current form now

    # a member dropped while a row still holds it: named, left NOT VALID, nothing else undone
    narrower = _mappings(tmp_path / "c", _enum_column("'basic'"))
    assert main(["ddl", "--mappings", str(narrower)]) == 1
    err = capsys.readouterr().err
    assert 'rows already there break constraint "accounts_tier_check"' in err
    query = err.split("find them with ", 1)[1].split("\n", 1)[0]
    with pg_connect(accounts) as conn:
        assert [r[0] for r in conn.execute(query).fetchall()] == [2]
    assert _checks(accounts) == {"accounts_tier_check": False}
    with pg_connect(accounts, autocommit=True) as conn:
        # the replaced CHECK already holds for new row versions
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE public.accounts SET tier = 'gold' WHERE id = 1")
        conn.execute("UPDATE public.accounts SET tier = 'basic' WHERE id = 2")
    assert main(["ddl", "--mappings", str(narrower)]) == 0
    assert _checks(accounts) == {"accounts_tier_check": True}


def test_a_text_column_mapped_to_an_enum_type_not_created_yet_is_a_retype_with_the_statements(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.accounts ADD COLUMN tier varchar(8) DEFAULT 'basic'")
    columns = [
        {"name": "name", "column_type": "varchar(10)"},
        {
            "name": "tier",
            "column_type": "enum('basic','gold')",
            "pg_type": "accounts_tier",
            "default": "'gold'",
        },
    ]
    folder = _mappings(tmp_path / "m", columns)
    assert main(["ddl", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "column 'tier' is character varying(8) but the mapping says the enum type" in err
    assert '"public"."accounts_tier", which does not exist yet' in err
    assert "nothing was applied" in err
    # the statements it names, then ddl again: the column is in place, nothing left to do
    create = err.split("is a member: ", 1)[1].split("; ALTER TABLE", 1)[0]
    alter = "ALTER TABLE" + err.split("; ALTER TABLE", 1)[1].split("; or set", 1)[0]
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute(create)
        conn.execute(alter)
    assert main(["ddl", "--mappings", str(folder)]) == 0
    with pg_connect(accounts, autocommit=True) as conn:
        assert conn.execute("SELECT tier::text FROM public.accounts ORDER BY id").fetchall() == [
            ("basic",),
            ("basic",),
        ]
        conn.execute("INSERT INTO public.accounts (id) VALUES (3)")  # the mapping's default
        row = conn.execute("SELECT tier::text FROM public.accounts WHERE id = 3").fetchone()
        assert row == ("gold",)


def test_a_table_turned_two_way_gets_the_checks_mysql_needs_on_its_existing_columns(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One way, PostgreSQL's app never wrote the table; two-way, it must not write a character
    the MySQL column's 3-byte utf8 cannot hold."""
    columns = [{"name": "name", "column_type": "varchar(10)", "charset": "utf8mb3"}]
    one_way = _mappings(tmp_path / "a", columns, direction="mysql_to_pg")
    assert main(["ddl", "--mappings", str(one_way)]) == 0
    assert _checks(accounts) == {}  # a one-way table pays no regular expression per row
    capsys.readouterr()
    two_way = _mappings(tmp_path / "b", columns)
    assert main(["ddl", "--mappings", str(two_way), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert 'ADD CONSTRAINT "accounts_name_charset" CHECK ("name" !~' in printed
    assert main(["ddl", "--mappings", str(two_way)]) == 0
    assert _checks(accounts) == {"accounts_name_charset": True}
    with (
        pg_connect(accounts, autocommit=True) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute("UPDATE public.accounts SET name = 'emoji \U0001f600' WHERE id = 1")
    capsys.readouterr()
    assert main(["ddl", "--mappings", str(two_way), "--dry-run"]) == 0
    assert "accounts_name_charset" not in capsys.readouterr().out


def _identity(pg_db: DatabaseEndpoint) -> str:
    with pg_connect(pg_db) as conn:
        row = conn.execute(
            "SELECT relreplident::text FROM pg_class WHERE oid = 'public.accounts'::regclass"
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_a_table_mysql_wins_both_ways_gets_full_before_images_once(
    accounts: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A PostgreSQL change of such a table must see a concurrent MySQL change (the rule lets
    MySQL win), which only a whole before-image shows; `ddl` sets it, and only when missing."""
    folder = _mappings(tmp_path / "m", [{"name": "name", "column_type": "varchar(10)"}])
    statement = 'ALTER TABLE "public"."accounts" REPLICA IDENTITY FULL;'
    assert _identity(accounts) == "d"
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    assert statement in capsys.readouterr().out
    assert main(["ddl", "--mappings", str(folder)]) == 0
    assert _identity(accounts) == "f"
    capsys.readouterr()
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    assert statement not in capsys.readouterr().out
    # one way, nothing from PostgreSQL to decide: left as it is
    with pg_connect(accounts, autocommit=True) as conn:
        conn.execute("ALTER TABLE public.accounts REPLICA IDENTITY DEFAULT")
    one_way = _mappings(
        tmp_path / "o", [{"name": "name", "column_type": "varchar(10)"}], "mysql_to_pg"
    )
    assert main(["ddl", "--mappings", str(one_way)]) == 0
    assert _identity(accounts) == "d"
