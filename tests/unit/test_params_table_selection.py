"""Every DAG and CLI reads table names the same way (MappingSet.match: db.table, schema.table, bare
names, globs) and refuses a name no mapping has with the known tables, before any work: a typo
must neither widen a run nor read as "nothing to do". No services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from mysql_pg_sync.cdc import dead_letter_report
from mysql_pg_sync.cdc.connector_actions import ConnectorContext, run_action, snapshot_tables
from mysql_pg_sync.cdc.connector_config import ConnectorSettings
from mysql_pg_sync.cli import main
from mysql_pg_sync.errors import ConfigError, MappingError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.quality import run as quality_run
from mysql_pg_sync.quality.config import QualityConfig
from mysql_pg_sync.settings import endpoints_from_env


def _entry(source: str, target: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "key": ["id"],
        "direction": "mysql_to_pg",
        "columns": [{"name": "id", "column_type": "int", "nullable": False}],
        **extra,
    }


ENTRIES = (
    _entry("legacy.customers", "public.customers"),
    _entry("legacy.group", "public.group"),
    _entry("legacy.orders", "public.orders"),
    _entry("other.orders", "archive.orders"),
    _entry("legacy.audit_log", "public.audit_log", key=[], unsupported="no primary key"),
    _entry("legacy.old", "public.old", enabled=False),
)
MAPPINGS = MappingSet(tuple(TableMapping.model_validate(e) for e in ENTRIES))
KNOWN = (
    "known: legacy.audit_log, legacy.customers, legacy.group, legacy.old, legacy.orders, "
    "other.orders"
)


def _names(mappings: tuple[TableMapping, ...]) -> list[str]:
    return [m.name for m in mappings]


def test_synced_selection_takes_names_and_globs_as_match_does() -> None:
    assert _names(MAPPINGS.match_synced(["gro*"])) == ["legacy.group"]
    assert _names(MAPPINGS.match_synced(["customers", "public.group"])) == [
        "legacy.customers",
        "legacy.group",
    ]
    assert _names(MAPPINGS.match_synced(["legacy.*"])) == [
        "legacy.customers",
        "legacy.group",
        "legacy.orders",
    ]  # a glob skips the tables the mappings leave out


def test_an_unknown_name_lists_the_known_tables() -> None:
    with pytest.raises(MappingError) as err:
        MAPPINGS.match_synced(["custmers"])
    assert str(err.value) == f"no mapping matches 'custmers'; {KNOWN}"


def test_a_name_of_tables_left_out_says_why_instead_of_selecting_nothing() -> None:
    with pytest.raises(MappingError) as err:
        MAPPINGS.match_synced(["audit_log"])
    assert str(err.value) == (
        "'audit_log' selects no synced table: legacy.audit_log is not synced (no primary key)"
    )
    with pytest.raises(MappingError, match=r"legacy\.old is not synced \(enabled: false"):
        MAPPINGS.match_synced(["old*"])


class _Selected(Exception):
    """Stops a data-quality run where it would first read a database."""


def test_data_quality_takes_globs_and_refuses_unknown_names_before_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    def gather(endpoints: Any, mappings: Any, *rest: Any) -> Any:
        seen.append([m.name for m in mappings])
        raise _Selected

    monkeypatch.setattr(quality_run, "gather_facts", gather)
    ends = endpoints_from_env({})
    with pytest.raises(_Selected):
        quality_run.run_quality(ends, MAPPINGS, QualityConfig(), "r", tables=["gro*"])
    assert seen == [["legacy.group"]]
    with pytest.raises(MappingError) as err:
        quality_run.run_quality(ends, MAPPINGS, QualityConfig(), "r", tables=["zz*"])
    assert str(err.value) == f"no mapping matches 'zz*'; {KNOWN}"
    assert len(seen) == 1


def _connectors() -> ConnectorContext:
    return ConnectorContext(endpoints_from_env({}), MAPPINGS, ConnectorSettings.from_env({}))


def test_snapshot_tables_refuses_an_unknown_name_before_sending_anything() -> None:
    # the context's servers are never reached: the name is refused first
    with pytest.raises(MappingError) as err:
        snapshot_tables(_connectors(), ["custmers"], run_key="manual__x")
    assert str(err.value) == f"no mapping matches 'custmers'; {KNOWN}"
    with pytest.raises(ConfigError, match="snapshot_tables needs the tables to snapshot"):
        run_action(_connectors(), "snapshot_tables", tables=[])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("legacy.orders", "legacy.orders"),
        ("archive.orders", "other.orders"),
        ("customers", "legacy.customers"),
        ("gro*", "legacy.group"),
        ("legacy.old", "legacy.old"),  # letters of a table no longer synced stay reachable
    ],
)
def test_a_dead_letter_table_is_read_as_reconcile_reads_it(name: str, expected: str) -> None:
    assert dead_letter_report.letters_table(MAPPINGS, name, lambda _: False) == expected


def test_a_dead_letter_table_no_mapping_has_is_an_error_unless_letters_name_it() -> None:
    with pytest.raises(MappingError) as err:
        dead_letter_report.letters_table(MAPPINGS, "custmers", lambda _: False)
    assert str(err.value) == f"no mapping matches 'custmers'; {KNOWN}"
    # a table since removed from the mappings: its letters are still listed and resolved
    assert dead_letter_report.letters_table(MAPPINGS, "legacy.gone", lambda _: True) == (
        "legacy.gone"
    )
    with pytest.raises(MappingError, match=r"'orders' matches 2 tables .*name it as db\.table"):
        dead_letter_report.letters_table(MAPPINGS, "orders", lambda _: False)


def test_the_dead_letters_command_refuses_an_unknown_table(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    for entry in ENTRIES:
        (folder / f"{entry['source']}.yaml").write_text(yaml.safe_dump(entry))
    recorded = {"legacy.gone"}  # tables the dead letters name (all resolved)

    def letters(endpoints: Any, *, include_resolved: bool = False, table: str | None = None) -> Any:
        return [object()] if include_resolved and table in recorded else []

    monkeypatch.setattr("mysql_pg_sync.cli.dead_letters.list_letters", letters)
    for action in ("list", "retry"):
        argv = ["dead-letters", "--mappings", str(folder), action, "--table", "custmers"]
        assert main(argv) == 1
        assert f"no mapping matches 'custmers'; {KNOWN}" in capsys.readouterr().err
    argv = ["dead-letters", "--mappings", str(folder), "resolve", "--table", "custmers"]
    assert main([*argv, "--note", "x"]) == 1
    assert "no mapping matches 'custmers'" in capsys.readouterr().err
    assert main(["dead-letters", "--mappings", str(folder), "list", "--table", "legacy.gone"]) == 0
    assert capsys.readouterr().out.strip() == "no open dead letters of legacy.gone"
