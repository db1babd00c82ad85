"""Checkpoints written by PyTorch itself: ``torch.save`` output is judged like the hand-built shapes.

PyTorch is not a dependency of loopml; these tests run where it is installed (for example
``pip install torch`` into the virtual environment). The hand-built checkpoints in
``shapes.py`` follow the same layout and run everywhere.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import zipfile

import pytest

from loopml.security import Verdict, scan_bytes
from tests.security import shapes

torch = pytest.importorskip("torch", reason="PyTorch is not installed; shapes.py covers its file layout")


def _save(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _trained() -> tuple[object, object]:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.ones(2, 3)).sum().backward()
    opt.step()
    return model, opt


def test_real_checkpoints_with_configs_and_optimizer_state_are_safe() -> None:
    model, opt = _trained()
    checkpoints = {
        "state-dict": _save(model.state_dict()),
        "checkpoint": _save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "epoch": 7,
                "args": argparse.Namespace(lr=1e-3, data_dir=pathlib.PurePosixPath("/data")),
            }
        ),
        "whole-module": _save(model),
    }
    flagged = {
        name: [f.global_name or f.message for f in scan_bytes(data).findings]
        for name, data in checkpoints.items()
        if scan_bytes(data).verdict is not Verdict.SAFE
    }
    assert flagged == {}


def test_the_hand_built_checkpoint_has_the_members_torch_writes() -> None:
    real = zipfile.ZipFile(io.BytesIO(_save({"w": torch.ones(2)}))).namelist()
    built = zipfile.ZipFile(io.BytesIO(shapes.torch_checkpoint(b"", {"0": b""}))).namelist()
    assert built == real


def test_a_real_checkpoint_carrying_a_partial_over_os_system_is_unsafe() -> None:
    import functools
    import os

    data = _save({"args": argparse.Namespace(hook=functools.partial(os.system, "id"))})
    report = scan_bytes(data)
    assert report.verdict is Verdict.UNSAFE
    assert {"functools.partial", "posix.system"} <= {f.global_name for f in report.findings}
