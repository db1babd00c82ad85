"""``loopml users``, ``loopml tokens`` and ``loopml server init`` against a local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loopml.cli import main
from loopml.cli.server_init import init
from loopml.errors import Unauthorized
from loopml.security.auth import AuthService, Role
from loopml.store.sql import open_store


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path))
    for name in ("LOOPML_STORE_URL", "LOOPML_TRACKING_URI", "LOOPML_CONFIG", "LOOPML_TOKEN_PEPPER"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def authenticate(home: Path, token: str) -> tuple[str, Role]:
    with open_store(f"sqlite:///{home / 'store.db'}") as store:
        principal = AuthService(store).authenticate(token)
    return principal.name, principal.role


def test_users_create_list_disable(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["users", "create", "ana", "--role", "editor"], capsys)[0] == 0
    assert run_cli(["users", "create", "vic"], capsys)[0] == 0  # viewer by default
    code, out, _ = run_cli(["users", "list", "--json"], capsys)
    assert code == 0
    assert [(u["name"], u["role"], u["is_disabled"]) for u in json.loads(out)["items"]] == [
        ("ana", "editor", False),
        ("vic", "viewer", False),
    ]
    assert run_cli(["users", "disable", "ana"], capsys)[0] == 0
    code, out, _ = run_cli(["users", "list"], capsys)
    assert "disabled" in out
    code, _, err = run_cli(["users", "create", "ana", "--role", "editor"], capsys)
    assert code != 0 and "already exists" in err
    code, _, err = run_cli(["users", "create", "zed", "--role", "owner"], capsys)
    assert code == 2 and "Unknown role 'owner'" in err
    code, _, err = run_cli(["users", "disable", "ghost"], capsys)
    assert code != 0 and "No user named 'ghost'" in err


def test_tokens_create_list_revoke(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(["users", "create", "ana", "--role", "maintainer"], capsys)
    code, out, err = run_cli(
        ["tokens", "create", "--user", "ana", "--name", "ci", "--expires-in", "30d"], capsys
    )
    assert code == 0 and "not shown again" in err
    token = out.strip()
    assert token.startswith("lml_") and authenticate(home, token) == ("ana", Role.MAINTAINER)
    code, out, _ = run_cli(["tokens", "list", "--user", "ana", "--json"], capsys)
    [listed] = json.loads(out)["items"]
    assert listed["name"] == "ci" and listed["expires_at"] is not None and token not in out
    assert token.split("_")[2] not in out  # the secret is never listed
    code, out, _ = run_cli(["tokens", "revoke", listed["token_id"]], capsys)
    assert code == 0 and "Revoked" in out
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(home, token)
    code, out, _ = run_cli(["audit", "list", "--json"], capsys)
    events = json.loads(out)["items"]
    assert [e["action"] for e in events] == ["tokens.revoke", "tokens.create", "users.create"]
    assert all(e["actor"].startswith("cli:") and e["client"] == "cli" for e in events)
    assert token.split("_", 2)[2] not in out
    code, _, err = run_cli(["tokens", "create", "--user", "ana", "--expires-in", "soon"], capsys)
    assert code == 2 and "Duration 'soon'" in err
    code, _, err = run_cli(["tokens", "create", "--user", "ghost"], capsys)
    assert code != 0 and "No user named 'ghost'" in err


def test_grant_commands(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(["users", "create", "ana", "--role", "editor"], capsys)
    assert run_cli(["users", "grant", "ana", "--model", "churn", "--level", "write"], capsys)[0] == 0
    code, out, _ = run_cli(["users", "grants", "--json"], capsys)
    grants = json.loads(out)["items"]
    assert [(g["user_name"], g["resource_kind"], g["resource"], g["level"]) for g in grants] == [
        ("ana", "model", "churn", "write")
    ]
    code, _, err = run_cli(["users", "grant", "ana", "--model", "a", "--dataset", "b"], capsys)
    assert code == 2 and "exactly one resource" in err
    assert run_cli(["users", "revoke-grant", "ana", "--model", "churn"], capsys)[0] == 0
    code, out, _ = run_cli(["users", "grants", "--json"], capsys)
    assert json.loads(out) == {"items": [], "next_page_token": None}


def test_server_init_prints_the_admin_token_once(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from loopml.cli import _context

    _context.configure(home=None)  # settings of this test's environment, not a previous one
    app = typer.Typer()
    app.command("init")(init)
    app.command("noop")(lambda: None)
    from typer.testing import CliRunner

    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    token = first.stdout.strip().splitlines()[0]
    assert authenticate(home, token) == ("admin", Role.ADMIN)
    again = runner.invoke(app, ["init"])
    assert again.exit_code != 0 and "already has an admin" in str(again.exception)
    forced = runner.invoke(app, ["init", "--force", "--name", "root", "--json"])
    assert forced.exit_code == 0
    made = json.loads(forced.stdout)
    assert made["user"] == "root" and authenticate(home, made["token"]) == ("root", Role.ADMIN)
