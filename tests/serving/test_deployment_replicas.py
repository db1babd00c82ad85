"""Two ``loopml serve`` replicas (processes) on one PostgreSQL store follow one deployment together,
and judge its canary on the traffic of both (shared through Redis, or through the store)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from loopml.config import Settings
from loopml.deploy.gates import Analysis
from loopml.deploy.policy import GateThresholds, RolloutPolicy
from loopml.deploy.rollout import Phase
from loopml.deploy.routing import choose_route
from loopml.deploy.service import DeploymentService
from loopml.deploy.shared_analysis import window_of
from loopml.deploy.spec import ABArm, ABSplit, Canary, DeploymentSpec
from loopml.store.sql import open_store
from tests.conftest import PG_ADMIN_URL
from tests.serving.deploy_world import make_world, row

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test, dropped afterwards."""
    name = f"loopml_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(
    home: Path, store_url: str, config: Path, port: int, redis_url: str | None = None
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOOPML_HOME": str(home),
        "LOOPML_STORE_URL": store_url,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    env.pop("LOOPML_REDIS_URL", None)
    if redis_url is not None:
        env["LOOPML_REDIS_URL"] = redis_url
    command = ["serve", "--config", str(config), "--port", str(port), "--no-prediction-log"]
    return subprocess.Popen(
        [sys.executable, "-c", "from loopml.cli import main; main()", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _ready(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 300
    while True:
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "loopml serve did not become ready"
        time.sleep(0.2)


def _version(port: int, user: str, seed: int = 0) -> str:
    r = httpx.post(f"http://127.0.0.1:{port}/v2/models/churn/infer", json=row(seed), headers={"user": user})
    assert r.status_code == 200, r.text
    return str(r.json()["model_version"])


def test_two_replicas_follow_one_deployment_and_agree_on_sticky_assignments(
    tmp_path: Path, database_url: str
) -> None:
    home = tmp_path / "home"
    for world in make_world(tmp_path, Settings(home=home, store_url=database_url)):
        svc = world.services.deployments
        arms = (
            ABArm(name="a", target="models:/churn/1", weight=50),
            ABArm(name="b", target="models:/churn/2", weight=50),
        )
        spec = DeploymentSpec(name="churn", primary="models:/churn/1", ab=ABSplit(key="user", arms=arms))
        svc.create(spec, actor="ann")
        config = tmp_path / "serve.yaml"
        config.write_text("deployments: [churn]\npoll_s: 0.2\n", encoding="utf-8")
        ports = [_free_port(), _free_port()]
        procs = [_start(home, database_url, config, p) for p in ports]
        try:
            for proc, port in zip(procs, ports, strict=True):
                _ready(proc, port)
            users = [f"user-{i}" for i in range(30)]
            first = [_version(ports[0], u, i) for i, u in enumerate(users)]
            second = [_version(ports[1], u, i + 100) for i, u in enumerate(users)]
            assert first == second  # the same user lands on the same arm on either replica
            expected = ["1" if choose_route(spec, key=u, request_id="-").route == "a" else "2" for u in users]
            assert first == expected and set(first) == {"1", "2"}
            # a change in the store reaches both replicas, no restart
            svc.apply({"name": "churn", "primary": "models:/churn/2"}, actor="ann")
            deadline = time.monotonic() + 30
            while not all(_version(p, u) == "2" for p in ports for u in users[:10]):
                assert time.monotonic() < deadline, "the replicas did not follow the change"
                time.sleep(0.1)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)


REDIS_URL = "redis://127.0.0.1:6379/5"
#: Requests of each route on each replica: a replica alone never has the gates' minimum sample.
PER_ROUTE_AND_REPLICA = 20


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database for the replicas; their keys are deleted afterwards."""
    yield REDIS_URL
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter("loopml:deployments:*"):
        client.delete(key)


def _request_ids(canary: str) -> list[list[tuple[str, str]]]:
    """Per replica, request ids and the route each takes: as many primary as canary ones."""
    spec = DeploymentSpec(
        name="churn", primary="models:/churn@champion", canary=Canary(target=canary, weight=50)
    )
    by_route: dict[str, list[str]] = {"primary": [], "canary": []}
    i = 0
    while min(len(v) for v in by_route.values()) < 2 * PER_ROUTE_AND_REPLICA:
        rid = f"req-{i}"
        by_route[choose_route(spec, key=None, request_id=rid).route].append(rid)
        i += 1
    return [
        [(rid, route) for route in by_route for rid in by_route[route][r::2][:PER_ROUTE_AND_REPLICA]]
        for r in range(2)
    ]


def _canary_world(
    tmp_path: Path, database_url: str, canary: str, *, hold_s: float
) -> Iterator[DeploymentService]:
    """``churn`` with ``canary`` at 50 %: its gates judge only both replicas' traffic together."""
    total = 2 * PER_ROUTE_AND_REPLICA
    gates = GateThresholds(
        min_samples=total,  # per route: more than one replica answers
        max_error_rate_increase=0.2,
        max_p99_increase_ms=5_000,
        max_prediction_drift=1.0,
        max_atypical_increase=0.5,
    )
    policy = RolloutPolicy(
        steps=(50, 100),
        hold_s=hold_s,
        min_requests=total,
        interval_s=0.5,
        max_undecided_intervals=100_000,
        gates=gates,
    )
    for world in make_world(tmp_path, Settings(home=tmp_path / "home", store_url=database_url)):
        svc = world.services.deployments
        svc.create(DeploymentSpec(name="churn", primary="models:/churn@champion"), policy, actor="ann")
        svc.start_canary("churn", canary, actor="ann")
        yield svc


def _serve_two(
    tmp_path: Path, database_url: str, redis_url: str | None
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    config = tmp_path / "serve.yaml"
    config.write_text("deployments: [churn]\npoll_s: 0.2\n", encoding="utf-8")
    ports = [_free_port(), _free_port()]
    procs = [_start(tmp_path / "home", database_url, config, p, redis_url) for p in ports]
    for proc, port in zip(procs, ports, strict=True):
        _ready(proc, port)
    return procs, ports


def _send(
    ports: list[int], ids: list[list[tuple[str, str]]], canary_version: str, *, canary_fails: bool
) -> None:
    """Each replica answers its share; the route each request took is checked on its answer."""
    for port, share in zip(ports, ids, strict=True):
        for n, (rid, route) in enumerate(share):
            r = httpx.post(f"http://127.0.0.1:{port}/v2/models/churn/infer", json={**row(n), "id": rid})
            if route == "canary" and canary_fails:
                assert r.status_code == 400, r.text
            else:
                assert r.status_code == 200, r.text
                assert r.json()["model_version"] == ("1" if route == "primary" else canary_version)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        proc.wait(timeout=30)


def _ended(svc: DeploymentService, phase: Phase) -> bool:
    rollout = svc.get("churn").rollout
    return rollout is not None and rollout.phase is phase


def _wait_for(svc: DeploymentService, phase: Phase, timeout: float = 120.0) -> None:
    """Until the rollout ends in ``phase`` (a timeout fails the test)."""
    deadline = time.monotonic() + timeout
    while (rollout := svc.get("churn").rollout) is None or rollout.phase is not phase:
        assert time.monotonic() < deadline, f"the rollout did not end {phase.value} in time: {rollout}"
        time.sleep(0.2)


def _sample_sizes(analysis: Analysis | None) -> dict[str, tuple[int, int]]:
    assert analysis is not None
    return {g.gate: (g.primary_n, g.canary_n) for g in analysis.gates}


def test_a_failing_canary_judged_on_both_replicas_is_rolled_back_once(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    for svc in _canary_world(tmp_path, database_url, "models:/churn/3", hold_s=3_600):  # v3 always fails
        procs, ports = _serve_two(tmp_path, database_url, redis_url)
        try:
            _send(ports, _request_ids("models:/churn/3"), "3", canary_fails=True)
            _wait_for(svc, Phase.ROLLED_BACK)
            time.sleep(2.0)  # several more polls of both replicas: nothing more is decided
            deployment = svc.get("churn")
        finally:
            _stop(procs)
        total = 2 * PER_ROUTE_AND_REPLICA
        assert _sample_sizes(deployment.last_analysis)["error_rate"] == (total, total)
        assert deployment.spec.canary is not None and deployment.spec.canary.weight == 0
        history = svc.history("churn")
        rollbacks = [e for e in history if e.action == "analysis-rollback"]
        assert len(rollbacks) == 1 and rollbacks[0].actor == "serving"
        assert "error_rate failed" in (rollbacks[0].reason or "")
        assert len([e for e in history if e.action == "alert"]) == 1


def test_a_healthy_canary_judged_on_both_replicas_is_promoted_once(tmp_path: Path, database_url: str) -> None:
    for svc in _canary_world(tmp_path, database_url, "models:/churn/2", hold_s=0):
        procs, ports = _serve_two(tmp_path, database_url, None)  # shared through the store
        try:
            _send(ports, _request_ids("models:/churn/2"), "2", canary_fails=False)
            _wait_for(svc, Phase.PROMOTED)
            time.sleep(2.0)
            deployment = svc.get("churn")
        finally:
            _stop(procs)
        total = 2 * PER_ROUTE_AND_REPLICA
        sizes = _sample_sizes(deployment.last_analysis)
        assert sizes["error_rate"] == (total, total) and sizes["prediction_shift"] == (total, total)
        assert [e.action for e in svc.history("churn")].count("promote") == 1
        assert not any(e.action == "analysis-rollback" for e in svc.history("churn"))


def _published_requests(store: Any, window: str) -> int:
    return sum(
        r["requests"] for doc in store.observations.collect("churn", window) for r in doc["routes"].values()
    )


def test_a_replica_killed_after_answering_still_counts_in_the_analysis(
    tmp_path: Path, database_url: str
) -> None:
    for svc in _canary_world(tmp_path, database_url, "models:/churn/3", hold_s=3_600):
        window = window_of(svc.get("churn"))
        assert window is not None
        store = open_store(database_url)
        procs, ports = _serve_two(tmp_path, database_url, None)
        try:
            ids = _request_ids("models:/churn/3")
            _send(ports[:1], ids[:1], "3", canary_fails=True)
            deadline = time.monotonic() + 60
            while _published_requests(store, window) < 2 * PER_ROUTE_AND_REPLICA:
                assert time.monotonic() < deadline, "the first replica did not publish its observations"
                time.sleep(0.2)
            procs[0].send_signal(signal.SIGKILL)
            procs[0].wait(timeout=30)
            assert not _ended(svc, Phase.ROLLED_BACK)  # half the traffic: not enough to judge
            _send(ports[1:], ids[1:], "3", canary_fails=True)
            _wait_for(svc, Phase.ROLLED_BACK)
        finally:
            _stop(procs)
            store.close()
        total = 2 * PER_ROUTE_AND_REPLICA
        assert _sample_sizes(svc.get("churn").last_analysis)["error_rate"] == (total, total)
        assert [e.action for e in svc.history("churn")].count("analysis-rollback") == 1
