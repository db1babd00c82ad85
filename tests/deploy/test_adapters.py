"""``loopml deploy`` on a local store and through a server (``LOOPML_TRACKING_URI``), and the HTTP API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from loopml.cli.app import main
from loopml.config import Settings
from loopml.security.auth import Role
from loopml.server.background import serve_in_thread
from tests.deploy.conftest import World

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(world: World, capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(["--home", str(world.home), *args])
            code = 0
        except SystemExit as ex:
            code = ex.code if isinstance(ex.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_local_cli_lifecycle(cli: Run, world: World, tmp_path: Path) -> None:
    code, out, err = cli("deploy", "create", "churn", "--primary", "models:/churn@champion", "--json")
    assert code == 0, err
    assert json.loads(out)["revision"] == 1
    code, out, err = cli("deploy", "canary", "churn", "models:/churn/2", "--reason", "v2 is better")
    assert code == 0, err
    assert "rollout: progressing at step 1, canary 5.0 %" in out
    assert cli("deploy", "set-traffic", "churn", "30")[0] == 0
    code, out, err = cli("deploy", "set-traffic", "churn", "130")
    assert code != 0 and "canary.weight" in err
    code, out, _ = cli("deploy", "show", "churn", "--json")
    assert json.loads(out)["spec"]["canary"] == {"target": "models:/churn/2", "weight": 30}
    assert cli("deploy", "rollback", "churn", "--reason", "manual")[0] == 0
    code, out, _ = cli("deploy", "history", "churn", "--json")
    events = json.loads(out)["events"]
    assert [e["action"] for e in events] == ["create", "canary", "set-traffic", "rollback"]
    assert events[1]["reason"] == "v2 is better" and events[1]["models"] == ["churn/1", "churn/2"]
    assert events[0]["actor"].startswith("cli:")
    code, out, _ = cli("deploy", "list")
    assert code == 0 and "churn" in out


def test_apply_shows_the_diff_first_and_is_idempotent(cli: Run, tmp_path: Path) -> None:
    spec = tmp_path / "churn.yaml"
    spec.write_text(
        "name: churn\nprimary: models:/churn@champion\nshadows:\n"
        "  - name: next\n    target: models:/churn/3\n    mirror_percent: 10\n"
    )
    code, out, err = cli("deploy", "apply", str(spec))
    assert code == 0, err
    assert (
        "create" in out and "+ shadows[next].mirror_percent: 10" in out and "applied: churn revision 1" in out
    )
    code, out, _ = cli("deploy", "apply", str(spec), "--json")
    assert json.loads(out) == {
        "created": False,
        "changed": False,
        "diff": [],
        "deployment": None,
        "applied": False,
    }
    spec.write_text(spec.read_text().replace("mirror_percent: 10", "mirror_percent: 20"))
    code, out, _ = cli("deploy", "apply", str(spec), "--dry-run")
    assert "~ shadows[next].mirror_percent: 10 -> 20" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: churn\nprimary: models:/churn@champion\ncanary:\n  target: models:/churn/2\n  wieght: 5\n"
    )
    code, out, err = cli("deploy", "apply", str(bad))
    assert code != 0 and "canary.wieght" in err
    code, out, _ = cli("deploy", "show", "churn", "--json")
    view = json.loads(out)
    assert view["revision"] == 1 and view["spec"]["shadows"][0]["mirror_percent"] == 10


def test_api_and_remote_cli_with_authorisation(
    cli: Run, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = world.services.auth
    tokens = {}
    for user, role in (("mia", Role.MAINTAINER), ("vi", Role.VIEWER)):
        auth.create_user(user, role=role)
        tokens[user] = auth.create_token(user)[1]
    with serve_in_thread(Settings(home=world.home), auth_enabled=True) as url:
        monkeypatch.setenv("LOOPML_TRACKING_URI", url)
        monkeypatch.setenv("LOOPML_TRACKING_TOKEN", tokens["mia"])
        code, out, err = cli("deploy", "create", "churn", "--primary", "models:/churn@champion", "--json")
        assert code == 0, err
        assert json.loads(out)["created_by"] == "mia"
        code, out, err = cli("deploy", "create", "churn", "--primary", "models:/churn@champion")
        assert code != 0 and "already exists" in err
        code, _, err = cli("deploy", "canary", "churn", "models:/churn/2")
        assert code == 0, err
        monkeypatch.setenv("LOOPML_TRACKING_TOKEN", tokens["vi"])
        code, out, err = cli("deploy", "list", "--json")
        assert code == 0 and [d["name"] for d in json.loads(out)["deployments"]] == ["churn"]
        code, _, err = cli("deploy", "rollback", "churn")
        assert code != 0 and "deployments.manage" in err
        headers = {"Authorization": f"Bearer {tokens['mia']}"}
        with httpx.Client(base_url=url + "/api/v1", headers=headers, timeout=60) as api:
            bad = api.put("/deployments/churn/traffic", json={"weight": 150})
            assert bad.status_code == 422
            missing = api.post("/deployments", json={"document": {"name": "x", "primary": "models:/churn/9"}})
            assert missing.status_code == 400 and "`primary`" in missing.json()["error"]["message"]
            promoted = api.post("/deployments/churn/promote", json={"reason": "ship"})
            assert promoted.status_code == 200, promoted.text
            assert promoted.json()["rollout"]["phase"] == "promoted"
            history = api.get("/deployments/churn/history").json()["events"]
            assert [e["action"] for e in history] == ["create", "canary", "promote"]
            assert history[-1]["actor"] == "mia"
            audit = api.get("/deployments/nope")
            assert audit.status_code == 404 and "loopml deploy list" in audit.json()["error"]["message"]
    assert world.services.registry.resolve("models:/churn@champion").version == 2
