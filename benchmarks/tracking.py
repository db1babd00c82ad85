"""Tracking throughput and search latency on SQLite and PostgreSQL (and an MLflow server, optionally).

Prints metric points/s (one ``log_metric`` at a time through the buffered client, ``log_metrics``
of 10 keys per call, and ``store.runs.log_batch`` of 1,000 points), params/s (one ``log_param``
call each, written at once), and ``search_runs`` latency p50/p95 over RUNS runs (3 params and
3 metrics each) with a metric filter, an order and ``max_results=100``.

    .venv/bin/python benchmarks/tracking.py [--runs 10000] [--points 100000] [--postgres-url URL]
    /tmp/mlflowvenv/bin/python benchmarks/tracking.py --mlflow [--no-sqlite]   # against `mlflow server`

The MLflow mode imports only mlflow, so it runs from a separate virtualenv that has mlflow.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FILTER = "metrics.m0 > 0.5"
ORDER = "metrics.m1 DESC"


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_loopml(store_url: str, home: Path, *, runs: int, points: int, searches: int) -> dict[str, str]:
    """Figures for one loopml store URL."""
    from loopml.config import Settings
    from loopml.store.entities import Metric
    from loopml.tracking import Client

    client = Client(Settings(home=home, store_url=store_url))
    results: dict[str, str] = {}
    try:
        run = client.start_run("bench-logging")
        rid = run.run_id

        def one_at_a_time() -> None:
            for i in range(points):
                client.log_metric(rid, "single", float(i), step=i)
            client.flush()

        results["log_metric (buffered, 1 per call)"] = _rate(points, _timed(one_at_a_time))

        def dict_calls() -> None:
            keys = [f"k{j}" for j in range(10)]
            for step in range(points // 10):
                client.log_metrics(rid, dict.fromkeys(keys, float(step)), step=step)
            client.flush()

        results["log_metrics (10 keys per call)"] = _rate(points, _timed(dict_calls))
        now = int(time.time() * 1000)

        def batches() -> None:
            for start in range(0, points, 1000):
                batch = [
                    Metric(key="batch", value=float(i), step=i, timestamp=now)
                    for i in range(start, start + 1000)
                ]
                client.store.runs.log_batch(rid, metrics=batch)

        results["store.runs.log_batch (1,000 per batch)"] = _rate(points, _timed(batches))
        n_params = 2000
        results["log_param (1 per call)"] = _rate(
            n_params, _timed(lambda: [client.log_param(rid, f"p{i}", i) for i in range(n_params)])
        )
        client.end_run(rid)
        analyze_url = store_url if store_url.startswith("postgresql") else None
        results["search p50 / p95"] = _search_latency(
            client, runs=runs, searches=searches, analyze_url=analyze_url
        )
    finally:
        client.close()
    return results


def _search_latency(client: Any, *, runs: int, searches: int, analyze_url: str | None = None) -> str:
    from loopml.store.entities import Metric, RunStatus

    store = client.store
    exp = store.experiments.get_or_create("bench-search")
    rng = random.Random(0)
    created = time.perf_counter()
    for i in range(runs):
        run = store.runs.create(exp.experiment_id, name=f"r{i}")
        now = int(time.time() * 1000)
        store.runs.log_batch(
            run.run_id,
            params={"model": rng.choice(["a", "b", "c"]), "lr": str(rng.random()), "i": str(i)},
            metrics=[Metric(key=f"m{j}", value=rng.random(), step=0, timestamp=now) for j in range(3)],
        )
        store.runs.set_status(run.run_id, RunStatus.FINISHED)
    print(f"  created {runs:,} runs in {time.perf_counter() - created:.1f}s", file=sys.stderr)

    def latency() -> str:
        samples = []
        for _ in range(searches):
            start = time.perf_counter()
            page = client.search_runs("bench-search", filter=FILTER, order_by=ORDER, max_results=100)
            samples.append(time.perf_counter() - start)
            assert len(page.items) == 100
        p50, p95 = _percentiles(samples)
        return f"{p50 * 1000:.1f} ms / {p95 * 1000:.1f} ms"

    if analyze_url is None:
        return latency()
    # PostgreSQL plans from table statistics, which autovacuum refreshes (it is on by default).
    # With autovacuum off the store refreshes them itself: a search starts a background check at
    # most every 30 s (StatisticsWatch), so the first searches after the load may run without.
    before = latency()
    import psycopg

    plain = analyze_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return f"{before} (as loaded); {latency()} (after an explicit ANALYZE)"


@contextmanager
def scratch_postgres(url: str) -> Iterator[str]:
    """A fresh database on the server at ``url``, dropped afterwards (through ``psql``, so that the
    MLflow mode needs no loopml driver)."""
    name = f"loopml_bench_{uuid.uuid4().hex[:8]}"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(["psql", plain, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    try:
        yield url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        subprocess.run(["psql", plain, "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=True)


def bench_mlflow(store_uri: str, *, runs: int, points: int, searches: int) -> dict[str, str]:
    """The same figures against a local ``mlflow server`` on ``store_uri`` (SQLite or PostgreSQL)."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    tmp = Path(tempfile.mkdtemp())
    port = 5055
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            store_uri.replace("postgresql+psycopg://", "postgresql+psycopg2://"),  # MLflow's driver
            "--default-artifact-root",
            str(tmp / "art"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    results: dict[str, str] = {}
    try:
        client = MlflowClient(tracking_uri=uri)
        for _ in range(120):
            if server.poll() is not None:
                raise SystemExit(f"mlflow server exited with {server.returncode}; run it by hand to see why.")
            try:
                client.search_experiments()
                break
            except Exception:
                time.sleep(0.5)
        exp_id = client.create_experiment("bench-logging")
        rid = client.create_run(exp_id).info.run_id
        now = int(time.time() * 1000)
        single = min(points, 2000)  # one HTTP request per point: a smaller count keeps it bounded
        results[f"log_metric (1 per call, {single:,} points)"] = _rate(
            single,
            _timed(lambda: [client.log_metric(rid, "single", float(i), step=i) for i in range(single)]),
        )

        def batches() -> None:
            for start in range(0, points, 1000):
                client.log_batch(
                    rid, metrics=[Metric("batch", float(i), now, i) for i in range(start, start + 1000)]
                )

        results["log_batch (1,000 per batch)"] = _rate(points, _timed(batches))
        n_params = 2000
        results["log_param (1 per call)"] = _rate(
            n_params, _timed(lambda: [client.log_param(rid, f"p{i}", i) for i in range(n_params)])
        )
        sexp = client.create_experiment("bench-search")
        rng = random.Random(0)
        created = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # set_terminated prints a line per run
            for i in range(runs):
                r = client.create_run(sexp).info.run_id
                client.log_batch(
                    r,
                    metrics=[Metric(f"m{j}", rng.random(), now, 0) for j in range(3)],
                    params=[
                        Param("model", rng.choice(["a", "b", "c"])),
                        Param("lr", str(rng.random())),
                        Param("i", str(i)),
                    ],
                    tags=[RunTag("bench", "1")],
                )
                client.set_terminated(r)
        print(f"  created {runs:,} runs in {time.perf_counter() - created:.1f}s", file=sys.stderr)
        samples = []
        for _ in range(searches):
            start = time.perf_counter()
            found = client.search_runs([sexp], filter_string=FILTER, order_by=[ORDER], max_results=100)
            samples.append(time.perf_counter() - start)
            assert len(found) == 100
        p50, p95 = _percentiles(samples)
        results["search p50 / p95"] = f"{p50 * 1000:.1f} ms / {p95 * 1000:.1f} ms"
        results["mlflow version"] = mlflow.__version__
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def _print(title: str, results: dict[str, str]) -> None:
    print(f"\n{title}")
    for name, value in results.items():
        print(f"  {name:<45} {value}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--no-postgres", action="store_true", help="Skip PostgreSQL.")
    parser.add_argument("--no-sqlite", action="store_true", help="Skip SQLite.")
    parser.add_argument("--mlflow", action="store_true", help="Measure an MLflow server instead.")
    args = parser.parse_args(argv)
    counts = {"runs": args.runs, "points": args.points, "searches": args.searches}
    print(f"{os.cpu_count()} CPUs; {args.runs:,} runs, {args.points:,} points, {args.searches} searches")
    if args.mlflow:
        if not args.no_sqlite:
            with tempfile.TemporaryDirectory() as tmp:
                sqlite_uri = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
                _print("MLflow server (SQLite backend, REST)", bench_mlflow(sqlite_uri, **counts))
        if not args.no_postgres:
            with scratch_postgres(args.postgres_url) as url:
                _print("MLflow server (PostgreSQL backend, REST)", bench_mlflow(url, **counts))
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if not args.no_sqlite:
            _print("loopml on SQLite", bench_loopml(f"sqlite:///{home / 'store.db'}", home, **counts))
        if not args.no_postgres:
            with scratch_postgres(args.postgres_url) as url:
                _print("loopml on PostgreSQL", bench_loopml(url, home, **counts))


if __name__ == "__main__":
    main()
