"""The built wheel ships the example projects, so ``pip install loopml && loopml demo`` works anywhere.

The wheel is built by pip (isolated, as a user's ``pip install`` would) from a copy of the
packaging inputs in a temporary folder, so the checkout gets no ``build/`` or ``*.egg-info``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "src" / "loopml" / "examples"
_PACKAGING_INPUTS = ("pyproject.toml", "README.md", "LICENSE")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    source = tmp_path_factory.mktemp("source")
    for name in _PACKAGING_INPUTS:
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    )
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("loopml-*.whl")
    with zipfile.ZipFile(path) as archive:
        yield archive


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_wheel_ships_both_examples_code_and_documents(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    expected = {
        "loopml/examples/__init__.py",
        "loopml/examples/census/__init__.py",
        "loopml/examples/census/pipeline.py",
        "loopml/examples/census/lifecycle.py",
        "loopml/examples/census/traffic.py",
        "loopml/examples/census/retraining.py",
        "loopml/examples/census/schema.yaml",
        "loopml/examples/census/README.md",
        "loopml/examples/census/data/PROVENANCE.md",
        "loopml/examples/quickstart/__init__.py",
        "loopml/examples/quickstart/train.py",
        "loopml/examples/quickstart/README.md",
    }
    assert expected <= names, sorted(expected - names)
    assert not any(n.startswith("examples/") for n in names), "examples must live inside the package"


def test_wheel_ships_every_census_parquet_file_byte_for_byte(wheel: zipfile.ZipFile) -> None:
    sources = sorted((EXAMPLES / "census" / "data").glob("*.parquet"))
    assert [p.name for p in sources] == [f"year={y}.parquet" for y in (2015, 2016, 2017, 2018)]
    shipped = {n for n in wheel.namelist() if n.endswith(".parquet")}
    assert shipped == {f"loopml/examples/census/data/{p.name}" for p in sources}
    for path in sources:
        packed = wheel.read(f"loopml/examples/census/data/{path.name}")
        assert _digest(packed) == _digest(path.read_bytes()), path.name
