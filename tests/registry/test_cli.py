"""`loopml keys` and `loopml models sign|verify` through the real entry point."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

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
def package(tmp_path: Path, fitted: tuple[StandardScaler, LogisticRegression]) -> ModelPackage:
    return package_model(fitted[1], tmp_path / "pkg", transform=fitted[0])


def test_keys_generate_list_export_trust_sign_verify(
    tmp_path: Path, package: ModelPackage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LOOPML_TEST_PASS", "hunter2")
    code, out, _ = _run(capsys, home, "keys", "generate", "ci", "--passphrase-env", "LOOPML_TEST_PASS")
    assert code == 0 and "Created key ci" in out
    assert stat.S_IMODE((home / "keys" / "ci.key").stat().st_mode) == 0o600

    code, out, _ = _run(capsys, home, "keys", "list", "--json")
    keys = json.loads(out)["items"]
    assert code == 0 and keys[0]["name"] == "ci" and keys[0]["is_encrypted"] is True

    public = tmp_path / "ci.pub"
    code, _, _ = _run(capsys, home, "keys", "export-public", "ci", "--out", str(public))
    assert code == 0 and public.read_text().startswith("-----BEGIN PUBLIC KEY-----")

    code, _, err = _run(capsys, home, "models", "verify", str(package.path))
    assert code == 1 and "not signed" in err

    code, _, err = _run(capsys, home, "models", "sign", str(package.path), "--key", "ci")
    assert code == 2 and "passphrase" in err
    code, out, _ = _run(
        capsys,
        home,
        "models",
        "sign",
        str(package.path),
        "--key",
        "ci",
        "--passphrase-env",
        "LOOPML_TEST_PASS",
    )
    assert code == 0 and "Signed" in out

    code, _, err = _run(capsys, home, "models", "verify", str(package.path))
    assert code == 1 and "untrusted key" in err

    code, out, _ = _run(capsys, home, "keys", "trust", str(public), "--name", "ci")
    assert code == 0 and "Trusted ci" in out
    code, out, _ = _run(capsys, home, "keys", "list", "--trusted", "--json")
    assert json.loads(out)["items"][0]["name"] == "ci"

    code, out, _ = _run(capsys, home, "models", "verify", str(package.path), "--json")
    report = json.loads(out)
    assert (
        code == 0 and report["ok"] is True and report["signature"] == "verified" and report["signer"] == "ci"
    )

    (package.path / "transform" / "transform.skops").write_bytes(b"tampered")
    code, out, _ = _run(capsys, home, "models", "verify", str(package.path), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False and "transform/transform.skops" in report["error"]


def test_verify_allow_unsigned_and_bad_inputs(
    tmp_path: Path, package: ModelPackage, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    code, out, _ = _run(capsys, home, "models", "verify", str(package.path), "--allow-unsigned")
    assert code == 0 and "signature absent" in out
    code, _, err = _run(capsys, home, "models", "verify", str(tmp_path / "nowhere"))
    assert code == 2 and "No model package folder" in err
    code, _, err = _run(capsys, home, "models", "sign", str(package.path), "--key", "missing")
    assert code == 2 and "loopml keys list" in err
    code, _, err = _run(capsys, home, "keys", "trust", str(tmp_path / "none.pem"), "--name", "x")
    assert code == 2 and "No file" in err
