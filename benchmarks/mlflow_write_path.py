"""What one MLflow ``log-metric`` costs the platform server, without the MLflow client around it.

Usage::

    python benchmarks/mlflow_write_path.py [--calls 1000] [--repeats 3] [--baseline-src /tmp/base/src]
    python benchmarks/mlflow_write_path.py --profile [--calls 1000]

The first form serves ``loopml server`` (uvicorn, SQLite, no auth, one worker, as
``benchmarks/mlflow_compat.py`` does) and posts ``/api/2.0/mlflow/runs/log-metric`` over one
keep-alive connection (``http.client``: a few tens of microseconds per call, so the figure is the
server's); with ``--baseline-src`` the same is measured with that source tree (another checkout)
on ``PYTHONPATH``, alternating baseline and this tree per repetition. Prints calls/s and the p50
latency, median (range) over the repetitions.

``--profile`` serves the app in this process instead and reports where a call's time goes: the
event loop's own work and the worker threads' work (cProfile, each on its own), and how long a
hop into a worker thread waits before its function starts.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

SRC = Path(__file__).resolve().parents[1] / "src"
API = "/api/2.0/mlflow"


def _post(conn: http.client.HTTPConnection, path: str, body: dict[str, Any]) -> dict[str, Any]:
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"{path} answered {response.status}: {data[:300]!r}")
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def _log_metrics(url: str, calls: int) -> tuple[float, float]:
    """``calls`` log-metric requests on one connection: (calls/s, p50 ms)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port))
    experiment = _post(conn, f"{API}/experiments/create", {"name": f"write-path-{time.time_ns()}"})
    run = _post(conn, f"{API}/runs/create", {"experiment_id": experiment["experiment_id"]})
    run_id = run["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    for i in range(20):  # warm-up: caches, compiled statements, connections
        _post(conn, f"{API}/runs/log-metric", {"run_id": run_id, "key": "w", "value": i, "timestamp": now})
    times = []
    started = time.perf_counter()
    for i in range(calls):
        t = time.perf_counter()
        body = {"run_id": run_id, "key": "m", "value": float(i), "timestamp": now + i, "step": i}
        _post(conn, f"{API}/runs/log-metric", body)
        times.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    conn.close()
    return calls / elapsed, statistics.median(times) * 1000


@contextmanager
def _served(src: Path) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="write-path-") as home:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        cmd = [sys.executable, "-m", "uvicorn", "loopml.server.app:app_from_environment", "--factory"]
        cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
        env = {**os.environ, "LOOPML_HOME": home, "LOOPML_SERVER_NO_AUTH": "1", "PYTHONPATH": str(src)}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"the server ({src}) exited with {proc.returncode}")
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"the server ({src}) did not start")
                time.sleep(0.3)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _shown(values: list[float]) -> str:
    return f"{statistics.median(values):,.2f} ({min(values):,.2f}-{max(values):,.2f})"


def compare(calls: int, repeats: int, baseline: Path | None) -> None:
    trees = {"this tree": SRC} | ({"baseline": baseline} if baseline is not None else {})
    rates: dict[str, list[float]] = {name: [] for name in trees}
    p50s: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(repeats):
        for name, src in reversed(trees.items()):  # the baseline first in each repetition
            with _served(src) as url:
                rate, p50 = _log_metrics(url, calls)
            rates[name].append(rate)
            p50s[name].append(p50)
    print(f"{'tree':<12}{'log-metric calls/s':>32}{'p50 ms':>30}")
    for name in trees:
        print(f"{name:<12}{_shown(rates[name]):>32}{_shown(p50s[name]):>30}")


def profile(calls: int) -> None:
    """Serve the app in this process and profile the loop thread and the worker threads apart."""
    import anyio.to_thread

    from loopml.config import Settings
    from loopml.server.app import create_app
    from loopml.web.background import serve_app_in_thread

    workers = cProfile.Profile()
    loop = cProfile.Profile()
    hops: list[float] = []
    inside: list[float] = []
    original = anyio.to_thread.run_sync

    async def timed_run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        asked = time.perf_counter_ns()
        spent = [0]

        def wrapped(*a: Any) -> Any:
            hops.append((time.perf_counter_ns() - asked) / 1e3)
            t = time.perf_counter_ns()
            workers.enable()
            try:
                return func(*a)
            finally:
                workers.disable()
                spent[0] = time.perf_counter_ns() - t

        back = await original(wrapped, *args, **kwargs)
        inside.append(spent[0] / 1e3)
        return back

    anyio.to_thread.run_sync = timed_run_sync  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="write-path-") as home:
        app = create_app(Settings(home=Path(home)), auth_enabled=False)

        async def profiled(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                loop.enable()
                try:
                    await app(scope, receive, send)
                finally:
                    loop.disable()
            else:
                await app(scope, receive, send)

        with serve_app_in_thread(profiled, name="profiled") as url:
            _log_metrics(url, 50)
            for p in (workers, loop):
                p.clear()
            hops.clear()
            inside.clear()
            rate, p50 = _log_metrics(url, calls)
    print(f"{rate:,.1f} calls/s, p50 {p50:.3f} ms (profiled), {len(hops) / calls:.2f} thread hops a call")
    print(
        f"wait before a worker starts: p50 {statistics.median(hops):.0f} µs; work inside: "
        f"p50 {statistics.median(inside):.0f} µs"
    )
    for name, p in (("worker threads", workers), ("event loop (includes awaits)", loop)):
        print(f"\n=== {name} ===")
        stats = pstats.Stats(p)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, default=None)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.profile:
        profile(args.calls)
    else:
        compare(args.calls, args.repeats, args.baseline_src)


if __name__ == "__main__":
    main()
