"""Benchmark: monitoring a day of logged predictions vs a raw Arrow scan of the same log.

Writes one day of prediction log (``--rows`` rows, default 1M, in requests of ``--request-rows``
rows, 24 hourly partitions of 4 files each) for a binary classifier with 16 input features
(12 numeric, 4 string of cardinality 5 .. 20,000), and labels for ``--labelled`` of the requests
(by request id) in an in-memory SQLite store. Then, in one process, interleaved, 3 runs each:

- scan:  read every Parquet file of the day (``pyarrow.parquet.read_table``) and sum one column,
         the practical I/O + decode limit;
- day:   ``MonitorService.compute`` of the day window: input statistics (per partition, merged),
         anomalies, drift against the previous day and the baseline (a stored day before it),
         prediction drift, rates, latency, the label join, realised and estimated performance;
- hours: the same for the 24 hourly windows of that day, one after the other.

Prints the median and range of each and the ratio to the scan's median. With ``--memory`` it
also runs each of "scan", "day" and "hours" in a fresh process and prints its peak RSS over the
process's RSS just before it (sampled every 5 ms): memory follows the window, not the history.

Usage:
    python benchmarks/monitor.py [--rows 1000000] [--request-rows 10] [--labelled 0.1] [--memory]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

from loopml.monitor import prediction_table, write_prediction_table
from loopml.monitor.feedback import Feedback, FeedbackService
from loopml.monitor.service import MonitorService
from loopml.monitor.targets import Target
from loopml.monitor.windows import MonitorConfig, WindowSpec
from loopml.store.sql import SqlStore, open_store

DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
TARGET = Target(deployment="bench", model="bench")
FILES_PER_HOUR = 4
REPEATS = 3


def _write_day(root: Path, day: dt.datetime, rows: int, request_rows: int, seed: int) -> list[str]:
    """Write one day of log; returns the request ids."""
    rng = np.random.default_rng(seed)
    per_hour = rows // 24
    ids: list[str] = []
    cards = (5, 50, 1000, 20_000)
    vocab = [np.array([f"v{i}" for i in range(c)], dtype=object) for c in cards]
    for hour in range(24):
        n_req = per_hour // request_rows
        n = n_req * request_rows
        x = rng.normal(size=(n, 12))
        score = 1 / (1 + np.exp(-(x[:, 0] + x[:, 1])))
        start = np.datetime64((day + dt.timedelta(hours=hour)).replace(tzinfo=None), "ms")
        times = start + np.sort(rng.integers(0, 3_600_000, size=n_req)).astype("timedelta64[ms]")
        req_ids = [f"{day:%m%d}-{hour}-{i}" for i in range(n_req)]
        ids.extend(req_ids)
        inputs: dict[str, np.ndarray] = {f"n{j}": x[:, j] for j in range(12)}
        for j, words in enumerate(vocab):
            inputs[f"s{j}"] = words[rng.integers(0, len(words), size=n)]
        outputs = {"predict": (score > 0.5).astype(np.int64), "predict_proba": np.c_[1 - score, score]}
        cut = np.linspace(0, n_req, FILES_PER_HOUR + 1).astype(int)
        for a, b in itertools.pairwise(cut):
            ra, rb = a * request_rows, b * request_rows
            write_prediction_table(
                root,
                prediction_table(
                    model=TARGET.model,
                    version="1",
                    request_ids=req_ids[a:b],
                    times=times[a:b],
                    protocols=["v2"] * (b - a),
                    principals=[None] * (b - a),
                    latency_ms=list(rng.gamma(2.0, 2.0, size=b - a)),
                    sizes=[request_rows] * (b - a),
                    inputs={k: v[ra:rb] for k, v in inputs.items()},
                    outputs={k: v[ra:rb] for k, v in outputs.items()},
                ),
            )
    return ids


def _setup(folder: Path, args: argparse.Namespace) -> tuple[SqlStore, MonitorService]:
    root = folder / "log"
    if not root.exists():
        _write_day(
            root, DAY - dt.timedelta(days=1), args.rows // 10, args.request_rows, seed=1
        )  # baseline day
        ids = _write_day(root, DAY, args.rows, args.request_rows, seed=2)
        (folder / "labelled.txt").write_text("\n".join(ids[:: max(1, round(1 / args.labelled))]))
    store = open_store("sqlite://")
    labelled = (folder / "labelled.txt").read_text().split("\n")
    FeedbackService(store.feedback, log_root=root).add(
        TARGET.model, [Feedback(key=i, label=int(hash(i) % 2)) for i in labelled]
    )
    service = MonitorService(store, log_root=root)
    day_config = MonitorConfig(window=WindowSpec.parse("day"))
    service.compute(TARGET, day_config, start=DAY - dt.timedelta(days=1), end=DAY)  # reference day
    service.compute(TARGET, MonitorConfig(), start=DAY - dt.timedelta(hours=1), end=DAY)  # reference hour
    return store, service


def _scan(root: Path) -> int:
    total = 0
    for path in sorted(root.glob(f"model={TARGET.model}/hour={DAY:%Y-%m-%d}T*/part-*.parquet")):
        table = pq.read_table(path)
        total += table.num_rows
        pc.sum(table["in.n0"])
    return total


def _day(service: MonitorService) -> int:
    config = MonitorConfig(window=WindowSpec.parse("day"))
    return service.compute(TARGET, config, start=DAY, end=DAY + dt.timedelta(days=1)).rows


def _hours(service: MonitorService) -> int:
    config = MonitorConfig()
    return sum(
        service.compute(
            TARGET, config, start=DAY + dt.timedelta(hours=h), end=DAY + dt.timedelta(hours=h + 1)
        ).rows
        for h in range(24)
    )


def _timed(fn: Any, *a: Any) -> tuple[float, int]:
    t = time.perf_counter()
    rows = fn(*a)
    return time.perf_counter() - t, rows


def _memory_child(folder: Path, args: argparse.Namespace, what: str) -> None:
    """Run one path and print its peak RSS above the RSS before it (KiB), sampled every 5 ms."""
    store, service = _setup(folder, args)
    work = {
        "scan": lambda: _scan(folder / "log"),
        "day": lambda: _day(service),
        "hours": lambda: _hours(service),
    }
    before = _rss_kb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            peak[0] = max(peak[0], _rss_kb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    work[what]()
    done.set()
    sampler.join()
    print(f"{max(peak[0], _rss_kb()) - before}")
    store.close()


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--request-rows", type=int, default=10)
    parser.add_argument("--labelled", type=float, default=0.1)
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--folder", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("scan", "day", "hours"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _memory_child(args.folder, args, args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        t = time.perf_counter()
        store, service = _setup(folder, args)
        print(f"set-up (log written, labels stored, reference windows): {time.perf_counter() - t:.1f} s")
        size = sum(p.stat().st_size for p in (folder / "log").rglob(f"hour={DAY:%Y-%m-%d}T*/*.parquet"))
        print(f"day: {args.rows:,} rows x 16 features, {size / 2**20:.0f} MiB of Parquet in 96 files")
        runs: dict[str, list[float]] = {"scan": [], "day": [], "hours": []}
        for _ in range(REPEATS):
            for name, fn, arg in (
                ("scan", _scan, folder / "log"),
                ("day", _day, service),
                ("hours", _hours, service),
            ):
                seconds, rows = _timed(fn, arg)
                runs[name].append(seconds)
        scan = statistics.median(runs["scan"])
        print(f"rows per run: {rows:,}")
        print("| path | median s | range s | rows/s | x scan |")
        print("| --- | --- | --- | --- | --- |")
        for name, values in runs.items():
            med = statistics.median(values)
            spread = f"{min(values):.2f}-{max(values):.2f}"
            print(f"| {name} | {med:.2f} | {spread} | {args.rows / med:,.0f} | {med / scan:.2f} |")
        store.close()
        if args.memory:
            print("| path | peak RSS above the process before it (MiB) |")
            print("| --- | --- |")
            for what in ("scan", "hours", "day"):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--folder",
                        str(folder),
                        "--child",
                        what,
                        "--rows",
                        str(args.rows),
                        "--request-rows",
                        str(args.request_rows),
                        "--labelled",
                        str(args.labelled),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()[-1]
                print(f"| {what} | {int(out) / 1024:.0f} |")


if __name__ == "__main__":
    main()
