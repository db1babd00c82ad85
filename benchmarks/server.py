"""Server benchmark over HTTP on loopback: metric logging, run search, artifact transfer.

Usage::

    .venv/bin/python benchmarks/server.py                      # loopml server, SQLite and PostgreSQL
    .venv/bin/python benchmarks/server.py --mlflow-python /tmp/mlflowvenv/bin/python   # + MLflow
    /tmp/mlflowvenv/bin/python benchmarks/server.py --target mlflow --backend sqlite  # MLflow alone

Figures (same workload for both servers, one uvicorn/gunicorn worker each):

* metric points/s with batched logging (1,000 points per request) from 1 and from 8 client processes;
* ``search_runs`` p50/p95 over N runs (default 10,000; filter + order by a metric, 100 results),
  for loopml also in process (the SDK on the same store without the server);
* artifact upload and download MB/s: the median of 5 round trips of a new random 64 MiB file each.

The MLflow mode imports only mlflow and the standard library, so it runs from a separate virtualenv.
Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
FILTER = "metrics.m0 > 0.5 and params.model = 'a'"
ORDER = "metrics.m1 DESC"
BATCH = 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not start")


def _pct(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


# --- PostgreSQL databases ------------------------------------------------------------------------


def _pg(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True)


# --- loopml ----------------------------------------------------------------------------------------


def _loopml_server(store_url: str, root: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    env = {
        **os.environ,
        "LOOPML_HOME": str(root),
        "LOOPML_STORE_URL": store_url,
        "LOOPML_ARTIFACTS_URL": str(root / "artifacts"),
        "LOOPML_SERVER_NO_AUTH": "1",
    }
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
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/readyz", proc)
    return url, proc


def _loopml_log(url: str, experiment: str, points: int) -> float:
    from loopml.store import Metric
    from loopml.store.remote import RemoteStore

    store = RemoteStore(url)
    exp = store.experiments.get_or_create(experiment)
    run = store.runs.create(exp.experiment_id)
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, points, BATCH):
        batch = [
            Metric(key="loss", value=float(i), step=i, timestamp=now) for i in range(first, first + BATCH)
        ]
        store.runs.log_batch(run.run_id, metrics=batch)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed


def _seed_loopml(store_url: str, runs: int) -> str:
    from loopml.store import Metric
    from loopml.store.sql import open_store

    rng = random.Random(0)
    now = int(time.time() * 1000)
    with open_store(store_url) as store:
        exp = store.experiments.create(f"bench-search-{uuid.uuid4().hex[:6]}")
        for i in range(runs):
            run = store.runs.create(exp.experiment_id, tags={"bench": "1"})
            store.runs.log_batch(
                run.run_id,
                metrics=[Metric(key=f"m{j}", value=rng.random(), step=0, timestamp=now) for j in range(3)],
                params={"model": rng.choice("abc"), "lr": str(rng.random()), "i": str(i)},
            )
        return exp.experiment_id


def _loopml_search(url: str, experiment_id: str, searches: int) -> list[float]:
    from loopml.store.remote import RemoteStore

    store = RemoteStore(url)
    try:
        return _search_samples(store, experiment_id, searches)
    finally:
        store.close()


def _loopml_search_in_process(store_url: str, experiment_id: str, searches: int) -> list[float]:
    """The same search on the same store, without the server (the SDK's local mode)."""
    from loopml.store.sql import open_store

    with open_store(store_url) as store:
        return _search_samples(store, experiment_id, searches)


def _search_samples(store: Any, experiment_id: str, searches: int) -> list[float]:
    samples = []
    for _ in range(searches):
        start = time.perf_counter()
        page = store.runs.search([experiment_id], filter=FILTER, order_by=[ORDER], max_results=100)
        samples.append(time.perf_counter() - start)
        assert page.items
    return samples


def _loopml_artifacts(url: str, size_mib: int, tmp: Path, transfers: int) -> tuple[float, float]:
    from loopml.store.remote import RemoteBlobs, RemoteStore

    store = RemoteStore(url, timeout_s=600)
    blobs = RemoteBlobs(store.session)
    ups, downs = [], []
    for _ in range(transfers):  # new random content each time: nothing is deduplicated
        source = tmp / "blob.bin"
        source.write_bytes(os.urandom(size_mib * 1024 * 1024))
        start = time.perf_counter()
        ref = blobs.put_file(source)
        ups.append(time.perf_counter() - start)
        start = time.perf_counter()
        blobs.get_file(ref.sha256, tmp / "back.bin", size=ref.size)
        downs.append(time.perf_counter() - start)
        for done in (source, tmp / "back.bin"):
            done.unlink()
    store.close()
    return statistics.median(ups), statistics.median(downs)


# --- MLflow ----------------------------------------------------------------------------------------


def _mlflow_server(store_url: str, root: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        store_url,
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    _wait(url + "/health", proc)
    return url, proc


def _mlflow_log(url: str, experiment: str, points: int) -> float:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else _mlflow_create(client, experiment)
    run_id = client.create_run(exp_id).info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for first in range(0, points, BATCH):
        client.log_batch(
            run_id, metrics=[Metric("loss", float(i), now, i) for i in range(first, first + BATCH)]
        )
    return time.perf_counter() - start


def _mlflow_create(client: Any, name: str) -> str:
    try:
        return str(client.create_experiment(name))
    except Exception:  # another client created it first
        return str(client.get_experiment_by_name(name).experiment_id)


def _seed_mlflow(store_url: str, root: Path, runs: int) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    rng = random.Random(0)
    now = int(time.time() * 1000)
    store = SqlAlchemyStore(store_url, str(root / "artifacts"))
    exp_id = store.create_experiment(f"bench-search-{uuid.uuid4().hex[:6]}")
    for i in range(runs):
        run = store.create_run(exp_id, user_id="bench", start_time=now, tags=[], run_name=None)
        store.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(3)],
            params=[Param("model", rng.choice("abc")), Param("lr", str(rng.random())), Param("i", str(i))],
            tags=[RunTag("bench", "1")],
        )
    store.engine.dispose()
    return str(exp_id)


