"""Two ``loopml serve`` replicas (processes) on one PostgreSQL store follow one deployment together."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from loopml.config import Settings
from loopml.deploy.routing import choose_route
from loopml.deploy.spec import ABArm, ABSplit, DeploymentSpec
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


def _start(home: Path, store_url: str, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LOOPML_HOME": str(home),
        "LOOPML_STORE_URL": store_url,
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
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
