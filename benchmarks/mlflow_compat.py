"""The same MLflow client script against MLflow's own server and against ``loopml server``.

Usage::

    python benchmarks/mlflow_compat.py [--runs 10000] [--repeats 3] [--mlflow-python .venv-mlflow/bin/python]
        [--baseline-src /tmp/base/src]

Both servers run on 127.0.0.1 over SQLite (one worker each), started by this script; the client
is the official ``mlflow`` package in its own virtualenv (``make .venv-mlflow/.installed``).
Prints, per server, the median and range over ``--repeats`` of: ``log_batch`` metric points/s
(1000-point batches), ``log_metric`` calls/s, ``search_runs`` p50 latency over ``--runs`` runs
(a metric filter, 100 results, ordered by the metric), and artifact upload / download MiB/s
(one 64 MiB file).

``--baseline-src`` also serves ``loopml server`` from another source tree (say ``git archive
main`` unpacked), between the two, for an A/B within one run.

It also measures the client's own floor: the same logging loops against a null server that
answers ``{}`` at once. The client's time per call bounds how far any server can lead: the
"ceiling" column is that floor's rate over MLflow's.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

CLIENT = r"""
import json, os, statistics, sys, tempfile, time
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric
runs, repeats = int(sys.argv[1]), int(sys.argv[2])
client = MlflowClient()
exp = client.create_experiment(f"bench-{time.time_ns()}")
out = {"log_batch": [], "log_metric": [], "search_p50_ms": [], "upload": [], "download": []}
now = int(time.time() * 1000)
for _ in range(repeats):
    run = client.create_run(exp)
    rid = run.info.run_id
    t = time.perf_counter()
    for b in range(20):
        client.log_batch(rid, metrics=[Metric("loss", i * 0.1, now + i, b * 1000 + i) for i in range(1000)])
    out["log_batch"].append(20_000 / (time.perf_counter() - t))
    t = time.perf_counter()
    for i in range(300):
        client.log_metric(rid, "m", float(i), step=i)
    out["log_metric"].append(300 / (time.perf_counter() - t))
    data = os.urandom(64 << 20)
    src = os.path.join(tempfile.mkdtemp(), "blob.bin")
    open(src, "wb").write(data)
    t = time.perf_counter()
    client.log_artifact(rid, src)
    out["upload"].append(64 / (time.perf_counter() - t))
    dst = tempfile.mkdtemp()
    t = time.perf_counter()
    client.download_artifacts(rid, "blob.bin", dst)
    out["download"].append(64 / (time.perf_counter() - t))
    client.set_terminated(rid)
search_exp = client.create_experiment(f"search-{time.time_ns()}")
for i in range(runs):
    r = client.create_run(search_exp, start_time=now + i)
    client.log_batch(r.info.run_id, metrics=[Metric("acc", (i % 1000) / 1000, now, 0)])
for _ in range(repeats):
    times = []
    for _ in range(20):
        t = time.perf_counter()
        client.search_runs([search_exp], "metrics.acc > 0.5", max_results=100, order_by=["metrics.acc DESC"])
        times.append((time.perf_counter() - t) * 1000)
    out["search_p50_ms"].append(statistics.median(times))
print(json.dumps(out))
"""


FLOOR = r"""
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric
repeats = int(sys.argv[1])
client, rid, now = MlflowClient(), "0" * 32, int(time.time() * 1000)
out = {"log_batch": [], "log_metric": []}
for _ in range(repeats):
    t = time.perf_counter()
    for b in range(20):
        client.log_batch(rid, metrics=[Metric("loss", i * 0.1, now + i, b * 1000 + i) for i in range(1000)])
    out["log_batch"].append(20_000 / (time.perf_counter() - t))
    t = time.perf_counter()
    for i in range(300):
        client.log_metric(rid, "m", float(i), step=i)
    out["log_metric"].append(300 / (time.perf_counter() - t))