def _mlflow_search(url: str, experiment_id: str, searches: int) -> list[float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    samples = []
    for _ in range(searches):
        start = time.perf_counter()
        found = client.search_runs([experiment_id], filter_string=FILTER, order_by=[ORDER], max_results=100)
        samples.append(time.perf_counter() - start)
        assert found
    return samples


def _mlflow_artifacts(url: str, size_mib: int, tmp: Path, transfers: int) -> tuple[float, float]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    exp_id = _mlflow_create(client, "bench-artifacts")
    ups, downs = [], []
    for i in range(transfers):  # a run each (MLflow keeps artifacts by run and path)
        run_id = client.create_run(exp_id).info.run_id
        source = tmp / "blob.bin"
        source.write_bytes(os.urandom(size_mib * 1024 * 1024))
        start = time.perf_counter()
        client.log_artifact(run_id, str(source))
        ups.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.download_artifacts(run_id, "blob.bin", str(tmp / f"down{i}"))
        downs.append(time.perf_counter() - start)
        for done in (source, tmp / f"down{i}" / "blob.bin"):
            done.unlink()
    return statistics.median(ups), statistics.median(downs)


# --- driver ----------------------------------------------------------------------------------------

TARGETS = {
    "loopml": (_loopml_server, _loopml_log, _loopml_search, _loopml_artifacts),
    "mlflow": (_mlflow_server, _mlflow_log, _mlflow_search, _mlflow_artifacts),
}


def _store_url(target: str, backend: str, tmp: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'store.db'}", None
    name = f"bench_{target}_{uuid.uuid4().hex[:8]}"
    _pg(f'CREATE DATABASE "{name}"')
    driver = "postgresql+psycopg" if target == "loopml" else "postgresql+psycopg2"
    return f"{driver}://postgres@127.0.0.1:5432/{name}", name


def bench(
    target: str,
    backend: str,
    *,
    points: int,
    runs: int,
    searches: int,
    size_mib: int,
    transfers: int,
    analyze: bool = False,
) -> dict[str, Any]:
    start_server, log, search, transfer = TARGETS[target]
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{target}-"))
    store_url, pg_name = _store_url(target, backend, tmp)
    out: dict[str, Any] = {"target": target, "backend": backend}
    try:
        if target == "mlflow":  # create the schema, then seed, before the server starts
            experiment_id = _seed_mlflow(store_url, tmp, runs)
        else:
            experiment_id = _seed_loopml(store_url, runs)
        if analyze and pg_name:  # what autovacuum does soon after a bulk load, for both servers
            psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", pg_name, "-c", "ANALYZE"]
            subprocess.run(psql, check=True, capture_output=True)
        url, proc = start_server(store_url, tmp)
        try:
            out["points/s, 1 client"] = points / log(url, "bench-log-1", points)
            workers = [
                subprocess.Popen(
                    [sys.executable, __file__, "--worker", target, url, str(points)], stdout=subprocess.PIPE
                )
                for _ in range(8)
            ]
            begin = time.perf_counter()
            for w in workers:
                w.communicate()
            out["points/s, 8 clients"] = 8 * points / (time.perf_counter() - begin)
            p50, p95 = _pct(search(url, experiment_id, searches))
            out[f"search p50 ms ({runs} runs)"] = p50 * 1000
            out[f"search p95 ms ({runs} runs)"] = p95 * 1000
            if target == "loopml":  # the SDK on the store directly, same data, same moment
                p50, p95 = _pct(_loopml_search_in_process(store_url, experiment_id, searches))
                out["search p50 ms, in process"] = p50 * 1000
                out["search p95 ms, in process"] = p95 * 1000
            up, down = transfer(url, size_mib, tmp, transfers)
            out["upload MB/s"] = size_mib * 1.048576 / up
            out["download MB/s"] = size_mib * 1.048576 / down
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    finally:
        if pg_name:
            _pg(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return out


def _print(rows: list[dict[str, Any]]) -> None:
    keys = [k for k in rows[0] if k not in ("target", "backend")]
    print("| figure | " + " | ".join(f"{r['target']} / {r['backend']}" for r in rows) + " |")
    print("| --- |" + " --- |" * len(rows))
    for key in keys:
        cells = [f"{r[key]:,.1f}" if isinstance(r.get(key), float) else str(r.get(key, "-")) for r in rows]
        print(f"| {key} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=sorted(TARGETS), default="loopml")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--points", type=int, default=20_000, help="metric points per client")
    parser.add_argument("--runs", type=int, default=10_000, help="runs to search over")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--transfers", type=int, default=5, help="artifact round trips (median reported)")
    parser.add_argument("--mlflow-python", help="a Python with mlflow: measure mlflow server too")
    parser.add_argument("--json", action="store_true", help="print JSON rows (used for the MLflow run)")
    parser.add_argument(
        "--analyze",
        action="store_true",
        help="PostgreSQL: run ANALYZE after seeding, before either server starts (as autovacuum would)",
    )
    parser.add_argument("--worker", nargs=3, metavar=("TARGET", "URL", "POINTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        target, url, points = args.worker
        TARGETS[target][1](url, "bench-log-8", int(points))
        return
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    sizes = {
        "points": args.points,
        "runs": args.runs,
        "searches": args.searches,
        "size_mib": args.size_mib,
        "transfers": args.transfers,
    }
    rows = [bench(args.target, b, **sizes, analyze=args.analyze) for b in backends]
    if args.mlflow_python:
        if not args.json:
            _print(rows)  # our figures first, in case the other server's run fails
            print(flush=True)
        cmd = [
            args.mlflow_python,
            __file__,
            "--target",
            "mlflow",
            "--backend",
            args.backend,
            "--json",
            *(["--analyze"] if args.analyze else []),
            *[f"--{k.replace('_', '-')}={v}" for k, v in sizes.items()],
        ]
        rows += json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    if args.json:
        print(json.dumps(rows))
    else:
        _print(rows)


if __name__ == "__main__":
    main()
