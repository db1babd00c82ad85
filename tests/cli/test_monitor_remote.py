"""``loopml monitor run|status|windows|report`` with LOOPML_TRACKING_URI: through a real, secured server.

Reads go through the monitoring API; ``monitor run`` asks the server for its pass (maintainers only,
audited); options naming files of the caller's machine are refused with where to set them instead.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.deploy.policy import RolloutPolicy
from loopml.deploy.spec import DeploymentSpec
from loopml.errors import Conflict
from loopml.monitor.windows import MonitorConfig
from loopml.security.auth import AuthService, Role
from loopml.server._config import ServerConfig
from loopml.server._maintenance import monitor_now
from loopml.server.background import serve_in_thread
from loopml.services import Services
from loopml.store.sql import open_store
from tests.monitor.simulate import T0, log_hour
from tests.server._worlds import create_users
from tests.serving.deploy_world import make_world

from .conftest import Invoke

LATER = (T0 + dt.timedelta(days=1)).isoformat()


@dataclass
class Server:
    url: str
    home: Path
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A secured server whose deployment ``churn`` has three logged hours (x moves from the second on)
    and no window computed yet; it slices its passes by ``city``."""
    tmp = tmp_path_factory.mktemp("monitor-remote")
    for world in make_world(tmp):
        world.services.deployments.create(
            DeploymentSpec(name="churn", primary="models:/churn@champion"), RolloutPolicy(), actor="ann"
        )
        for h in range(3):
            log_hour(world.home / "predictions", h, n=200, shift=2.0 if h >= 1 else 0.0)
        tokens = create_users(
            AuthService(world.services.store), (("mo", Role.MAINTAINER), ("ed", Role.EDITOR))
        )
        settings = world.settings
    config = ServerConfig(monitor_slices=("city",))
    with serve_in_thread(settings, config=config, auth_enabled=True) as url:
        yield Server(url=url, home=settings.home, tokens=tokens)


@pytest.fixture
def as_user(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    monkeypatch.setenv("LOOPML_TRACKING_URI", server.url)
    monkeypatch.chdir(tmp_path)

    def login(user: str) -> None:
        monkeypatch.setenv("LOOPML_TRACKING_TOKEN", server.tokens[user])

    yield login
    assert not (tmp_path / ".loopml").exists()


def test_a_maintainer_runs_the_servers_pass_and_everyone_reads_it(
    invoke: Invoke, home: Path, server: Server, as_user: object, tmp_path: Path
) -> None:
    login = as_user
    assert callable(login)
    login("ed")
    refused = invoke("monitor", "run", "churn", "--now", LATER)
    assert refused.code == 2 and "deployments.manage" in refused.err, refused.err
    assert "No hour window" not in refused.out

    login("mo")
    ran = invoke("monitor", "run", "churn", "--now", LATER, "--json")
    assert ran.code == 0, ran.err
    done = json.loads(ran.out)
    assert done["targets"] == ["churn"]
    assert [w["start"][11:16] for w in done["computed"]] == ["00:00", "01:00", "02:00"]
    assert "slice.city=nice.drift.x" in done["computed"][1]["metrics"]  # the server's own slices
    assert "baseline-drift" in {a["rule"] for a in done["alerts"]["new"]}
    again = invoke("monitor", "run", "churn", "--now", LATER)
    assert again.code == 0 and "No hour window was due for churn" in again.out

    login("ed")  # reads need only `read`
    windows = json.loads(invoke("monitor", "windows", "churn", "--json").out)["items"]
    assert [w["start"] for w in windows] == [w["start"] for w in done["computed"]]
    since = invoke("monitor", "windows", "churn", "--since", (T0 + dt.timedelta(hours=1)).isoformat())
    assert since.code == 0 and "2026-03-01 01:00" in since.out and "2026-03-01 00:00" not in since.out
    status = json.loads(invoke("monitor", "status", "churn", "--json").out)
    assert status["windows"] == 3 and status["latest"]["start"] == windows[-1]["start"]
    shown = invoke("monitor", "status", "churn")
    assert shown.code == 0 and "churn (model churn): 3 window(s) hour" in shown.out
    report = invoke("monitor", "report", "churn", "-o", str(tmp_path / "r.html"))
    assert report.code == 0 and "3 hour windows" in report.out
    assert "drift" in (tmp_path / "r.html").read_text()
    assert not home.exists()  # nothing local was made

    with open_store(Settings(home=server.home).resolved_store_url()) as store:
        events = store.identity.list_audit_events(action="monitoring.run")
    assert sorted((e.actor or "", e.result, e.status_code) for e in events) == [
        ("ed", "forbidden", 403),
        ("mo", "ok", 200),
        ("mo", "ok", 200),
    ]


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (("monitor", "run", "churn", "--log-dir", "logs"), "--log-dir"),
        (("monitor", "run", "churn", "--retrain-policies", "policies"), "--retrain-policies"),
        (("monitor", "run", "--webhook", "http://127.0.0.1:9/x"), "--webhook"),
        (("monitor", "watch", "churn", "--rules", "rules", "--times", "1"), "--rules"),
        (("monitor", "windows", "churn", "--model"), "--model"),
        (("monitor", "status", "churn", "--log-dir", "logs"), "--log-dir"),
    ],
)
def test_options_naming_this_machine_are_refused_with_where_to_set_them(
    invoke: Invoke, as_user: object, argv: tuple[str, ...], option: str
) -> None:
    assert callable(as_user)
    as_user("mo")
    result = invoke(*argv)
    assert result.code == 2
    assert option in result.err and "server's host" in result.err and "LOOPML_TRACKING_URI" in result.err


