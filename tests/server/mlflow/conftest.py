"""The official MLflow client, in its own virtualenv, against a live ``loopml server``.

MLflow pins many libraries, so it lives in ``.venv-mlflow`` (built by ``make .venv-mlflow`` from
``requirements.txt`` beside this file, or here on first use), never in loopml's own environment.
``LOOPML_MLFLOW_PYTHON`` points at another interpreter that has ``mlflow`` installed.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from loopml.config import Settings
from loopml.server.background import serve_in_thread
from tests.conftest import fresh_postgres_database

REPO = Path(__file__).resolve().parents[3]
REQUIREMENTS = Path(__file__).with_name("requirements.txt")
MlflowRunner = Callable[..., Any]


def _build_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    with open(REPO / ".venv-mlflow.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder when pytest runs in several processes
        if not (venv / ".installed").exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    return python


def mlflow_interpreter() -> Path:
    """An interpreter with the pinned ``mlflow`` client (``LOOPML_MLFLOW_PYTHON`` or ``.venv-mlflow``)."""
    chosen = os.environ.get("LOOPML_MLFLOW_PYTHON")
    return Path(chosen) if chosen else _build_venv(REPO / ".venv-mlflow")


@pytest.fixture(scope="session")
def mlflow_python() -> Path:
    """An interpreter with the pinned ``mlflow`` client."""
    return mlflow_interpreter()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def mlflow_server_running(python: Path, home: Path) -> Iterator[str]:
    """A real ``mlflow server`` on 127.0.0.1 (SQLite store, proxied artifacts under ``home``)."""
    home.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    cmd = [
        str(python.parent / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "mlflow server died"
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "mlflow server did not start"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_mlflow(python: Path, script: str, *, uri: str, env: dict[str, str] | None = None) -> Any:
    """Run ``script`` with the MLflow client against ``uri``; its last stdout line, parsed as JSON."""
    return run_mlflow_logged(python, script, uri=uri, env=env)[0]


def run_mlflow_logged(
    python: Path, script: str, *, uri: str, env: dict[str, str] | None = None
) -> tuple[Any, str]:
    """:func:`run_mlflow`, with the client's stderr (where MLflow logs its warnings)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH", "LOOPML_"))}
    full_env = {**clean, "MLFLOW_TRACKING_URI": uri, "GIT_PYTHON_REFRESH": "quiet", **(env or {})}
    done = subprocess.run(
        [str(python), "-c", script], env=full_env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise AssertionError(f"the MLflow client failed:\n{done.stdout[-4000:]}\n{done.stderr[-6000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


@pytest.fixture(
    scope="module",
    params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)],
)
def loopml_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Settings]]:
    """A live loopml server (no auth, loopback) over SQLite or PostgreSQL, and its settings."""
    home = tmp_path_factory.mktemp("mlflow-home")
    if request.param == "sqlite":
        settings = Settings(home=home)
        with serve_in_thread(settings) as url:
            yield url, settings
        return
    # a database of the module's own: the session's is shared, and modules reuse names ("churn")
    with fresh_postgres_database() as store_url:
        settings = Settings(home=home, store_url=store_url)
        with serve_in_thread(settings) as url:
            yield url, settings


@pytest.fixture(scope="module")
def loopml_url(loopml_server: tuple[str, Settings]) -> str:
    """The URL of :func:`loopml_server`."""
    return loopml_server[0]


@pytest.fixture
def mlflow(mlflow_python: Path, loopml_url: str) -> MlflowRunner:
    """``mlflow(script, env=...)``: run an MLflow client script against the live loopml server."""

    def run(script: str, *, env: dict[str, str] | None = None) -> Any:
        return run_mlflow(mlflow_python, script, uri=loopml_url, env=env)

    return run
