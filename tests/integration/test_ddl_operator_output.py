"""What `ddl` tells the operator: a pg_type PostgreSQL refuses (column and file named), every
problem of an existing table at once, and per table what it did and what comes next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.backfill.target import TargetSchemaError, mapped_types
from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import pg_connect
from mysql_pg_sync.mapping.models import TableMapping
from mysql_pg_sync.settings import DatabaseEndpoint

ID = {"name": "id", "column_type": "int(11)", "nullable": False}


def _entry(table: str, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "source": f"app.{table}",
        "target": f"public.{table}",
        "key": ["id"],
        "direction": "mysql_to_pg",
        "columns": [ID, *columns],
    }


def _write(folder: Path, *entries: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    for entry in entries:
        (folder / f"{entry['source']}.yaml").write_text(yaml.safe_dump(entry))
    return folder


@pytest.fixture
def pg(pg_db: DatabaseEndpoint, monkeypatch: pytest.MonkeyPatch) -> DatabaseEndpoint:
    monkeypatch.setenv("MPS_PG_DATABASE", pg_db.database)
    return pg_db


def _typo(table: str) -> dict[str, Any]:
    return _entry(
        table,
        [
            {"name": "amount", "column_type": "decimal(10,2)", "pg_type": "numerc(10,2)"},
            {"name": "note", "column_type": "varchar(10)"},
        ],
    )


def test_a_misspelt_pg_type_names_the_column_and_the_file_for_a_new_table(
    pg: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "m", _typo("invoices"))
    for dry_run in (["--dry-run"], []):
        assert main(["ddl", "--mappings", str(folder), *dry_run]) == 1
        err = capsys.readouterr().err
        assert "ddl: app.invoices: public.invoices cannot be created from the mapping " in err
        assert str(folder / "app.invoices.yaml") in err
        assert "column 'amount': pg_type 'numerc(10,2)' is not a type PostgreSQL has here" in err
        assert 'type "numerc" does not exist' in err
        assert "'note'" not in err  # only the column PostgreSQL refuses
        assert "create missing types with `ddl`" not in err
    with pg_connect(pg) as conn:
        assert conn.execute("SELECT to_regclass('public.invoices')").fetchone() == (None,)


def test_the_backfill_s_type_check_names_the_column(pg: DatabaseEndpoint) -> None:
    mapping = TableMapping.model_validate(_typo("invoices"))
    with pg_connect(pg) as conn, pytest.raises(TargetSchemaError) as caught:
        mapped_types(conn, mapping)
    assert "app.invoices: the mapping's pg_type is not valid in PostgreSQL" in str(caught.value)
    assert "column 'amount': pg_type 'numerc(10,2)'" in str(caught.value)


def test_an_existing_table_gets_every_problem_at_once_with_an_enum_type_not_created_yet(
    pg: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The missing enum type hid the other problems until it was created by hand."""
    with pg_connect(pg, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.tags (id integer, label text, weight real, kind text, "
            "pg_only_req text NOT NULL)"
        )
    entry = _entry(
        "tags",
        [
            {"name": "label", "column_type": "varchar(50)"},
            {"name": "weight", "column_type": "decimal(5,2)"},
            {"name": "kind", "column_type": "enum('a','b')", "pg_type": "tags_kind"},
            {"name": "amount", "column_type": "decimal(10,2)", "pg_type": "numerc(10,2)"},
        ],
    )
    folder = _write(tmp_path / "m", entry)
    assert main(["ddl", "--dry-run", "--mappings", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "ddl: app.tags: the existing PostgreSQL table does not match the mapping" in err
    for problem in (
        '"public"."tags_kind", which does not exist yet',
        "column 'label' is text but the mapping says character varying(50)",
        "column 'weight' is real but the mapping says numeric(5,2)",
        "column 'pg_only_req' (text) is NOT NULL without a default",
        "no primary key or unique index on exactly the key",
        "column 'amount': pg_type 'numerc(10,2)'",  # to be added: refused before the ALTER
    ):
        assert problem in err
    assert "column 'id' is integer" not in err  # id int(11) is integer: as mapped


def test_ddl_says_per_table_what_it_did_and_what_comes_next(
    pg: DatabaseEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pg_connect(pg, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.orders (id integer PRIMARY KEY)")
        conn.execute("CREATE TABLE public.done (id integer PRIMARY KEY)")
    orders = _entry(
        "orders",
        [{"name": "paid_on", "column_type": "date"}, {"name": "flags", "column_type": "int(11)"}],
    )
    folder = _write(tmp_path / "m", orders, _entry("invoices", []), _entry("done", []))
    assert main(["ddl", "--mappings", str(folder), "--dry-run"]) == 0
    printed = capsys.readouterr()
    assert "CREATE TABLE" in printed.out  # stdout: the SQL alone, to pipe
    would = "ddl --dry-run (nothing applied), would do: "
    assert f"{would}app.invoices: created table public.invoices\n" in printed.err
    assert f"{would}nothing to do for app.done\n" in printed.err
    assert "statement(s) printed, none applied" in printed.err
    assert "next:" not in printed.err + printed.out
    with pg_connect(pg, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.invoices')").fetchone() == (None,)
    assert main(["ddl", "--mappings", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "ddl: app.invoices: created table public.invoices\n" in out
    assert "ddl: app.orders: added column(s) paid_on, flags to public.orders\n" in out
    assert "ddl: nothing to do for app.done\n" in out
    assert (
        'next: `make cli ARGS="connectors apply"` captures the new table(s), then '
        '`make cli ARGS="backfill run --tables app.invoices"`' in out
    )
    assert main(["ddl", "--mappings", str(folder)]) == 0
    again = capsys.readouterr().out
    assert "ddl: nothing to do for app.done, app.invoices, app.orders\n" in again
    assert "next:" not in again