def test_alerts_are_read_through_the_server(invoke: Invoke, home: Path, as_user: object) -> None:
    assert callable(as_user)
    as_user("mo")
    assert invoke("monitor", "run", "churn", "--now", LATER).code == 0  # windows and alerts (once)
    as_user("ed")  # reading alerts needs only `read`
    named = invoke("monitor", "alerts", "churn", "--json")
    assert named.code == 0, named.err
    items = json.loads(named.out)["items"]
    assert "baseline-drift" in {a["rule"] for a in items}
    assert all(a["deployment"] == "churn" and a["evidence"] for a in items)
    assert [a["opened_at"] for a in items] == sorted((a["opened_at"] for a in items), reverse=True)
    every = json.loads(invoke("monitor", "alerts", "--json").out)["items"]  # every visible deployment
    assert [a["alert_id"] for a in every] == [a["alert_id"] for a in items]
    still_open = json.loads(invoke("monitor", "alerts", "churn", "--open", "--json").out)["items"]
    assert {a["alert_id"] for a in still_open} <= {a["alert_id"] for a in items}
    assert all(a["status"] == "open" for a in still_open)
    one = json.loads(invoke("monitor", "alerts", "churn", "--limit", "1", "--json").out)["items"]
    assert [a["alert_id"] for a in one] == [items[0]["alert_id"]]
    table = invoke("monitor", "alerts", "churn")
    assert table.code == 0 and "baseline-drift" in table.out
    assert not home.exists()


def test_retraining_is_the_servers_step_and_says_so(invoke: Invoke, as_user: object, tmp_path: Path) -> None:
    assert callable(as_user)
    as_user("mo")
    (tmp_path / "policy.yaml").write_text("triggers: {}\n")
    result = invoke("monitor", "retrain", "churn", "--policy", str(tmp_path / "policy.yaml"))
    assert result.code == 2
    assert "--retrain-policies" in result.err and "loopml monitor run" in result.err
    assert "Traceback" not in result.err


def test_an_unknown_deployment_is_named(invoke: Invoke, as_user: object) -> None:
    assert callable(as_user)
    as_user("mo")
    for argv in (("monitor", "status", "ghost"), ("monitor", "run", "ghost")):
        result = invoke(*argv)
        assert result.code == 2 and "ghost" in result.err


def test_one_pass_at_a_time(tmp_path: Path) -> None:
    """A pass asked for while another runs (the background one) is refused, not run beside it."""
    lock = threading.Lock()
    with (
        Services(Settings(home=tmp_path / "home")) as services,
        lock,
        pytest.raises(Conflict, match="already running"),
    ):
        monitor_now(services, MonitorConfig(), lock=lock)
    with Services(Settings(home=tmp_path / "home")) as services:
        done = monitor_now(services, MonitorConfig(), lock=lock)
    assert done.done.computed == () and done.retrained is None and not lock.locked()
