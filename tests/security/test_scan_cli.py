"""``loopml scan``: exit codes, JSON output, trusted globals."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from loopml.cli import main
from tests.security import corpus


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    return code, capsys.readouterr().out


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    out = {
        "safe": pickle.dumps({"a": [1, 2]}, protocol=4),
        "evil": corpus.full(corpus.call(corpus.g("os", "system", 2), [corpus.s("id", 2)]), 2),
        "unknown": corpus.full(corpus.call(corpus.g("mypkg.models", "Net", 2), []), 2),
    }
    for name, data in out.items():
        (tmp_path / f"{name}.pkl").write_bytes(data)
    return {name: tmp_path / f"{name}.pkl" for name in out}


def test_safe_file_exits_0(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["scan", str(files["safe"])], capsys)
    assert code == 0
    assert "safe" in out


def test_unsafe_file_exits_1_and_names_the_global(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(["scan", str(files["safe"]), str(files["evil"])], capsys)
    assert code == 1
    assert "os.system" in out


def test_json_output_is_stable(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(["scan", "--json", str(files["evil"])], capsys)
    doc = json.loads(out)
    assert code == 1
    assert doc["verdict"] == "unsafe"
    member = doc["reports"][0]["members"][0]
    assert list(member) == ["path", "format", "findings", "globals", "bytes_scanned", "verdict"]
    finding = member["findings"][0]
    assert finding == {
        "kind": "malicious",
        "message": finding["message"],
        "global_name": "os.system",
        "opcode": "GLOBAL",
        "offset": 2,
    }


def test_unknown_fails_unless_allowed_or_trusted(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["scan", str(files["unknown"])], capsys)[0] == 1
    assert _run(["scan", "--allow-unknown", str(files["unknown"])], capsys)[0] == 0
    assert _run(["scan", "--trust-global", "mypkg.models.Net", str(files["unknown"])], capsys)[0] == 0
    assert _run(["scan", "--allow-unknown", str(files["evil"])], capsys)[0] == 1


def test_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["scan", str(tmp_path / "nope.pkl")], capsys)[0] == 2


def test_real_world_checkpoints_pass_and_a_partial_over_os_system_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse
    import functools
    import pathlib

    import numpy as np

    from tests.security import shapes

    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(shapes.torch_checkpoint(corpus.full(shapes.body_of(argparse.Namespace(lr=0.1)), 2), {}))
    config = tmp_path / "config.pkl"
    config.write_bytes(
        pickle.dumps({"out": pathlib.PurePosixPath("/ckpt"), "f": functools.partial(np.clip, a_min=0)})
    )
    code, out = _run(["scan", str(ckpt), str(config)], capsys)
    assert code == 0, out
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(
        corpus.full(corpus.call(corpus.g("functools", "partial", 2), [corpus.g("os", "system", 2)]), 2)
    )
    code, out = _run(["scan", str(evil)], capsys)
    assert code == 1
    assert "functools.partial" in out and "os.system" in out


def test_a_package_prints_a_summary_and_only_findings(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "package"
    (package / "weights").mkdir(parents=True)
    for i in range(3):
        (package / "weights" / f"part{i}.pkl").write_bytes(files["safe"].read_bytes())
    (package / "README.txt").write_text("a model")
    code, out = _run(["scan", str(package)], capsys)
    assert code == 0
    assert "part0.pkl" not in out and "README" not in out  # nothing to report: no table
    assert f"{package}: safe (4 members, " in out and "no findings" in out

    (package / "weights" / "evil.pkl").write_bytes(files["evil"].read_bytes())
    code, out = _run(["scan", str(package)], capsys)
    assert code == 1
    assert "evil.pkl" in out and "os.system" in out
    assert "part0.pkl" not in out
    assert f"{package}: unsafe (5 members, " in out and "1 with findings; --verbose lists every member" in out

    code, out = _run(["scan", "--verbose", str(package)], capsys)
    assert code == 1
    assert all(f"part{i}.pkl" in out for i in range(3)) and "README.txt" in out
