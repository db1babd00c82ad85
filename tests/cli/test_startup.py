"""Start-up: ``loopml`` imports a command's module only when that command runs.

Run in fresh interpreters: which heavy libraries a light command pulled in is read from
``sys.modules`` after it ran (a check of what is imported, not of how long it took).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.cli._lazy import load_command
from loopml.cli.groups import COMMANDS

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "sqlalchemy", "loopml.analysis", "loopml.data")

_PROBE = """
import json, sys
from loopml.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
heavy = sorted({name.split(".")[0] if not name.startswith("loopml") else name
                for name in sys.modules} & set(json.loads(%r)))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _probe(*args: str, cwd: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE % json.dumps(HEAVY), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, object] = json.loads(proc.stderr.strip().splitlines()[-1])
    result["out"] = proc.stdout
    return result


@pytest.mark.parametrize(
    "args", [["--help"], ["--version"], [], ["runs", "--help"], ["scan", "--help"], ["predict", "--help"]]
)
def test_help_and_version_import_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    result = _probe(*args, cwd=tmp_path)
    assert result["code"] == 0
    assert result["heavy"] == []


def test_scan_of_a_file_imports_no_heavy_library(tmp_path: Path) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    result = _probe("scan", str(model), cwd=tmp_path)
    assert result["code"] == 0
    assert result["heavy"] == []
    assert "safe" in str(result["out"])


def test_import_loopml_is_light(tmp_path: Path) -> None:
    code = (
        "import json, sys, loopml; "
        f"print(json.dumps(sorted(set(m.split('.')[0] for m in sys.modules) & set({list(HEAVY)!r}))))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    command = load_command(name, COMMANDS[name])
    assert command.name == name
    assert (command.help or "").strip().splitlines()[0] == COMMANDS[name].help
