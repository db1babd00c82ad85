"""Batch prediction throughput: ``loopml.inference.predict`` against the model's own ``predict_proba``.

A 50-tree GradientBoostingClassifier on 16 numeric features (the demo model's shape) is packaged,
N rows are written as Parquet partitions, then scored three ways, three runs each in this process:

* baseline: ``model.predict_proba`` on the rows as an in-memory NumPy array (the practical limit);
* ``predict`` with the local engine in this process (``max_workers=1``);
* ``predict`` with the local engine's process pool (one worker per partition, up to the CPUs).

Usage: ``python benchmarks/predict.py [ROWS] [PARTITIONS]`` (default 1,000,000 rows, 4 partitions).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.ensemble import GradientBoostingClassifier
from threadpoolctl import threadpool_limits

from loopml.inference.predict import predict
from loopml.registry import ColumnSpec, ModelSignature, package_model

FEATURES = [f"f{i}" for i in range(16)]


def _timed(fn: object, runs: int = 3) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return times


def _line(label: str, rows: int, times: list[float], base: float | None = None) -> None:
    med = statistics.median(times)
    rate = rows / med
    versus = f"  {100 * (rows / med) / base:5.1f} % of baseline" if base else ""
    print(
        f"{label:<34} median {med:7.2f} s  [{min(times):.2f}-{max(times):.2f}]  {rate:12,.0f} rows/s{versus}"
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    parts = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    rng = np.random.default_rng(0)
    train_x = rng.normal(size=(20_000, 16))
    train_y = (train_x[:, 0] + train_x[:, 3] * train_x[:, 5] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=50, random_state=0).fit(train_x, train_y)
    x = rng.normal(size=(rows, 16))
    with tempfile.TemporaryDirectory(prefix="loopml-bench-predict-") as tmp:
        root = Path(tmp)
        signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in FEATURES))
        package = package_model(model, root / "pkg", signature=signature).path
        for i, chunk in enumerate(np.array_split(np.arange(rows), parts)):
            (root / "in").mkdir(exist_ok=True)
            pq.write_table(
                pa.table({n: x[chunk, j] for j, n in enumerate(FEATURES)}), root / "in" / f"part-{i}.parquet"
            )
        print(f"{rows:,} rows x 16 features in {parts} Parquet partitions; GBC 50 trees")
        with threadpool_limits(1):
            base = _timed(lambda: model.predict_proba(x))
        base_rate = rows / statistics.median(base)
        _line("predict_proba on NumPy (1 thread)", rows, base)
        counter = iter(range(100))

        def run(workers: int) -> None:
            predict(str(package), root / "in", out=root / f"out-{next(counter)}", max_workers=workers)

        _line("loopml predict, 1 process", rows, _timed(lambda: run(1)), base_rate)
        _line(f"loopml predict, pool of {min(parts, 2)}", rows, _timed(lambda: run(2)), base_rate)


if __name__ == "__main__":
    main()
