"""``loopml server`` says where the web UI is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

from loopml.cli.app import main


def test_server_prints_the_ui_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    monkeypatch.setenv("LOOPML_HOME", str(tmp_path))  # the command exports it for its workers
    monkeypatch.setenv("LOOPML_SERVER_NO_AUTH", "0")
    try:
        main(["--home", str(tmp_path), "server", "--port", "5055"])
    except SystemExit as ex:
        assert ex.code in (0, None)
    err = capsys.readouterr().err
    assert "web UI on http://127.0.0.1:5055/ui" in err
    assert started and started[0]["port"] == 5055
