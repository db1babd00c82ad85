"""Usage errors of every command: the usage line and one reason, exit 2, never a traceback.

Walks the whole command tree, so a command added later is covered without editing this file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.core

from loopml.cli._lazy import load_command
from loopml.cli.app import main
from loopml.cli.groups import COMMANDS


def _walk() -> Iterator[tuple[tuple[str, ...], typer.core.TyperCommand | typer.core.TyperGroup]]:
    def visit(
        path: tuple[str, ...], command: typer.core.TyperCommand | typer.core.TyperGroup
    ) -> Iterator[tuple[tuple[str, ...], typer.core.TyperCommand | typer.core.TyperGroup]]:
        yield path, command
        if isinstance(command, typer.core.TyperGroup):
            for name, sub in command.commands.items():
                yield from visit((*path, name), sub)  # type: ignore[arg-type]

    for name, spec in COMMANDS.items():
        yield from visit((name,), load_command(name, spec))


TREE = dict(_walk())
GROUPS = {p: c for p, c in TREE.items() if isinstance(c, typer.core.TyperGroup)}
LEAVES = [p for p, c in TREE.items() if not isinstance(c, typer.core.TyperGroup)]
NEEDS_ARGS = [p for p in LEAVES if any(param.required for param in TREE[p].params)]


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["--home", str(home), *args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def test_the_tree_is_walked() -> None:
    assert ("runs", "show") in NEEDS_ARGS and ("scan",) in NEEDS_ARGS and ("data", "stats") in NEEDS_ARGS
    assert len(LEAVES) > 40


@pytest.mark.parametrize("path", sorted(TREE), ids=" ".join)
def test_an_unknown_option_is_a_usage_error(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, tmp_path / "home", *path, "--no-such-option")
    assert code == 2
    assert f"Usage: loopml {' '.join(path)}" in err
    assert "No such option: --no-such-option" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "home").exists()  # nothing ran


@pytest.mark.parametrize("path", NEEDS_ARGS, ids=" ".join)
def test_a_missing_argument_is_a_usage_error(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, tmp_path / "home", *path)
    assert code == 2
    assert f"Usage: loopml {' '.join(path)}" in err
    assert "Missing" in err
    assert "Traceback" not in out + err


@pytest.mark.parametrize("path", list(GROUPS), ids=" ".join)
def test_an_unknown_subcommand_is_a_usage_error(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, tmp_path / "home", *path, "no-such-command")
    assert code == 2
    assert "No such command 'no-such-command'" in err


@pytest.mark.parametrize("path", [p for p, c in GROUPS.items() if c.no_args_is_help], ids=" ".join)
def test_a_group_alone_prints_its_help(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(capsys, tmp_path / "home", *path)
    assert code == 0, err
    assert f"Usage: loopml {' '.join(path)} [OPTIONS] COMMAND" in out
    for name in GROUPS[path].commands:
        assert name in out


def test_loopml_alone_prints_help_and_every_group(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main([])
    out = capsys.readouterr().out
    assert exit_.value.code == 0
    assert "Usage: loopml [OPTIONS] COMMAND" in out
    for name, spec in COMMANDS.items():
        assert name in out and spec.help.split()[0] in out


def test_an_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _run(capsys, tmp_path, "artefacts")
    assert code == 2
    assert "Usage: loopml" in err and "No such command 'artefacts'" in err


@pytest.mark.parametrize("path", [(), *sorted(TREE)], ids=lambda p: " ".join(p) or "loopml")
def test_help_shows_readable_value_hints(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = _run(capsys, tmp_path / "home", *path, "--help")
    assert code == 0
    assert "Usage: loopml" in out
    leaked = re.findall(r"<(?:bool|str|int|float|path|list\[\w+\])>", out)
    assert leaked == [], f"annotation-style hints in help: {leaked}"


def test_an_argument_is_named_in_capitals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = _run(capsys, tmp_path / "home", "runs", "show", "--help")
    assert code == 0
    assert re.search(r"\bRUN\b", out) and "TEXT" in out


def test_an_unwritable_output_path_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    (tmp_path / "file").write_text("not a folder")
    out_path = tmp_path / "file" / "stats.json"
    code, _, err = _run(
        capsys, tmp_path / "home", "data", "stats", str(tmp_path / "t.csv"), "-o", str(out_path)
    )
    assert code == 2
    assert "Error (" in err and "Check the path and its permissions." in err
    assert "Traceback" not in err
