"""Batch prediction throughput: ``loopml.inference.predict`` against the model's own ``predict_proba``.

A 50-tree GradientBoostingClassifier on 16 numeric features (the demo model's shape) is packaged,
N rows are written as Parquet partitions, then scored in interleaved rounds (one of each path per
round, ``--runs`` rounds, so that load from other jobs hits every path alike):

* baseline: ``model.predict_proba`` on the rows as an in-memory NumPy array, one thread (the
  practical limit: the model's own throughput);
* ``predict`` with the local engine in this process (``max_workers=1``);
* ``predict`` with the local engine's process pool (``max_workers=2``);
* with ``--ray``: ``predict(engine="ray")`` once Ray is started (``ray.init`` not timed).

With ``--mlflow-python PATH`` (the MLflow client virtualenv), the same model is saved as an MLflow
model and ``mlflow models predict --env-manager local`` scores one CSV file of ``--mlflow-rows``
rows; ``loopml predict`` (CLI, a fresh process as well) scores the same CSV file.

Each figure is the median and range over the rounds; CPU seconds include child processes.

With ``--data DIR`` the Parquet partitions are kept in ``DIR``: written (and the time it took
printed) when ``DIR`` does not exist, read back otherwise, so a 10M-row file is generated once.
The baseline's array is read from those files (not timed): the same rows.

Usage: ``python benchmarks/predict.py [--rows 1000000] [--parts 4] [--runs 3] [--ray] [--no-pool]
[--data DIR] [--mlflow-python .venv-mlflow/bin/python] [--mlflow-rows 250000]``
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sklearn.ensemble import GradientBoostingClassifier
from threadpoolctl import threadpool_limits

from loopml.inference.predict import predict
from loopml.registry import ColumnSpec, ModelSignature, package_model

FEATURES = [f"f{i}" for i in range(16)]
_MLFLOW_SAVE = """
import sys
import numpy as np
import mlflow.sklearn
from sklearn.ensemble import GradientBoostingClassifier
rng = np.random.default_rng(0)
x = rng.normal(size=(20_000, 16))
y = (x[:, 0] + x[:, 3] * x[:, 5] > 0).astype(int)
mlflow.sklearn.save_model(GradientBoostingClassifier(n_estimators=50, random_state=0).fit(x, y), sys.argv[1])
"""


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - wall, _cpu() - cpu


def _line(label: str, rows: int, runs: list[tuple[float, float]], base_rate: float | None) -> None:
    walls = [w for w, _ in runs]
    med = statistics.median(walls)
    cpu = statistics.median(c for _, c in runs)
    versus = f"  {100 * (rows / med) / base_rate:5.1f} % of baseline" if base_rate else ""
    print(
        f"{label:<40} median {med:7.2f} s [{min(walls):.2f}-{max(walls):.2f}]  cpu {cpu:6.2f} s  "
        f"{rows / med:12,.0f} rows/s{versus}",
        flush=True,
    )


def _model() -> GradientBoostingClassifier:
    rng = np.random.default_rng(0)
    train_x = rng.normal(size=(20_000, 16))
    train_y = (train_x[:, 0] + train_x[:, 3] * train_x[:, 5] > 0).astype(int)
    return GradientBoostingClassifier(n_estimators=50, random_state=0).fit(train_x, train_y)


def _write_input(data: Path, *, rows: int, parts: int) -> None:
    """``rows`` random rows as ``parts`` Parquet files (written chunk by chunk: memory stays small)."""
    started = time.perf_counter()
    data.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i, chunk in enumerate(np.array_split(np.arange(rows), parts)):
        with pq.ParquetWriter(
            data / f"part-{i}.parquet", pa.schema([(n, pa.float64()) for n in FEATURES])
        ) as w:
            for block in np.array_split(chunk, max(1, len(chunk) // 1_000_000)):
                x = rng.normal(size=(len(block), 16))
                w.write_table(pa.table({n: x[:, j] for j, n in enumerate(FEATURES)}))
    print(f"wrote {rows:,} rows in {parts} partitions to {data} in {time.perf_counter() - started:.1f} s")


def _read_input(data: Path) -> np.ndarray:
    """The input rows as one float64 matrix, in file order (the baseline's array)."""
    blocks = []
    for path in sorted(data.glob("*.parquet")):
        table = pq.read_table(path)
        blocks.append(np.column_stack([table.column(n).to_numpy() for n in FEATURES]))
    return np.concatenate(blocks)


def _mlflow(args: argparse.Namespace, root: Path, package: Path, x: np.ndarray) -> None:
    rows = min(args.mlflow_rows, len(x))
    csv = root / "one.csv"
    pacsv.write_csv(pa.table({n: x[:rows, j] for j, n in enumerate(FEATURES)}), csv)
    subprocess.run([args.mlflow_python, "-c", _MLFLOW_SAVE, str(root / "mlflow-model")], check=True)
    mlflow_bin = str(Path(args.mlflow_python).parent / "mlflow")
    loopml_bin = str(Path(sys.executable).parent / "loopml")
    print(f"\nOne CSV file of {rows:,} rows, each tool in a fresh process (start-up included):")
    mlflow_runs, loopml_runs = [], []
    for i in range(args.runs):
        cmd = [mlflow_bin, "models", "predict", "-m", str(root / "mlflow-model"), "-i", str(csv), "-t", "csv"]
        cmd += ["-o", str(root / f"mlflow-{i}.json"), "--env-manager", "local"]
        mlflow_runs.append(_timed(lambda c=cmd: subprocess.run(c, check=True, capture_output=True, cwd=root)))  # type: ignore[misc]
        cmd = [
            loopml_bin,
            "predict",
            str(package),
            str(csv),
            "--out",
            str(root / f"cli-{i}"),
            "--workers",
            "1",
        ]
        loopml_runs.append(
            _timed(lambda c=cmd: subprocess.run(c, check=True, capture_output=True, cwd=root))  # type: ignore[misc]
        )
    _line("mlflow models predict (labels only)", rows, mlflow_runs, None)
    _line("loopml predict (labels + scores)", rows, loopml_runs, None)
    ratio = statistics.median(w for w, _ in mlflow_runs) / statistics.median(w for w, _ in loopml_runs)
    print(f"loopml predict is {ratio:.1f}x mlflow models predict")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--mlflow-python", default=None)
    parser.add_argument("--mlflow-rows", type=int, default=250_000)
    parser.add_argument("--no-pool", action="store_true", help="leave out the process pool of 2")
    parser.add_argument("--data", type=Path, default=None, help="keep (or reuse) the input partitions here")
    args = parser.parse_args()
    model = _model()
    with tempfile.TemporaryDirectory(prefix="loopml-bench-predict-") as tmp:
        root = Path(tmp)
        signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in FEATURES))
        package = package_model(model, root / "pkg", signature=signature).path
        data = args.data or root / "in"
        if not data.exists():
            _write_input(data, rows=args.rows, parts=args.parts)
        x = _read_input(data)
        parts = len(list(data.glob("*.parquet")))
        print(f"{len(x):,} rows x 16 features in {parts} Parquet partitions; GBC 50 trees")
        counter = iter(range(1000))

        def run(**kwargs: object) -> None:
            out = root / f"out-{next(counter)}"
            predict(str(package), data, out=out, **kwargs)  # type: ignore[arg-type]

        paths: dict[str, Callable[[], object]] = {
            "predict_proba on NumPy (1 thread)": lambda: model.predict_proba(x),
            "loopml predict, 1 process": lambda: run(max_workers=1),
        }
        if not args.no_pool:
            paths["loopml predict, pool of 2"] = lambda: run(max_workers=2)
        if args.ray:
            import ray

            ray.init(num_cpus=2, include_dashboard=False)
            paths["loopml predict, ray (2 actors)"] = lambda: run(engine="ray", max_workers=2)
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in paths}
        for _ in range(args.runs):
            for name, fn in paths.items():
                with threadpool_limits(1):
                    results[name].append(_timed(fn))
                for out in root.glob("out-*"):  # outputs of 10M rows fill a disk (not timed)
                    shutil.rmtree(out)
        rows = len(x)
        base_rate = rows / statistics.median(w for w, _ in results["predict_proba on NumPy (1 thread)"])
        for name, runs in results.items():
            _line(name, rows, runs, None if name.startswith("predict_proba") else base_rate)
        if args.mlflow_python:
            _mlflow(args, root, package, x)


if __name__ == "__main__":
    main()
