"""``loopml serve`` end to end: a real process, a registered model, the loopback rule."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loopml.config import Settings
from loopml.registry import package_model
from loopml.services import Services
from tests.serving.conftest import Models

_MAIN = "from loopml.cli import main; main()"


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_loopml_serve_a_registered_model(models: Models, tmp_path: Path, workers: int) -> None:
    home = tmp_path / "home"
    services = Services(Settings(home=home))
    registry = services.registry
    from loopml.registry import ColumnSpec, ModelSignature

    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    registry.register(package_model(models.numeric, tmp_path / "pkg", signature=signature), "cli-model")
    services.close()
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _MAIN,
            "serve",
            "models:/cli-model/1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            *(["--per-minute", "3"] if workers == 1 else []),
        ],
        env={k: v for k, v in _env(home).items() if k != "LOOPML_REDIS_URL"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "loopml serve did not become ready"
            time.sleep(0.2)
        while workers > 1:  # ready answers once one worker is; wait for the other to write its metrics
            exposition = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            if sum(m.startswith("process_resident_memory_bytes") for m in exposition.splitlines()) == workers:
                break
            assert time.monotonic() < deadline, "the second worker never started"
            time.sleep(0.2)
        x = models.numeric_x[:3]
        r = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"instances": x.tolist()})
        assert r.json() == {"predictions": models.numeric.predict(x).tolist()}
        answered = 1
        if workers > 1:  # new connections, spread over the workers by the kernel
            for _ in range(5):
                httpx.post(f"http://127.0.0.1:{port}/invocations", json={"instances": x.tolist()})
            answered += 5
        line = (
            'loopml_serving_requests_total{model="cli-model",protocol="mlflow",status="200",version="1"}'
            f" {answered:.1f}"
        )
        for _ in range(8 if workers > 1 else 1):  # every worker answers the sum over all of them
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert line in metrics
            memory = [m for m in metrics.splitlines() if m.startswith("process_resident_memory_bytes")]
            assert len(memory) == workers, memory  # one per worker (labelled by pid when several)
        if workers == 1:  # --per-minute 3: the fourth request within the minute is refused
            codes = [
                httpx.post(f"http://127.0.0.1:{port}/invocations", json={"instances": x.tolist()})
                for _ in range(3)
            ]
            assert [c.status_code for c in codes] == [200, 200, 429]
            assert "3 per minute" in codes[-1].json()["error"] and "Retry-After" in codes[-1].headers
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_loopml_serve_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _MAIN, "serve", "models:/x/1", "--host", "0.0.0.0"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Refusing to serve models on '0.0.0.0' without authentication" in done.stderr
    nothing = subprocess.run(
        [sys.executable, "-c", _MAIN, "serve"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert nothing.returncode == 2 and "Nothing to serve" in nothing.stderr
    policy = subprocess.run(
        [sys.executable, "-c", _MAIN, "serve", "models:/x/1", "--atypical", "drop"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert policy.returncode == 2 and "--atypical.policy must be log, flag or reject" in policy.stderr
