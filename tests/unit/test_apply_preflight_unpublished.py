"""`connectors apply` does not warn about the tables the publication lacks, which it adds
itself; `connectors preflight` and `status` still do (pure: the checks' servers are stubbed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from mysql_pg_sync.cdc import connector_actions as actions
from mysql_pg_sync.cdc.preflight import Finding
from mysql_pg_sync.cdc.preflight.postgres import TableFacts, check_tables
from mysql_pg_sync.cdc.topics import change_topic
from mysql_pg_sync.cli.connectors import _after_apply
from mysql_pg_sync.mapping.models import MappingSet, TableMapping

pytestmark = pytest.mark.unit


def _unpublished() -> list[Finding]:
    tables = [TableFacts("public.orders", True), TableFacts("public.invoices", True)]
    return check_tables(tables, ["public.orders"], publication_exists=True)


def test_the_finding_names_the_tables_and_the_command() -> None:
    (finding,) = _unpublished()
    assert finding.severity == "warning"
    assert "the publication lacks public.invoices" in finding.message
    assert '`make cli ARGS="connectors apply"`' in finding.fix


def _context(monkeypatch: pytest.MonkeyPatch, postgres: list[Finding]) -> Any:
    monkeypatch.setattr(actions.postgres_preflight, "run", lambda *a, **k: list(postgres))
    monkeypatch.setattr(actions.postgres_preflight, "target_keys", lambda *a, **k: [])
    monkeypatch.setattr(actions.connect_preflight, "run", lambda *a, **k: [])
    endpoint = SimpleNamespace(redacted=lambda: "pg")
    return SimpleNamespace(
        endpoints=SimpleNamespace(postgres=endpoint, connect_url="http://connect"),
        settings=SimpleNamespace(slot_name="slot", publication_name="pub"),
        mappings=SimpleNamespace(tables=(), enabled=lambda: ()),
        client=lambda: None,
    )


def test_apply_leaves_out_what_it_adds_and_keeps_every_other_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    other = Finding("replica_identity", "public.orders has TOASTable columns", "...", "warning")
    ctx = _context(monkeypatch, [*_unpublished(), other])
    connectors = [SimpleNamespace(side="postgres", tables=("public.invoices",))]
    caplog.set_level("INFO")
    assert actions.preflight(ctx, connectors) == [*_unpublished(), other]  # preflight, status
    caplog.clear()
    assert actions.preflight(ctx, connectors, applying=True) == [other]
    assert "lacks public.invoices" not in "".join(
        r.getMessage() for r in caplog.records if r.levelname == "WARNING"
    )
    assert "this apply adds them" in caplog.text


def test_the_apply_cli_ends_with_the_backfill_of_the_tables_it_captured_first() -> None:
    invoices = TableMapping.model_validate(
        {
            "source": "legacy.invoices",
            "target": "public.invoices",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
    )
    ctx: Any = SimpleNamespace(
        mappings=MappingSet((invoices,)),
        settings=SimpleNamespace(mysql_topic_prefix="mps_mysql", postgres_topic_prefix="mps_pg"),
    )
    created = {
        "mps-mysql-source": {"topics_created": [change_topic("mps_mysql", "legacy", "invoices")]},
        "mps-postgres-source": {"topics_created": [change_topic("mps_pg", "public", "invoices")]},
    }
    assert _after_apply(ctx, created).startswith(
        'next: `make cli ARGS="backfill run --tables legacy.invoices"` copies the rows'
    )
    unchanged = {"mps-mysql-source": {"topics_created": []}}
    assert "backfill run --tables <db>.<table>" in _after_apply(ctx, unchanged)
