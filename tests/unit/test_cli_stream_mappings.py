"""`stream --mappings` defaults to the same folder as the stream DAG and the connectors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.cli import stream
from mysql_pg_sync.settings import REPO


def _run_with(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> Path:
    seen: dict[str, Any] = {}

    def fake_run_stream(_endpoints: Any, mappings: Path, *_a: Any, **_k: Any) -> dict[str, int]:
        seen["mappings"] = mappings
        return {}

    monkeypatch.setattr(stream, "run_stream", fake_run_stream)
    monkeypatch.setattr(stream, "endpoints_from_env", lambda: None)
    monkeypatch.setattr(stream, "config_from_env", lambda: None)
    parser = argparse.ArgumentParser()
    stream.register(parser)
    assert stream.run(parser.parse_args(argv)) == 0
    return Path(seen["mappings"])


def test_default_follows_mps_mappings_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # a cwd-relative default would resolve here
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(tmp_path / "maps"))
    assert _run_with(monkeypatch, []) == tmp_path / "maps"


def test_default_without_env_is_the_repo_folder_not_the_cwd(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MPS_MAPPINGS_DIR", raising=False)
    assert _run_with(monkeypatch, []) == REPO / "include" / "mappings"


def test_explicit_flag_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(tmp_path / "maps"))
    assert _run_with(monkeypatch, ["--mappings", "elsewhere"]) == Path("elsewhere")
