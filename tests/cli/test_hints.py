"""Every `loopml ...` that a message, hint or help text of the package names is a real command.

Scans the source for backquoted ``loopml`` command lines and resolves each against the command
tree: the words name a command, and each ``--flag`` after them is one of its options.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.core

import loopml
from tests.cli.test_usage_errors import TREE

SRC = Path(loopml.__file__).parent
_MENTION = re.compile(r"`loopml ([^`\n]+)`")
_GENERIC = {"GROUP", "--help"}  # prose about the CLI itself, not a command line


def _mentions() -> list[tuple[str, str]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        for match in _MENTION.finditer(path.read_text(encoding="utf-8")):
            first = match.group(1).split()[0]
            if first not in _GENERIC and not first.startswith("{"):  # "{command}": filled in at run time
                found.append((str(path.relative_to(SRC)), match.group(1)))
    return found


def _problem(line: str) -> str | None:
    words = line.split()
    command: tuple[str, ...] = ()
    while words and (*command, words[0]) in TREE:
        command = (*command, words.pop(0))
    if not command:
        return f"no command {words[0]!r}"
    found = TREE[command]
    if isinstance(found, typer.core.TyperGroup) and words and re.fullmatch(r"[a-z][a-z-]*", words[0]):
        return f"{' '.join(command)!r} has no sub-command {words[0]!r}"
    options = {opt for p in found.params for opt in (*p.opts, *getattr(p, "secondary_opts", ()))}
    for word in words:
        flag = word.split("=")[0]
        if flag.startswith("--") and "{" not in flag and flag not in options:
            return f"{' '.join(command)!r} has no option {flag}"
    return None


MENTIONS = _mentions()


def test_mentions_are_found() -> None:
    assert ("data/sources.py", "--format csv") not in MENTIONS  # flags alone are not command lines
    assert any(line.startswith("tokens create") for _, line in MENTIONS)
    assert len(MENTIONS) > 50


@pytest.mark.parametrize(("module", "line"), MENTIONS, ids=[f"{m}: {c}" for m, c in MENTIONS])
def test_a_named_command_exists(module: str, line: str) -> None:
    assert _problem(line) is None, f"{module} names `loopml {line}`: {_problem(line)}"


def test_the_check_catches_made_up_commands() -> None:
    assert _problem("artefacts list") == "no command 'artefacts'"
    assert _problem("runs frobnicate X") == "'runs' has no sub-command 'frobnicate'"
    assert _problem("runs list --no-such-flag") == "'runs list' has no option --no-such-flag"
    assert _problem("data stats --dataset NAME@VERSION") is None


def test_messages_name_cli_flags_not_python_calls() -> None:
    python_calls = re.compile(
        r"Pass format=|write one with `EvaluationResult|`loopml lineage (list|contexts)`"
    )
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if python_calls.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
