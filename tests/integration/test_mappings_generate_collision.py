"""`mappings generate` for a second MySQL database refuses to map its tables onto targets the
mapping folder already has (real MariaDB); with --target-schema it writes them."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.mapping.models import load_mappings
from mysql_pg_sync.settings import REPO, DatabaseEndpoint

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch(mysql_db: DatabaseEndpoint, mysql_admin: DatabaseEndpoint) -> str:
    """A second database with a `products` table, as the demo's legacy database has."""
    conn = mysql_connect(replace(mysql_admin, database=mysql_db.database), autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TABLE products (id int PRIMARY KEY, sku varchar(32) NOT NULL)")
        cur.execute("CREATE TABLE only_here (id int PRIMARY KEY)")
    finally:
        conn.close()
    return mysql_db.database


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the demo's mappings (legacy.products -> public.products among them)."""
    out = tmp_path / "mappings"
    shutil.copytree(REPO / "include" / "mappings", out)
    return out


def _files(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.yaml"))}


def test_generate_refuses_a_colliding_target_and_writes_nothing(
    scratch: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(folder)
    for extra in ([], ["--check"]):
        assert (
            main(["mappings", "generate", "--database", scratch, "--out", str(folder), *extra]) == 1
        )
        err = capsys.readouterr().err
        assert "nothing was written" in err
        assert (
            f"{scratch}.products would map to public.products, which legacy.products "
            f"({folder / 'legacy.products.yaml'}) already maps to" in err
        )
        assert f"run again with --target-schema {scratch}" in err
        assert f"{scratch}.only_here" not in err  # no collision: not named
    assert _files(folder) == before
    load_mappings(folder)  # the folder still loads: validate, ddl and reconcile keep working


def test_generate_with_target_schema_writes_beside_the_existing(
    scratch: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["mappings", "generate", "--database", scratch, "--out", str(folder)]
    assert main([*argv, "--target-schema", scratch]) == 0
    mappings = load_mappings(folder)
    assert str(mappings.by_source(f"{scratch}.products").target) == f"{scratch}.products"
    assert str(mappings.by_source("legacy.products").target) == "public.products"
    capsys.readouterr()
    # a re-run keeps the entries' targets: nothing collides, even without --target-schema
    assert main([*argv, "--check"]) == 0
    assert f"no drift: the 2 table(s) of {scratch} match {folder}" in capsys.readouterr().out