print(json.dumps(out))
"""


class _NullHandler(BaseHTTPRequestHandler):
    """Answers ``{}`` to every request, at once (keep-alive), after reading its body.

    The answer leaves in one buffered write with Nagle off, so no request waits on a delayed ACK.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def _null_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NullHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(cmd: list[str], url: str, env: dict[str, str], health: str) -> Iterator[str]:
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server {cmd[:3]} exited with {proc.returncode}")
            try:
                if httpx.get(url + health, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server {cmd[:3]} did not start")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _mlflow_server(python: Path, home: Path) -> tuple[list[str], str, dict[str, str], str]:
    port = _free_port()
    cmd = [str(python.parent / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += [
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "a"),
    ]
    cmd += ["--workers", "1"]
    return cmd, f"http://127.0.0.1:{port}", dict(os.environ), "/health"


def _loopml_server(home: Path, src: Path | None = None) -> tuple[list[str], str, dict[str, str], str]:
    port = _free_port()
    cmd = [sys.executable, "-m", "uvicorn", "loopml.server.app:app_from_environment", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "LOOPML_HOME": str(home), "LOOPML_SERVER_NO_AUTH": "1"}
    if src is not None:  # another checkout's server (the baseline of an A/B)
        env["PYTHONPATH"] = str(src)
    return cmd, f"http://127.0.0.1:{port}", env, "/readyz"


def _client(
    python: Path, url: str, runs: int, repeats: int, *, script: str = CLIENT
) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHONPATH", "LOOPML_"))}
    env |= {"MLFLOW_TRACKING_URI": url, "GIT_PYTHON_REFRESH": "quiet"}
    args = [str(runs), str(repeats)] if script is CLIENT else [str(repeats)]
    done = subprocess.run(
        [str(python), "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the MLflow client failed against {url}:\n{done.stderr[-3000:]}")
    result: dict[str, list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mlflow-python", type=Path, default=Path(".venv-mlflow/bin/python"))
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also serve loopml from this source tree (another checkout's src/), measured in the same run",
    )
    args = parser.parse_args()
    results = {}
    servers = [
        ("mlflow", lambda h: _mlflow_server(args.mlflow_python, h)),
        ("loopml", _loopml_server),
    ]
    if args.baseline_src is not None:
        servers.insert(1, ("baseline", lambda h: _loopml_server(h, args.baseline_src)))
    for name, make in servers:
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as home:
            cmd, url, env, health = make(Path(home))
            with _serving(cmd, url, env, health):
                results[name] = _client(args.mlflow_python, url, args.runs, args.repeats)
    with _null_server() as url:
        floor = _client(args.mlflow_python, url, args.runs, args.repeats, script=FLOOR)
    print(f"{'figure':<28}{'mlflow median (range)':>30}{'loopml median (range)':>30}{'ratio':>8}")
    for key, unit in (
        ("log_batch", "points/s"),
        ("log_metric", "calls/s"),
        ("search_p50_ms", "ms"),
        ("upload", "MiB/s"),
        ("download", "MiB/s"),
    ):
        shown = []
        for name in ("mlflow", "loopml"):
            values = results[name][key]
            shown.append(f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})")
        m, lo = statistics.median(results["mlflow"][key]), statistics.median(results["loopml"][key])
        ratio = m / lo if key == "search_p50_ms" else lo / m
        print(f"{key + ' ' + unit:<28}{shown[0]:>30}{shown[1]:>30}{ratio:>7.1f}x")
    if "baseline" in results:
        print(f"\n{'figure':<28}{'baseline loopml median (range)':>32}{'ratio vs mlflow':>18}")
        for key in ("log_batch", "log_metric", "search_p50_ms", "upload", "download"):
            values = results["baseline"][key]
            m, b = statistics.median(results["mlflow"][key]), statistics.median(values)
            ratio = m / b if key == "search_p50_ms" else b / m
            shown_base = f"{b:,.1f} ({min(values):,.1f}-{max(values):,.1f})"
            print(f"{key:<28}{shown_base:>32}{ratio:>17.1f}x")
    print(f"\n{'client floor (null server)':<28}{'median (range)':>30}{'ceiling vs mlflow':>20}")
    for key, unit in (("log_batch", "points/s"), ("log_metric", "calls/s")):
        values = floor[key]
        shown_floor = f"{statistics.median(values):,.1f} ({min(values):,.1f}-{max(values):,.1f})"
        ceiling = statistics.median(values) / statistics.median(results["mlflow"][key])
        print(f"{key + ' ' + unit:<28}{shown_floor:>30}{ceiling:>19.1f}x")


if __name__ == "__main__":
    main()
