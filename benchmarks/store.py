"""Store throughput: log 100,000 metric points in batches of 1,000, then search 10,000 runs.

Usage: python benchmarks/store.py [STORE_URL [N_RUNS]]   (default: a temporary SQLite file, 10,000)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from loopml.store import Metric
from loopml.store.sql import SqlStore, open_store

N_RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000


def main(url: str) -> None:
    store = open_store(url)
    experiment = store.experiments.get_or_create(f"bench-{time.time_ns()}")
    run_id = store.runs.create(experiment.experiment_id).run_id
    batches = [
        [Metric(key=f"k{i % 10}", value=i * 0.5, step=b * 1000 + i, timestamp=1) for i in range(1000)]
        for b in range(100)
    ]
    start = time.perf_counter()
    for batch in batches:
        store.runs.log_batch(run_id, metrics=batch)
    print(f"log_batch: 100,000 points in {time.perf_counter() - start:.2f} s ({store.url})")

    start = time.perf_counter()
    for i in range(N_RUNS):
        rid = store.runs.create(experiment.experiment_id, name=f"r{i}", start_time=i).run_id
        store.runs.log_batch(rid, metrics=[Metric(key="auc", value=(i % 1000) / 1000, timestamp=1)])
    print(f"setup: {N_RUNS:,} runs in {time.perf_counter() - start:.1f} s")
    _searches(store, experiment.experiment_id)
    if url.startswith("postgresql"):
        # Plans come from table statistics, refreshed by autovacuum (on by default); refresh
        # them by hand too, for servers that run with autovacuum off.
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute("ANALYZE")
        print("after ANALYZE:")
        _searches(store, experiment.experiment_id)
    store.close()


def _searches(store: SqlStore, experiment_id: str) -> None:
    for flt, order in (("metrics.auc > 0.995", ()), ("metrics.auc > 0.5", ("metrics.auc DESC",))):
        samples = []
        for _ in range(20):
            start = time.perf_counter()
            page = store.runs.search([experiment_id], filter=flt, order_by=order, max_results=100)
            samples.append((time.perf_counter() - start) * 1000)
        median = statistics.median(samples)
        print(f"search {flt!r} order_by={list(order)}: {len(page.items)} runs, median of 20 {median:.1f} ms")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(f"sqlite:///{Path(tmp) / 'store.db'}")
