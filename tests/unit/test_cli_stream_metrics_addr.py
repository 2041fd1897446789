"""`stream --metrics-addr`: /metrics on this host by default, on every interface when asked (a
container, whose Prometheus runs in another one)."""

from __future__ import annotations

from typing import Any

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.cli import stream as stream_cli


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], (None, "127.0.0.1")),
        (["--metrics-port", "9464"], (9464, "127.0.0.1")),
        (["--metrics-port", "9464", "--metrics-addr", "0.0.0.0"], (9464, "0.0.0.0")),
    ],
)
def test_metrics_address_reaches_the_service(
    args: list[str], expected: tuple[int | None, str], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    seen: dict[str, Any] = {}

    def fake_run_stream(*_args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.update(kwargs)
        return {"held_tables": {}}

    monkeypatch.setattr(stream_cli, "run_stream", fake_run_stream)
    assert main(["stream", "--max-seconds", "1", *args]) == 0
    assert (seen["metrics_port"], seen["metrics_addr"]) == expected
    capsys.readouterr()
