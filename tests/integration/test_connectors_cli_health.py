"""`connectors health` on the command line: the report once, in words, and the exit status
says whether every connector captures (it printed each problem twice, with a log line)."""

from __future__ import annotations

import uuid

import pytest

from mysql_pg_sync.cli import main

pytestmark = pytest.mark.integration


def test_missing_connectors_are_named_once_each_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = f"mpsh{uuid.uuid4().hex[:8]}"  # connectors Connect does not have
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", prefix)
    assert main(["connectors", "health"]) == 1
    out, err = capsys.readouterr()
    problems = [line for line in out.splitlines() if line.startswith("PROBLEM")]
    assert sorted(problems) == [
        f"PROBLEM {prefix}-{side}-source: MISSING: the mappings need this connector but Connect "
        "does not have it, so nothing is captured; trigger connectors with action apply "
        "(CLI: connectors apply)"
        for side in ("mysql", "postgres")
    ]
    assert "PROBLEM" not in err
    assert "error:" not in err
