"""`ddl` reads the mappings from $MPS_MAPPINGS_DIR (else the repo's folder), not the cwd."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.settings import REPO

pytestmark = pytest.mark.unit

DEMO = REPO / "include" / "mappings"


def _one_table(folder: Path) -> Path:
    folder.mkdir()
    shutil.copy(DEMO / "legacy.products.yaml", folder)
    return folder


def test_default_follows_mps_mappings_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no include/mappings here
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(_one_table(tmp_path / "maps")))
    assert main(["ddl", "--dry-run", "--as-new"]) == 0
    out = capsys.readouterr().out
    assert 'CREATE TABLE IF NOT EXISTS "public"."products"' in out
    assert '"orders"' not in out  # only the folder's one table, not the repo's


def test_default_without_env_is_the_repo_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MPS_MAPPINGS_DIR", raising=False)
    assert main(["ddl", "--dry-run", "--as-new"]) == 0
    assert '"orders"' in capsys.readouterr().out


def test_explicit_flag_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(tmp_path / "missing"))
    folder = _one_table(tmp_path / "maps")
    assert main(["ddl", "--dry-run", "--as-new", "--mappings", str(folder)]) == 0
    assert '"products"' in capsys.readouterr().out
