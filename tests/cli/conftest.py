"""Helpers of the CLI tests: run ``loopml`` in-process and capture exit code and output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopml.cli.app import main


@dataclass
class Result:
    code: int
    out: str
    err: str


Invoke = Callable[..., Result]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def invoke(capsys: pytest.CaptureFixture[str], home: Path) -> Invoke:
    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else 1
        captured = capsys.readouterr()
        return Result(code=code, out=captured.out, err=captured.err)

    return run
