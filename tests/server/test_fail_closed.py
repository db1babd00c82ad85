"""Nothing fails open: a server that cannot load its security layer refuses to start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from loopml.cli.app import main
from loopml.config import Settings
from loopml.errors import InvalidState, LoopmlError, MissingDependency
from loopml.server.app import SECURITY_MODULE, create_app, load_security_layer
from loopml.store.remote import RemoteStore


@pytest.fixture
def broken_security_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import loopml.server._security`` fail, as a broken or partial install would."""
    monkeypatch.setitem(sys.modules, SECURITY_MODULE, None)


@pytest.mark.usefixtures("broken_security_layer")
@pytest.mark.parametrize("auth_enabled", [None, True, False])
def test_create_app_refuses_to_build_without_the_security_layer(
    tmp_path: Path, auth_enabled: bool | None
) -> None:
    with pytest.raises(MissingDependency) as caught:
        create_app(Settings(home=tmp_path), auth_enabled=auth_enabled)
    message = str(caught.value)
    assert SECURITY_MODULE in message and "does not start" in message
    assert not (tmp_path / "store.db").exists()  # refused before anything was opened


@pytest.mark.usefixtures("broken_security_layer")
def test_the_server_command_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["--home", str(tmp_path), "server", "--port", "1"])
    assert ended.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "security layer" in err and SECURITY_MODULE in err


def test_a_security_module_that_raises_on_import_also_stops_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    def exploding(name: str, package: str | None = None) -> object:
        raise RuntimeError("bad configuration at import")

    monkeypatch.setattr(importlib, "import_module", exploding)
    with pytest.raises(MissingDependency, match="bad configuration at import"):
        load_security_layer()


def test_a_store_without_identity_tables_is_refused_unless_auth_is_off(tmp_path: Path) -> None:
    remote = RemoteStore("http://127.0.0.1:9")  # no users, tokens or audit log
    with pytest.raises(InvalidState, match="users, tokens and an audit log"):
        create_app(Settings(home=tmp_path), store=remote)
    with pytest.raises(LoopmlError):
        create_app(Settings(home=tmp_path), store=remote, auth_enabled=True)
    assert create_app(Settings(home=tmp_path), store=remote, auth_enabled=False) is not None
    remote.close()
