"""A PostgreSQL table mapped twice: the error names both MySQL tables, their files and the fix;
`mappings generate` refuses to write a target another table already maps to."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.generate import GenerateOptions, refuse_target_collisions
from mysql_pg_sync.mapping.models import load_mappings

pytestmark = pytest.mark.unit


def entry(source: str, target: str) -> str:
    return (
        f"source: {source}\ntarget: {target}\nkey: [id]\n"
        "columns:\n- {name: id, column_type: int(11), pg_type: integer, nullable: false}\n"
    )


def raw(source: str, target: str) -> dict[str, Any]:
    return {"source": source, "target": target}


@pytest.fixture
def clash(tmp_path: Path) -> Path:
    (tmp_path / "legacy.products.yaml").write_text(entry("legacy.products", "public.products"))
    (tmp_path / "scratch.products.yaml").write_text(entry("scratch.products", "public.products"))
    return tmp_path


def test_duplicate_target_names_both_sources_files_and_the_fix(clash: Path) -> None:
    with pytest.raises(MappingError) as err:
        load_mappings(clash)
    message = str(err.value)
    assert "target public.products is mapped 2 times" in message
    assert f"legacy.products ({clash / 'legacy.products.yaml'})" in message
    assert f"scratch.products ({clash / 'scratch.products.yaml'})" in message
    assert "--target-schema" in message
    assert f"`target: scratch.products` in {clash / 'scratch.products.yaml'}" in message


def test_duplicate_source_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(entry("legacy.t", "public.t"))
    (tmp_path / "b.yaml").write_text(entry("legacy.t", "other.t"))
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    message = str(err.value)
    assert "source legacy.t is mapped 2 times" in message
    assert str(tmp_path / "a.yaml") in message
    assert str(tmp_path / "b.yaml") in message


def test_validate_reports_it_and_follows_mps_mappings_dir(
    clash: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # no include/mappings here
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(clash))
    assert main(["mappings", "validate"]) == 1
    err = capsys.readouterr().err
    assert "target public.products is mapped 2 times, by legacy.products" in err
    (clash / "scratch.products.yaml").write_text(entry("scratch.products", "scratch.products"))
    assert main(["mappings", "validate"]) == 0
    assert "2 mapping(s) valid" in capsys.readouterr().out


def test_generate_refuses_a_target_an_existing_entry_maps_to(tmp_path: Path) -> None:
    existing = {"legacy.products": (raw("legacy.products", "public.products"), tmp_path / "l.yaml")}
    entries = {"scratch.products": raw("scratch.products", "public.products")}
    with pytest.raises(MappingError) as err:
        refuse_target_collisions(entries, existing, GenerateOptions())
    message = str(err.value)
    assert "nothing was written" in message
    assert (
        f"scratch.products would map to public.products, which legacy.products "
        f"({tmp_path / 'l.yaml'}) already maps to" in message
    )
    assert "run again with --target-schema scratch" in message


def test_generate_allows_a_regenerated_entry_and_distinct_targets(tmp_path: Path) -> None:
    existing = {"legacy.products": (raw("legacy.products", "public.products"), tmp_path / "l.yaml")}
    entries = {
        "legacy.products": raw("legacy.products", "public.products"),  # the same table again
        "scratch.products": raw("scratch.products", "scratch.products"),
        "scratch.orders": raw("scratch.orders", {"schema": "public", "table": "orders"}),
    }
    refuse_target_collisions(entries, existing, GenerateOptions())


def test_generate_refuses_two_new_tables_on_one_target() -> None:
    entries = {
        "a.t": raw("a.t", "shared.t"),
        "b.t": raw("b.t", {"schema": "shared", "table": "t"}),
    }
    with pytest.raises(MappingError) as err:
        refuse_target_collisions(entries, {}, GenerateOptions(target_schema="shared"))
    message = str(err.value)
    assert "a.t would map to shared.t, which b.t (generated in this run) already maps to" in message
    assert "another --target-schema (not shared)" in message
