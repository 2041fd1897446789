"""Reconcile's parameters and CLI options: out-of-range values are refused before a run starts
(0 rows per segment looped for ever, 0 workers hung), and both selectors take the same names."""

from __future__ import annotations

import math
from typing import Any

import MySQLdb
import psycopg
import pytest

from mysql_pg_sync.backfill.runner import Backfill, BackfillError
from mysql_pg_sync.cli import _parser
from mysql_pg_sync.connections import DatabaseUnreachable, connection_failure
from mysql_pg_sync.errors import ConfigError, MappingError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.service import ReconcileParams
from mysql_pg_sync.settings import endpoints_from_env


def _parse(*options: str) -> Any:
    argv = ["reconcile", *options]
    return _parser(argv).parse_args(argv)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--segment-rows", "0", "argument --segment-rows: must be an integer >= 1, got '0'"),
        ("--segment-rows", "-5", "argument --segment-rows: must be an integer >= 1, got '-5'"),
        ("--workers", "0", "argument --workers: must be an integer >= 1, got '0'"),
        ("--max-repairs", "-1", "argument --max-repairs: must be an integer >= 0, got '-1'"),
        ("--factor", "1", "argument --factor: must be an integer >= 2, got '1'"),
        ("--threshold", "0", "argument --threshold: must be an integer >= 1, got '0'"),
        ("--threshold", "1.5", "argument --threshold: must be an integer >= 1, got '1.5'"),
        ("--recheck-delay", "-1", "argument --recheck-delay: must be a number of seconds >= 0"),
        ("--recheck-delay", "inf", "argument --recheck-delay: must be a number of seconds >= 0"),
        ("--recheck-delay", "x", "argument --recheck-delay: must be a number of seconds >= 0"),
    ],
)
def test_cli_refuses_out_of_range_numbers_naming_the_option(
    option: str, value: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        _parse(option, value)
    assert exit_.value.code == 2
    assert expected in capsys.readouterr().err


def test_cli_accepts_the_boundaries() -> None:
    args = _parse(
        "--segment-rows",
        "1",
        "--workers",
        "1",
        "--max-repairs",
        "0",
        "--factor",
        "2",
        "--threshold",
        "1",
        "--recheck-delay",
        "0",
    )
    assert (args.segment_rows, args.workers, args.max_repairs) == (1, 1, 0)
    assert (args.factor, args.threshold, args.recheck_delay) == (2, 1, 0.0)


@pytest.mark.parametrize(
    ("field", "value", "least"),
    [
        ("segment_rows", 0, 1),
        ("segment_rows", -5, 1),
        ("workers", 0, 1),
        ("max_repairs", -1, 0),
        ("factor", 1, 2),
        ("threshold", 0, 1),
        ("workers", True, 1),  # a bool is an int to Python, never a worker count
        ("segment_rows", 2.5, 1),
    ],
)
def test_params_refuse_out_of_range_integers(field: str, value: Any, least: int) -> None:
    with pytest.raises(ConfigError) as err:
        ReconcileParams(**{field: value})
    message = str(err.value)
    assert f"{field}={value!r}" in message
    assert f"integer >= {least}" in message
    assert f"--{field.replace('_', '-')}" in message


@pytest.mark.parametrize("delay", [-1, math.inf, math.nan, "30"])
def test_params_refuse_a_bad_recheck_delay(delay: Any) -> None:
    with pytest.raises(ConfigError, match=r"recheck_delay_s=.* finite number >= 0"):
        ReconcileParams(recheck_delay_s=delay)


def test_params_from_the_dag_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="max_repairs=-1"):
        ReconcileParams.from_dict({"tables": [], "max_repairs": -1})
    assert ReconcileParams.from_dict({"max_repairs": 0, "recheck_delay_s": 0}).max_repairs == 0


def _table(source: str, target: str, enabled: bool = True) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": source,
            "target": target,
            "key": ["id"],
            "enabled": enabled,
            "direction": "mysql_to_pg",
            "columns": [{"name": "id", "column_type": "int", "nullable": False}],
        }
    )


MAPPINGS = MappingSet(
    (
        _table("legacy.orders", "public.orders"),
        _table("legacy.order_items", "public.order_items"),
        _table("legacy.products", "shop.products"),
        _table("legacy.audit_log", "public.audit_log", enabled=False),
    )
)


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["order*"], ["legacy.orders", "legacy.order_items"]),
        (["legacy.order*", "orders"], ["legacy.orders", "legacy.order_items"]),
        (["shop.products"], ["legacy.products"]),
        (["products", "*.order_items"], ["legacy.products", "legacy.order_items"]),
    ],
)
def test_backfill_and_reconcile_select_the_same_tables(
    patterns: list[str], expected: list[str]
) -> None:
    assert sorted(m.name for m in MAPPINGS.match(patterns)) == sorted(expected)
    backfill = Backfill.__new__(Backfill)
    backfill.mappings = MAPPINGS
    chosen, _ = backfill.select(patterns)
    assert sorted(m.name for m in chosen) == sorted(expected)


def test_a_table_the_mappings_leave_out_is_refused_when_named() -> None:
    """Compared, it could only fail, and the failure advised running the same thing again."""
    from mysql_pg_sync.reconcile.service import pick

    assert [m.name for m in MAPPINGS.match(["audit_*"])] == ["legacy.audit_log"]
    for pattern in ("audit_log", "legacy.audit_log", "audit_*"):
        with pytest.raises(MappingError, match=r"selects no synced table: legacy.audit_log is not"):
            pick(MAPPINGS, [pattern])


