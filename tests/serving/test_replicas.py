"""Two ``loopml serve`` replicas on one PostgreSQL store and one Redis: quotas hold across them, and a
replica killed with SIGKILL mid-load loses no prediction-log record older than the documented
flush window (``flush_interval_s``, 1 s by default)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis

from loopml.config import Settings
from loopml.monitor.predictions import read_prediction_log
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from tests.serving.conftest import Models
from tests.serving.test_cli import _free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REDIS_URL = "redis://127.0.0.1:6379/0"
_MAIN = "from loopml.cli import main; main()"
#: The prediction log's flush interval: records younger than this at a SIGKILL may be lost.
FLUSH_S = 1.0


@contextmanager
def _replica(
    env: dict[str, str], home: Path, uri: str, *extra: str
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, "serve", uri, "--port", str(port), *extra],
        env={**env, "LOOPML_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"{url}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "loopml serve did not become ready"
            time.sleep(0.2)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def shared(
    models: Models, tmp_path: Path, postgres_database_url: str
) -> Iterator[tuple[dict[str, str], str]]:
    """The environment of replicas sharing one store, artifact root and Redis; a registered model."""
    name = f"replica-{uuid.uuid4().hex[:8]}"  # the session's database and Redis are shared
    settings = Settings(
        home=tmp_path / "admin", store_url=postgres_database_url, artifacts_url=str(tmp_path / "artifacts")
    )
    services = Services(settings)
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    services.registry.register(package_model(models.numeric, tmp_path / "pkg", signature=signature), name)
    services.close()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "LOOPML_STORE_URL": postgres_database_url,
        "LOOPML_ARTIFACTS_URL": str(tmp_path / "artifacts"),
        "LOOPML_REDIS_URL": REDIS_URL,
    }
    yield env, name
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{name}*"):
        client.delete(key)


def _body(models: Models, request_id: str) -> dict[str, object]:
    x = models.numeric_x[:2]
    return {"id": request_id, "inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP64",
                                          "data": x.reshape(-1).tolist()}]}  # fmt: skip


def test_a_quota_holds_across_two_replicas(
    models: Models, shared: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, name = shared
    uri = f"models:/{name}/1"
    with (
        _replica(env, tmp_path / "a", uri, "--per-minute", "5") as (a, _),
        _replica(env, tmp_path / "b", uri, "--per-minute", "5") as (b, _),
    ):
        codes = [
            httpx.post(f"{url}/v2/models/{name}/infer", json=_body(models, f"q{i}")).status_code
            for i, url in enumerate([a, b, a, b, a, b, a])
        ]
    assert codes == [200] * 5 + [429, 429]  # one budget of 5 per minute, wherever the request lands


def test_sigkill_mid_load_loses_nothing_older_than_the_flush_window(
    models: Models, shared: tuple[dict[str, str], str], tmp_path: Path
) -> None:
    env, name = shared
    uri = f"models:/{name}/1"
    answered: list[tuple[str, float]] = []  # (request id, when the answer came)
    stop = threading.Event()
    with (
        _replica(env, tmp_path / "a", uri) as (a, proc_a),
        _replica(env, tmp_path / "b", uri) as (b, _),
    ):

        def load() -> None:
            with httpx.Client() as client:
                i = 0
                while not stop.is_set():
                    rid = f"k{i}"
                    try:
                        r = client.post(f"{a}/v2/models/{name}/infer", json=_body(models, rid), timeout=5)
                    except httpx.TransportError:
                        return  # the replica is gone
                    if r.status_code == 200:
                        answered.append((rid, time.monotonic()))
                    i += 1

        thread = threading.Thread(target=load)
        thread.start()
        time.sleep(4.0)
        killed_at = time.monotonic()
        proc_a.send_signal(signal.SIGKILL)
        proc_a.wait(timeout=30)
        stop.set()
        thread.join(timeout=30)
        # The other replica keeps serving.
        assert httpx.post(f"{b}/v2/models/{name}/infer", json=_body(models, "after")).status_code == 200
    logged = set(
        read_prediction_log(tmp_path / "a" / "predictions", model=name).column("request_id").to_pylist()
    )
    old_enough = [rid for rid, at in answered if at < killed_at - FLUSH_S - 0.5]
    assert len(old_enough) > 20, "the load did not run long enough to test anything"
    missing = [rid for rid in old_enough if rid not in logged]
    assert not missing, f"{len(missing)} of {len(old_enough)} records older than the flush window were lost"
