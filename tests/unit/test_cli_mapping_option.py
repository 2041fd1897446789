"""The mapping folder is `--mappings` on every CLI command that reads or writes one (README:
"unless given `--mappings <folder>`"); the older spellings (`mappings generate --out`,
`mappings validate <folders>`) still work, hidden from the help."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import yaml

from mysql_pg_sync import cli

CANONICAL = "--mappings"
# every command taking a mapping folder; the walk below must find exactly these
TAKES_A_FOLDER = {
    "mappings generate",
    "mappings validate",
    "ddl",
    "connectors",
    "backfill",
    "stream",
    "reconcile",
    "status",
    "dead-letters",
    "dead-letters list",
    "dead-letters retry",
    "dead-letters resolve",
}


def _parsers(
    parser: argparse.ArgumentParser, path: str = ""
) -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _parsers(sub, f"{path} {name}".strip())
    return found


def _mentions_a_mapping_folder(action: argparse.Action) -> bool:
    words = f"{action.dest} {action.help or ''}".lower()
    return "mappings_dir" in words or "mapping folder" in words or "mappings folder" in words


def test_every_command_taking_a_mapping_folder_takes_the_canonical_option() -> None:
    takers = {}
    for path, parser in _parsers(cli._parser()):
        if any(_mentions_a_mapping_folder(a) for a in parser._actions):
            takers[path] = parser
    assert set(takers) == TAKES_A_FOLDER
    for path, parser in takers.items():
        assert CANONICAL in parser._option_string_actions, path
        assert CANONICAL in parser.format_help(), path


@pytest.mark.parametrize(
    ("argv", "dest"),
    [
        (["mappings", "generate", CANONICAL, "X"], "out"),
        (["ddl", CANONICAL, "X"], "mappings"),
        (["connectors", "render", CANONICAL, "X"], "mappings"),
        (["backfill", "plan", CANONICAL, "X"], "mappings"),
        (["stream", CANONICAL, "X"], "mappings"),
        (["reconcile", CANONICAL, "X"], "mappings"),
        (["status", CANONICAL, "X"], "mappings"),
        (["dead-letters", CANONICAL, "X", "list"], "mappings"),
        (["dead-letters", "list", CANONICAL, "X"], "mappings"),
        (["dead-letters", "retry", CANONICAL, "X"], "mappings"),
        (["dead-letters", "resolve", "--note", "n", CANONICAL, "X"], "mappings"),
    ],
)
def test_the_canonical_option_sets_the_folder_the_command_reads(argv: list[str], dest: str) -> None:
    args = cli._parser(argv).parse_args(argv)
    assert Path(getattr(args, dest)) == Path("X")


def test_dead_letters_keeps_a_folder_given_before_the_action() -> None:
    argv = ["dead-letters", CANONICAL, "X", "list", "--table", "t"]
    assert cli._parser(argv).parse_args(argv).mappings == Path("X")
    argv = ["dead-letters", "list"]
    assert cli._parser(argv).parse_args(argv).mappings is None  # run time: $MPS_MAPPINGS_DIR


def test_the_older_spellings_still_work_hidden_from_the_help() -> None:
    argv = ["mappings", "generate", "--out", "X"]
    assert cli._parser(argv).parse_args(argv).out == Path("X")
    argv = ["mappings", "validate", "A", "B", CANONICAL, "C"]
    args = cli._parser(argv).parse_args(argv)
    assert (args.mapping_paths, args.paths) == ([Path("C")], [Path("A"), Path("B")])
    for path, parser in _parsers(cli._parser()):
        if path in ("mappings generate", "mappings validate"):
            assert "--out" not in parser.format_help()
            assert "paths" not in parser.format_help()


def _folder(path: Path, *names: str) -> Path:
    path.mkdir()
    for name in names:
        mapping = {
            "source": f"legacy.{name}",
            "target": f"public.{name}",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int(11)", "nullable": False}],
        }
        (path / f"{name}.yaml").write_text(yaml.safe_dump(mapping))
    return path


def test_validate_reads_the_folders_given_either_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MPS_MAPPINGS_DIR", str(_folder(tmp_path / "env", "a", "b", "c")))
    one, two = _folder(tmp_path / "one", "orders"), _folder(tmp_path / "two", "notes")
    assert cli.main(["mappings", "validate", CANONICAL, str(one)]) == 0
    assert capsys.readouterr().out.startswith("1 mapping(s) valid")
    assert cli.main(["mappings", "validate", CANONICAL, str(one), CANONICAL, str(two)]) == 0
    assert capsys.readouterr().out.startswith("2 mapping(s) valid")
    assert cli.main(["mappings", "validate", str(one), CANONICAL, str(two)]) == 0
    assert capsys.readouterr().out.startswith("2 mapping(s) valid")
    assert cli.main(["mappings", "validate"]) == 0  # neither: $MPS_MAPPINGS_DIR
    assert capsys.readouterr().out.startswith("3 mapping(s) valid")
