"""The CLI imports only the command group it runs, and still lists and refuses the others."""

from __future__ import annotations

import pytest

from mysql_pg_sync import cli


@pytest.mark.parametrize(
    ("argv", "group"),
    [
        (["backfill", "run"], "backfill"),
        (["-v", "reconcile", "--tables", "x"], "reconcile"),
        (["--help"], None),
        (["nonsense"], None),
        ([], None),
    ],
)
def test_the_chosen_group_is_the_first_word(argv: list[str], group: str | None) -> None:
    assert cli._chosen_group(argv) == group


def test_a_chosen_group_parses_with_only_its_own_module() -> None:
    args = cli._parser(["backfill", "plan"]).parse_args(["backfill", "plan"])
    assert args.group == "backfill"
    assert args._module.__name__ == "mysql_pg_sync.cli.backfill"


def test_a_group_with_a_hyphen_lives_in_a_module_with_an_underscore() -> None:
    argv = ["dead-letters", "retry", "--id", "3", "--id", "4"]
    args = cli._parser(argv).parse_args(argv)
    assert args._module.__name__ == "mysql_pg_sync.cli.dead_letters"
    assert (args.action, args.ids, args.dry_run) == ("retry", [3, 4], False)


def test_an_unknown_group_is_refused_with_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["nonsense"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nonsense'" in err
    assert "backfill" in err
    assert "reconcile" in err


def test_ctrl_c_ends_with_a_line_saying_how_to_go_on_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mysql_pg_sync.cli import backfill

    def interrupted(args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(backfill, "run", interrupted)
    assert cli.main(["backfill", "run"]) == 130
    err = capsys.readouterr().err
    assert err.startswith("interrupted: chunks already copied are done;")
    assert "backfill run --mode resume" in err
    assert "Traceback" not in err