def test_a_glob_skips_tables_the_mappings_leave_out() -> None:
    from mysql_pg_sync.reconcile.service import pick

    assert sorted(m.name for m in pick(MAPPINGS, ["legacy.*"])) == [
        "legacy.order_items",
        "legacy.orders",
        "legacy.products",
    ]
    assert [m.name for m in pick(MAPPINGS, [])] == [m.name for m in MAPPINGS.enabled()]


def test_whole_floats_from_a_trigger_form_are_taken_as_integers() -> None:
    from mysql_pg_sync.backfill.runner import RunOptions

    params = ReconcileParams(max_repairs=1000.0, segment_rows=500.0, workers=4.0)  # type: ignore[arg-type]
    assert (params.max_repairs, params.segment_rows, params.workers) == (1000, 500, 4)
    assert type(params.max_repairs) is int
    with pytest.raises(ConfigError, match=r"max_repairs=1\.5 is out of range"):
        ReconcileParams(max_repairs=1.5)  # type: ignore[arg-type]
    options = RunOptions(chunk_rows=250000.0, max_parallel=2.0)  # type: ignore[arg-type]
    assert (options.chunk_rows, options.max_parallel) == (250000, 2)
    assert type(options.chunk_rows) is int


def test_a_source_name_selects_that_table_alone() -> None:
    # the DAG's per-table task selects by the mapping's name: it must get exactly one
    clash = MappingSet(
        (_table("legacy.orders", "public.orders"), _table("other.orders", "legacy.orders"))
    )
    assert [m.name for m in clash.match(["legacy.orders"])] == ["legacy.orders"]
    assert [m.name for m in clash.match(["orders"])] == ["legacy.orders", "other.orders"]


def test_an_unknown_name_lists_the_known_tables_for_both() -> None:
    expected = (
        "no mapping matches 'nope*'; known: legacy.audit_log, legacy.order_items, legacy.orders, "
        "legacy.products"
    )
    with pytest.raises(MappingError) as err:
        MAPPINGS.match(["orders", "nope*"])
    assert str(err.value) == expected
    backfill = Backfill.__new__(Backfill)
    backfill.mappings = MAPPINGS
    with pytest.raises(BackfillError) as bf_err:
        backfill.select(["nope*"])
    assert str(bf_err.value) == expected


def test_connection_failures_name_the_side_host_port_and_settings() -> None:
    ends = endpoints_from_env({"MPS_MYSQL_PORT": "3999", "MPS_PG_HOST": "pg.example"})
    mysql = connection_failure(
        MySQLdb.OperationalError(2002, "Can't connect to server on '127.0.0.1' (115)"), ends
    )
    assert isinstance(mysql, DatabaseUnreachable)
    text = str(mysql)
    assert text.startswith("cannot connect to MySQL at 127.0.0.1:3999 as 'sync'")
    assert "(2002) Can't connect" in text
    assert "MPS_MYSQL_PORT, MPS_MYSQL_USER, MPS_MYSQL_PASSWORD" in text
    assert "\n" not in text

    pg_error = psycopg.OperationalError(
        'connection failed: connection to server at "pg.example", port 5433 failed: FATAL:  '
        'password authentication failed for user "sync"\n\tmore'
    )
    try:
        raise RuntimeError("wrapped") from pg_error
    except RuntimeError as wrapped:
        postgres = connection_failure(wrapped, ends)
    assert postgres is not None
    assert str(postgres).startswith("cannot connect to PostgreSQL at pg.example:5433")
    assert "MPS_PG_HOST" in str(postgres)
    assert "\n" not in str(postgres)


def test_query_errors_are_not_connection_failures() -> None:
    ends = endpoints_from_env({})
    assert connection_failure(MySQLdb.OperationalError(1054, "Unknown column"), ends) is None
    assert connection_failure(MySQLdb.ProgrammingError(1064, "syntax"), ends) is None
    assert connection_failure(psycopg.errors.QueryCanceled("canceled"), ends) is None
    assert connection_failure(ValueError("x"), ends) is None


def test_one_authoritative_side_for_the_whole_run(tmp_path: Any) -> None:
    """After a capture gap the side whose changes were all captured holds them: a run can copy
    from it for every table, validated as if each mapping said so."""
    from mysql_pg_sync.reconcile.service import selected_mappings, with_authority

    (tmp_path / "t.yaml").write_text(
        "- source: legacy.t\n  target: public.t\n  key: [id]\n  direction: both\n"
        "  columns: [{name: id, column_type: int(11), nullable: false}]\n"
    )
    (kept,) = selected_mappings(ReconcileParams(mappings=str(tmp_path)))
    assert kept.reconcile.authoritative == "mysql"
    (flipped,) = selected_mappings(
        ReconcileParams(mappings=str(tmp_path), authoritative="postgres")
    )
    assert flipped.reconcile.authoritative == "postgres"
    assert flipped.model_dump()["columns"] == kept.model_dump()["columns"]
    with pytest.raises(ConfigError, match="authoritative='pg' is unknown: use mapping, mysql"):
        ReconcileParams(authoritative="pg")
    assert _parse("--authoritative", "postgres").authoritative == "postgres"
    generated = TableMapping.model_validate(
        {
            "source": "legacy.g",
            "target": "public.g",
            "key": ["id"],
            "direction": "mysql_to_pg",
            "columns": [
                {"name": "id", "column_type": "int(11)", "nullable": False},
                {"name": "total", "column_type": "int(11)", "generated": True},
            ],
        }
    )
    with pytest.raises(ConfigError, match=r"legacy\.g: cannot be reconciled with authoritative"):
        with_authority(generated, "postgres")
