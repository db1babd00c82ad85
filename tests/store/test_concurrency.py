"""Several processes logging into one SQLite store at once: nothing lost, no 'database is locked'."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from loopml.store import Metric
from loopml.store.sql import open_store

PROCESSES = 4
POINTS = 2_500
BATCH = 100


def _log(url: str, run_id: str, worker: int) -> None:
    store = open_store(url)
    try:
        for start in range(0, POINTS, BATCH):
            points = [
                Metric(key=f"m{worker}", value=float(step), step=step, timestamp=1_700_000_000_000 + step)
                for step in range(start, start + BATCH)
            ]
            store.runs.log_batch(run_id, metrics=points, tags={"last_writer": str(worker)})
    finally:
        store.close()


@pytest.mark.slow
def test_processes_log_concurrently(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with open_store(url) as store:
        run_id = store.runs.create(store.experiments.create("concurrent").experiment_id).run_id
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_log, args=(url, run_id, w)) for w in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    with open_store(url) as store:
        run = store.runs.get(run_id)
        for w in range(PROCESSES):
            history = store.runs.get_metric_history(run_id, f"m{w}")
            assert [p.step for p in history] == list(range(POINTS))
            assert run.metrics[f"m{w}"] == POINTS - 1
        assert sum(len(store.runs.get_metric_history(run_id, f"m{w}")) for w in range(PROCESSES)) == 10_000


@pytest.mark.slow
def test_processes_open_a_fresh_store_at_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'store.db'}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        names = pool.map(_get_or_create, [url] * PROCESSES)
    assert len(set(names)) == 1


def _get_or_create(url: str) -> str:
    with open_store(url) as store:
        return str(store.experiments.get_or_create("shared").experiment_id)


def test_threads_share_one_store(tmp_path: Path) -> None:
    import threading

    with open_store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        run_id = store.runs.create(store.experiments.create("threads").experiment_id).run_id

        def log(worker: int) -> None:
            for start in range(0, 500, 50):
                points = [
                    Metric(key=f"t{worker}", value=1.0, step=s, timestamp=1) for s in range(start, start + 50)
                ]
                store.runs.log_batch(run_id, metrics=points)

        threads = [threading.Thread(target=log, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [len(store.runs.get_metric_history(run_id, f"t{w}")) for w in range(4)] == [500] * 4
