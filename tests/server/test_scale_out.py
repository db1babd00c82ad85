"""Scale-out: two server processes on ONE PostgreSQL database and ONE artifact root behave as one.

Four client processes log through both servers at once (each alternates between them); every
metric point, param and artifact must arrive exactly once, readable through either server.
"""

from __future__ import annotations

import json
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

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CLIENTS = 4
RUNS_PER_CLIENT = 3
POINTS_PER_RUN = 600

CLIENT_SCRIPT = r"""
import json, sys
from loopml.store import Metric
from loopml.store.remote import RemoteBlobs, RemoteStore

urls, experiment, index, runs, points = json.loads(sys.argv[1])
stores = [RemoteStore(u) for u in urls]
made = []
for r in range(runs):
    store = stores[(index + r) % 2]
    exp = store.experiments.get_or_create(experiment)
    run = store.runs.create(exp.experiment_id, name=f"c{index}-r{r}")
    for start in range(0, points, 100):
        other = stores[(index + r + start // 100) % 2]  # interleave the two servers within a run
        steps = range(start, start + 100)
        batch = [Metric(key="loss", value=float(i), step=i, timestamp=1 + i) for i in steps]
        other.runs.log_batch(run.run_id, metrics=batch, params={f"p{start}": str(index)})
    ref = RemoteBlobs(stores[r % 2].session).put_bytes(f"client {index} run {r}".encode() * 1000)
    stores[(r + 1) % 2].artifacts.create(type="File", name="out.txt", uri=ref.uri, sha256=ref.sha256,
                                         size=ref.size, run_id=run.run_id)
    made.append(run.run_id)
print(json.dumps(made))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers(postgres_database_url: str, tmp_path: Path) -> Iterator[list[str]]:
    env = {
        **os.environ,
        "LOOPML_HOME": str(tmp_path / "home"),
        "LOOPML_STORE_URL": postgres_database_url,
        "LOOPML_ARTIFACTS_URL": str(tmp_path / "artifacts"),
        "LOOPML_SERVER_NO_AUTH": "1",
    }
    procs, urls = [], []
    try:
        for _ in range(2):
            port = _free_port()
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                "loopml.server.app:app_from_environment",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ]
            procs.append(subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for url, proc in zip(urls, procs, strict=True):
            while True:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"server {url} did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


def test_four_clients_through_two_servers_lose_nothing(two_servers: list[str]) -> None:
    experiment = f"scale-{uuid.uuid4().hex[:8]}"
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLIENT_SCRIPT,
                json.dumps([two_servers, experiment, i, RUNS_PER_CLIENT, POINTS_PER_RUN]),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(CLIENTS)
    ]
    run_ids: list[str] = []
    for proc in clients:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        run_ids += json.loads(out)
    assert len(set(run_ids)) == CLIENTS * RUNS_PER_CLIENT
    for url in two_servers:  # both servers see the same, complete data
        api = httpx.Client(base_url=url + "/api/v1", timeout=60)
        exp = api.get(f"/experiments/by-name/{experiment}").json()
        page = api.post(
            "/runs/search", json={"experiment_ids": [exp["experiment_id"]], "max_results": 100}
        ).json()
        assert sorted(r["run_id"] for r in page["runs"]) == sorted(run_ids)
        for run in page["runs"]:
            history = api.get(f"/runs/{run['run_id']}/metric-history", params={"key": "loss"}).json()[
                "metrics"
            ]
            assert [p["step"] for p in history] == list(range(POINTS_PER_RUN))
            assert len(run["params"]) == POINTS_PER_RUN // 100
            (art,) = api.get("/artifacts", params={"run_id": run["run_id"]}).json()["artifacts"]
            assert api.get(f"/blobs/{art['sha256']}").content.startswith(b"client ")
        api.close()
