"""Benchmark: full statistics (loopml.data.compute_statistics) vs a plain single-pass pyarrow scan.

Generates N rows x 16 mixed features (8 numeric, 6 string of cardinality 5 .. 200k, 2 bool) as
CSV and as Parquet (8 files each) in a temporary folder, then prints rows/s for
  - scan:  read every record batch and compute ``pc.sum`` of one column (the practical I/O limit)
  - local: full statistics with the local engine (process pool)
  - ray:   full statistics with the Ray engine (when ``ray`` is installed)
and the ratio of each engine's time to the scan's.

Usage:
    python benchmarks/data_stats.py --rows 1000000 [--rows 10000000] [--engines local ray] [--workers N]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from loopml.data import compute_statistics

FILES = 8


def _chunk(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols: dict[str, object] = {
        "n_normal": rng.normal(0, 1, rows),
        "n_lognormal": rng.lognormal(0, 1.5, rows),
        "n_uniform": rng.uniform(-100, 100, rows),
        "n_exp": rng.exponential(3.0, rows),
        "i_poisson": rng.poisson(4, rows),
        "i_age": rng.integers(18, 95, rows),
        "i_big": rng.integers(0, 10**12, rows),
        "n_with_nan": np.where(rng.random(rows) < 0.05, np.nan, rng.normal(5, 2, rows)),
        "s_5": rng.choice(np.array(["a", "b", "c", "d", "e"]), rows),
        "s_50": np.char.add("cat", rng.integers(0, 50, rows).astype(str)),
        "s_1k": np.char.add("item", rng.zipf(1.3, rows).clip(max=1000).astype(str)),
        "s_10k": np.char.add("user", rng.integers(0, 10_000, rows).astype(str)),
        "s_200k": np.char.add("id", rng.integers(0, 200_000, rows).astype(str)),
        "s_country": rng.choice(np.array(["US", "DE", "FR", "IN", "BR", "JP"]), rows),
        "b_flag": rng.random(rows) < 0.3,
        "b_active": rng.random(rows) < 0.8,
    }
    return pa.table(cols)


def generate(rows: int, root: Path) -> tuple[Path, Path]:
    csv_dir, pq_dir = root / "csv", root / "parquet"
    csv_dir.mkdir(parents=True, exist_ok=True)
    pq_dir.mkdir(parents=True, exist_ok=True)
    per_file = rows // FILES
    for i in range(FILES):
        table = _chunk(per_file, seed=i)
        pacsv.write_csv(table, csv_dir / f"part-{i}.csv")
        pq.write_table(table, pq_dir / f"part-{i}.parquet", row_group_size=256_000)
    return csv_dir, pq_dir


def scan(path: Path, fmt: str) -> float:
    start = time.perf_counter()
    total = 0.0
    for batch in ds.dataset(str(path), format=fmt).to_batches(batch_size=65_536):
        total += pc.sum(batch.column("n_normal")).as_py() or 0.0
    return time.perf_counter() - start


def run(rows: int, engines: list[str], workers: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="loopml-bench-") as tmp:
        t0 = time.perf_counter()
        csv_dir, pq_dir = generate(rows, Path(tmp))
        took = time.perf_counter() - t0
        print(f"\n{rows:,} rows x 16 features, {FILES} files per format (generated in {took:.1f} s)")
        print(f"{'format':8} {'path':6} {'seconds':>8} {'rows/s':>12} {'x scan':>7}")
        for fmt, path in (("csv", csv_dir), ("parquet", pq_dir)):
            base = scan(path, fmt)
            print(f"{fmt:8} {'scan':6} {base:8.2f} {rows / base:12,.0f} {1.0:7.2f}")
            for engine in engines:
                start = time.perf_counter()
                stats = compute_statistics(path, engine=engine, max_workers=workers)
                took = time.perf_counter() - start
                assert stats.num_examples == rows - rows % FILES
                print(f"{fmt:8} {engine:6} {took:8.2f} {rows / took:12,.0f} {took / base:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable); default 1M and 10M")
    parser.add_argument(
        "--engines", nargs="+", default=None, help="local and/or ray (default: those installed)"
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    args = parser.parse_args()
    engines = args.engines or ["local"] + (["ray"] if importlib.util.find_spec("ray") else [])
    print(f"CPUs: {os.cpu_count()}, pyarrow {pa.__version__}, engines: {', '.join(engines)}")
    for rows in args.rows or [1_000_000, 10_000_000]:
        run(rows, engines, args.workers)


if __name__ == "__main__":
    main()
