"""`backfill`'s numeric options are range-checked by argparse and again by RunOptions (the DAG's
path), and its defaults come from the environment as the DAG's and the connectors' do."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import pytest

from mysql_pg_sync.airflow.dag_params import backfill_options
from mysql_pg_sync.backfill.runner import BackfillError, RunOptions
from mysql_pg_sync.cli import backfill, main
from mysql_pg_sync.settings import REPO

pytestmark = pytest.mark.unit


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backfill")
    backfill.register(parser)
    return parser


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        ("--chunk-rows", "-10", "integer >= 0 (0: each mapping's backfill.chunk_rows)"),
        ("--chunk-rows", "1.5", "integer >= 0"),
        ("--chunk-rows", "abc", "integer >= 0"),
        ("--chunk-mb", "0", "a number > 0"),
        ("--chunk-mb", "-2", "a number > 0"),
        ("--chunk-mb", "nan", "a number > 0"),
        ("--chunk-mb", "inf", "a number > 0"),
        ("--max-parallel", "0", "integer from 1 to 16"),
        ("--max-parallel", "-3", "integer from 1 to 16"),
        ("--max-parallel", "500", "integer from 1 to 16"),
        ("--batch-rows", "0", "integer >= 1"),
    ],
)
def test_out_of_range_options_exit_2_naming_option_and_range(
    option: str, value: str, allowed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["backfill", "plan", "--dry-run", option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be " in err
    assert f", got {value!r}" in err
    assert allowed in err


def test_valid_options_parse() -> None:
    args = _parser().parse_args(
        ["plan", "--chunk-rows", "0", "--chunk-mb", "0.5", "--max-parallel", "1"]
    )
    assert (args.chunk_rows, args.chunk_mb, args.max_parallel) == (0, 0.5, 1)
    assert backfill.options_from(args).chunk_rows == 0  # 0: each mapping's chunk_rows


def test_every_option_has_help() -> None:
    parser = _parser()
    missing = [a.dest for a in parser._actions if not a.help]
    assert missing == []
    text = parser.format_help()
    assert "omitted or 0: each mapping's backfill.chunk_rows" in text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chunk_rows": -10}, "chunk_rows=-10 is out of range: use a whole number >= 1, or 0"),
        ({"chunk_rows": True}, "chunk_rows=True is out of range"),
        ({"chunk_rows": 2.5}, "chunk_rows=2.5 is out of range"),
        ({"chunk_mb": 0}, "chunk_mb=0 is out of range: use a number > 0"),
        ({"chunk_mb": -1.0}, "chunk_mb=-1.0 is out of range"),
        ({"chunk_mb": math.nan}, "chunk_mb=nan is out of range"),
        ({"max_parallel": 0}, "max_parallel=0 is out of range: use a whole number 1 to 16"),
        ({"max_parallel": 17}, "max_parallel=17 is out of range: use a whole number 1 to 16"),
        ({"batch_rows": 0}, "batch_rows=0 is out of range: use a whole number >= 1"),
        ({"max_groups": 0}, "max_groups=0 is out of range: use a whole number 1 to 1024"),
        ({"max_groups": 5000}, "max_groups=5000 is out of range"),
    ],
)
def test_run_options_refuse_out_of_range(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(BackfillError) as err:
        RunOptions(**kwargs)
    assert message in str(err.value)


def test_run_options_keep_zero_and_none_as_the_mappings_value() -> None:
    assert RunOptions(chunk_rows=0).chunk_rows == 0
    assert RunOptions(chunk_rows=None, chunk_mb=None).chunk_mb is None
    assert RunOptions(chunk_rows=1, chunk_mb=0.25, max_parallel=1, batch_rows=1).chunk_rows == 1


def test_dag_params_path_refuses_a_negative_chunk_rows() -> None:
    params = {"chunk_rows": -10, "max_parallel": 2, "mode": "reload", "dry_run": True}
    with pytest.raises(BackfillError, match=r"chunk_rows=-10 is out of range"):
        backfill_options(params)
    params["chunk_rows"] = 0  # the Param's documented "use each mapping's value"
    assert backfill_options(params).chunk_rows is None


def _resolved(argv: list[str]) -> argparse.Namespace:
    args = _parser().parse_args(["plan", *argv])
    backfill._resolve_defaults(args)
    return args


def test_mappings_default_follows_mps_mappings_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # a cwd-relative default would resolve here
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(tmp_path / "maps"))
    assert Path(_resolved([]).mappings) == tmp_path / "maps"
    monkeypatch.delenv("MPS_MAPPINGS_DIR")
    assert Path(_resolved([]).mappings) == REPO / "include" / "mappings"
    assert _resolved(["--mappings", "elsewhere"]).mappings == "elsewhere"


def test_topic_prefix_default_is_the_connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPS_CONNECTOR_PREFIX", raising=False)
    assert _resolved([]).topic_prefix == "mps_mysql"
    monkeypatch.setenv("MPS_CONNECTOR_PREFIX", "acme")
    assert _resolved([]).topic_prefix == "acme_mysql"
    assert _resolved(["--topic-prefix", "other"]).topic_prefix == "other"


def test_the_dag_param_and_the_library_allow_the_same_parallelism() -> None:
    import ast
    from pathlib import Path

    from mysql_pg_sync.backfill.runner import MAX_PARALLEL

    dag = ast.parse((Path(__file__).parents[2] / "dags" / "backfill.py").read_text())
    ceilings = [
        node.value.value
        for node in ast.walk(dag)
        if isinstance(node, ast.Assign)
        and any(getattr(t, "id", None) == "MAX_PARALLEL_CEILING" for t in node.targets)
        and isinstance(node.value, ast.Constant)
    ]
    assert ceilings == [MAX_PARALLEL]
