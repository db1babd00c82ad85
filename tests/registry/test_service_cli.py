"""`loopml models list|show|versions|register|alias|archive|download|history` through the entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from loopml.cli.app import main
from loopml.registry import ModelPackage, package_model


def _run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    try:
        main(["--home", str(home), *args])
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def package(tmp_path: Path, fitted: Any) -> ModelPackage:
    return package_model(fitted[1], tmp_path / "pkg", transform=fitted[0])


def test_register_alias_history_download_archive(
    tmp_path: Path, package: ModelPackage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LOOPML_ARTIFACTS_ENCRYPTION_KEY", "11" * 32)
    code, out, _ = _run(capsys, home, "models", "register", str(package.path), "--name", "churn", "--json")
    assert code == 0 and json.loads(out)["version"] == 1
    code, out, _ = _run(capsys, home, "models", "register", str(package.path), "--name", "churn")
    assert code == 0 and "models:/churn/2" in out

    code, out, _ = _run(capsys, home, "models", "list", "--json")
    listed = json.loads(out)["items"]
    assert code == 0 and [(m["name"], m["latest_version"]) for m in listed] == [("churn", 2)]

    code, _, err = _run(capsys, home, "models", "alias", "churn", "champion", "1")
    # a promotion-policy refusal is a failed check: exit 1
    assert code == 1 and "trusted-signature" in err and "blessing" in err
    code, out, _ = _run(capsys, home, "models", "alias", "churn", "staging", "1", "--reason", "try it")
    assert code == 0 and "version 1" in out

    code, out, _ = _run(capsys, home, "models", "show", "churn", "--json")
    shown = json.loads(out)
    assert code == 0 and shown["model"]["aliases"] == {"staging": 1}
    code, out, _ = _run(capsys, home, "models", "versions", "churn", "--json")
    assert code == 0 and [v["aliases"] for v in json.loads(out)["items"]] == [["staging"], []]

    code, out, _ = _run(capsys, home, "models", "history", "churn", "--json")
    events = json.loads(out)["items"]
    assert code == 0 and [(e["alias"], e["result"]) for e in events] == [
        ("champion", "refused"),
        ("staging", "moved"),
    ]
    assert events[1]["reason"] == "try it" and events[1]["actor"]

    code, out, _ = _run(
        capsys, home, "models", "download", "models:/churn@staging", "--out", str(tmp_path / "dl")
    )
    assert code == 0 and (tmp_path / "dl" / "checksums.json").is_file()
    code, _, err = _run(capsys, home, "models", "download", "models:/churn", "--out", str(tmp_path / "x"))
    assert code == 2 and "Accepted forms" in err

    code, _, err = _run(capsys, home, "models", "archive", "churn", "1")
    assert code == 2 and "staging" in err
    code, out, _ = _run(capsys, home, "models", "archive", "churn", "1", "--force")
    assert code == 0
    code, _, err = _run(capsys, home, "models", "alias", "churn", "staging", "1")
    assert code == 2 and "archived" in err
    code, _, err = _run(capsys, home, "models", "show", "nope")
    assert code == 2 and "No registered model" in err


def test_register_with_tampered_package_exits_1(
    tmp_path: Path, package: ModelPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    (package.path / "model.yaml").write_text((package.path / "model.yaml").read_text() + "\n# edit\n")
    code, _, err = _run(capsys, tmp_path / "home", "models", "register", str(package.path), "--name", "m")
    assert code == 1 and "model.yaml" in err
