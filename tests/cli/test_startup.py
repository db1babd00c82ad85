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
from loopml.config import Settings
from loopml.store.sql import open_store

HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "sqlalchemy", "loopml.analysis", "loopml.data")
#: What reading the store does not need: the ORM, migrations (the store is current), the tracking
#: client (YAML, psutil), the remote client, and the data, registry, pipeline and server stacks.
NOT_FOR_READING_RUNS = (
    "alembic",
    "sqlalchemy.orm",
    "loopml.tracking",
    "yaml",
    "psutil",
    "httpx",
    "loopml.store.remote",
    "numpy",
    "pandas",
    "pyarrow",
    "sklearn",
    "scipy",
    "loopml.data",
    "loopml.analysis",
    "loopml.registry",
    "loopml.pipeline",
    "loopml.server",
    "loopml.services",
)

_PROBE = """
import json, sys
from loopml.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit_:
    code = exit_.code
else:
    code = 0
heavy = sorted(set(sys.modules) & set(json.loads(%r)))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


def _probe(*args: str, cwd: Path, watch: tuple[str, ...] = HEAVY) -> dict[str, object]:
    """Run ``loopml ARGS`` in a fresh interpreter: exit code, output, and which of ``watch`` it imported."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE % json.dumps(watch), *args],
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


def test_runs_list_imports_only_the_store_it_reads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with open_store(Settings(home=home).resolved_store_url()) as store:
        experiment = store.experiments.create("startup")
        store.runs.create(experiment.experiment_id, name="first-run")
    result = _probe("--home", str(home), "runs", "list", cwd=tmp_path, watch=NOT_FOR_READING_RUNS)
    assert result["code"] == 0
    assert "first-run" in str(result["out"])
    assert result["heavy"] == []


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


def test_python_dash_m_loopml_is_the_same_command_line(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-m", "loopml", "--version"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == _probe("--version", cwd=tmp_path)["out"].strip()  # type: ignore[union-attr]
