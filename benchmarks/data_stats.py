"""Benchmark: full statistics (loopml.data.compute_statistics) vs a raw pyarrow scan, and vs TFDV.

Generates N rows x 16 mixed features (8 numeric, 6 string of cardinality 5 .. 200k, 2 bool) as
CSV and as Parquet (8 files each) in a temporary folder, then prints rows/s for
  - scan:  read every record batch and compute ``pc.sum`` of one column (the practical I/O limit)
  - local: full statistics with the local engine (process pool)
  - ray:   full statistics with the Ray engine (when ``ray`` is installed)
and the ratio of each engine's time to the scan's.

With ``--tfdv-python`` it also times TensorFlow Data Validation on the same CSV files, in that
interpreter (a separate virtualenv: TFDV pins its own TensorFlow, Beam and pyarrow), and compares
the figures both compute (num_examples; num_missing / num_non_missing per feature; mean, std_dev,
min, max, num_zeros per numeric feature; unique, top value and its count, avg_length per string
feature). TFDV modes:
  - direct:           ``generate_statistics_from_csv`` on Beam's DirectRunner (its default)
  - multi_processing: the same with ``direct_num_workers=N, direct_running_mode='multi_processing'``
  - multi_threading:  the same with ``direct_running_mode='multi_threading'``
  - dataframe:        ``pandas.read_csv`` of every file + ``generate_statistics_from_dataframe``
                      (in memory, no Beam; top values and unique from Misra-Gries / KMV sketches)

With ``--wide COLUMNS ROWS`` it instead times wide data: a CSV of COLUMNS columns (half float, a
quarter int, a quarter text) x ROWS rows, read by ``pyarrow.csv.read_csv`` vs full statistics:
wall and CPU seconds and peak memory (RSS over the post-import size), 3 runs each, a fresh process
per run (median and range), next to the Arrow table's size. ``--baseline SRC`` adds the statistics
of another checkout's ``src`` folder, run right after this code's in each round.

Usage:
    python benchmarks/data_stats.py --rows 1000000 [--rows 10000000] [--engines local ray] [--workers N]
    python benchmarks/data_stats.py --wide 10000 2000 [--workers 1] [--baseline /tmp/base/src]
    python benchmarks/data_stats.py --rows 100000 --engines local --tfdv-python /tmp/tfdvvenv/bin/python

The TFDV worker (``--tfdv-worker``) imports only TFDV, its own dependencies and the standard library,
so this module imports NumPy, pyarrow and loopml inside the functions that use them.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import json
import math
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

    from loopml.data import DatasetStatistics

FILES = 8
REPEATS = 3
TFDV_MODES = ("direct", "multi_processing", "multi_threading", "dataframe")
DEFAULT_TFDV_MODES = ("direct", "multi_processing", "dataframe")
REL_TOL = 1e-6
"""Relative tolerance for means, standard deviations and average lengths (summation order differs)."""

Summary = dict[str, Any]
"""``{"num_examples": n, "features": {name: {figure: value}}}``, the figures both tools compute."""


def _chunk(rows: int, seed: int) -> pa.Table:
    import numpy as np
    import pyarrow as pa

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
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

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
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    start = time.perf_counter()
    total = 0.0
    for batch in ds.dataset(str(path), format=fmt).to_batches(batch_size=65_536):
        total += pc.sum(batch.column("n_normal")).as_py() or 0.0
    return time.perf_counter() - start


@dataclass(frozen=True, slots=True, kw_only=True)
class TfdvOptions:
    """How to run TFDV: which interpreter, which modes, how many Beam workers."""

    python: str
    modes: tuple[str, ...]
    workers: int
    timeout_s: float


def run(rows: int, engines: list[str], workers: int | None, tfdv: TfdvOptions | None) -> None:
    from loopml.data import compute_statistics

    examples = rows - rows % FILES
    with tempfile.TemporaryDirectory(prefix="loopml-bench-") as tmp:
        t0 = time.perf_counter()
        csv_dir, pq_dir = generate(rows, Path(tmp))
        took = time.perf_counter() - t0
        print(f"\n{rows:,} rows x 16 features, {FILES} files per format (generated in {took:.1f} s)")
        print(f"load average (1/5/15 min): {_load()}")
        print(f"each figure: median (range) of {REPEATS} runs in this process; x scan pairs each run with")
        print("the scan run just before it")
        print(
            "CPU columns: CPU seconds of this process, all threads (robust to machine load); they leave out"
            " pool workers (children of a forkserver): compare them with --workers 1"
        )
        print(
            f"{'format':8} {'path':6} {'seconds':>22} {'rows/s':>12} {'x scan':>20} "
            f"{'CPU seconds':>22} {'CPU x scan':>20}"
        )
        on_csv: dict[str, tuple[float, DatasetStatistics]] = {}
        for fmt, path in (("csv", csv_dir), ("parquet", pq_dir)):
            times: dict[str, list[float]] = {"scan": [], **{e: [] for e in engines}}
            cpu: dict[str, list[float]] = {"scan": [], **{e: [] for e in engines}}
            for _ in range(REPEATS):
                c0 = _cpu()
                times["scan"].append(scan(path, fmt))
                cpu["scan"].append(_cpu() - c0)
                for engine in engines:
                    start, c0 = time.perf_counter(), _cpu()
                    stats = compute_statistics(path, engine=engine, max_workers=workers)
                    times[engine].append(time.perf_counter() - start)
                    cpu[engine].append(_cpu() - c0)
                    assert stats.num_examples == examples
                    if fmt == "csv":
                        on_csv[engine] = (statistics.median(times[engine]), stats)
            for name, xs in times.items():
                ratios = [x / b for x, b in zip(xs, times["scan"], strict=True)]
                cpu_ratios = [x / b for x, b in zip(cpu[name], cpu["scan"], strict=True)]
                print(
                    f"{fmt:8} {name:6} {_spread(xs):>22} {rows / statistics.median(xs):12,.0f} "
                    f"{_spread(ratios):>20} {_spread(cpu[name]):>22} {_spread(cpu_ratios):>20}",
                    flush=True,
                )
        if tfdv is not None:
            against_tfdv(csv_dir, examples=examples, loopml=on_csv, options=tfdv)


def _cpu() -> float:
    """CPU seconds of this process (all threads) and of its children that have finished.

    The local engine's pool workers are children of a forkserver, not of this process: their time
    is not included, so CPU figures compare like with like only with ``--workers 1``.
    """
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _spread(xs: list[float]) -> str:
    return f"{statistics.median(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


# --- TFDV side by side ------------------------------------------------------------------------------


def against_tfdv(
    csv_dir: Path,
    *,
    examples: int,
    loopml: dict[str, tuple[float, DatasetStatistics]],
    options: TfdvOptions,
) -> None:
    """Time each TFDV mode on ``csv_dir`` in ``options.python``; print speed and agreement."""
    best_engine = min(loopml, key=lambda e: loopml[e][0])
    best_s, best_stats = loopml[best_engine]
    ours = loopml_summary(best_stats)
    from loopml.data import compute_statistics

    cpu_runs = []
    for _ in range(REPEATS):  # one process (no pool), so CPU seconds compare with TFDV's in-process modes
        c0 = _cpu()
        compute_statistics(csv_dir, engine="local", max_workers=1)
        cpu_runs.append(_cpu() - c0)
    ours_cpu = statistics.median(cpu_runs)
    print(f"\nTFDV on the same {FILES} CSV files ({examples:,} rows); load average {_load()}")
    print("CPU s: CPU seconds of the call, all threads (loopml: --workers 1; median of the runs)")
    print(f"{'tool':32} {'seconds':>8} {'rows/s':>10} {'TFDV / loopml':>14} {'CPU s':>8} {'CPU ratio':>10}")
    for engine, (took, _) in loopml.items():
        print(f"{'loopml ' + engine:32} {took:8.2f} {examples / took:10,.0f} {'':>14}")
    print(f"{'loopml local, 1 worker':32} {'':>8} {'':>10} {'':>14} {_spread(cpu_runs):>8}")
    results: dict[str, dict[str, Any]] = {}
    for mode in options.modes:
        result = _run_tfdv(csv_dir, mode=mode, options=options)
        label = f"tfdv {result.get('version', '?')} {mode}"
        if mode in ("multi_processing", "multi_threading"):
            label += f" x{options.workers}"
        if "error" in result:
            print(f"{label:32} failed: {result['error']}")
            continue
        took = float(result["seconds"])
        extra = f"  (import {result['import_s']:.1f} s"
        extra += f", read_csv {result['read_s']:.1f} s)" if "read_s" in result else ")"
        ratio = took / best_s
        cpu_s = float(result["cpu_s"])
        print(
            f"{label:32} {took:8.2f} {examples / took:10,.0f} {ratio:13.1f}x {cpu_s:8.2f} "
            f"{cpu_s / ours_cpu:9.2f}x{extra}",
            flush=True,
        )
        print(
            f"{'':32} runs: {_spread(result['seconds_runs'])} s, CPU {_spread(result['cpu_runs'])} s; "
            f"CPU ratio per run {_spread([c / ours_cpu for c in result['cpu_runs']])}x",
            flush=True,
        )
        results[mode] = result
    if not results:
        return
    groups = {
        "TFDV": list(results),
        "generate_statistics_from_csv (Beam; exact top values and unique)": [
            m for m in results if m != "dataframe"
        ],
    }
    for group, modes in groups.items():
        if modes:
            fastest = min(modes, key=lambda m: float(results[m]["seconds"]))
            ratio = float(results[fastest]["seconds"]) / best_s
            print(f"best {group} figure: {fastest}, {ratio:.1f}x the time of loopml {best_engine}")
    _print_agreement(ours, {m: r["summary"] for m, r in results.items()}, engine=best_engine)


def _print_agreement(ours: Summary, theirs: dict[str, Summary], *, engine: str) -> None:
    print(f"\nagreement with loopml {engine} (floats within {REL_TOL:g} relative):")
    for mode, summary in theirs.items():
        problems, checked = compare(ours, summary)
        verdict = "agree" if not problems else f"{len(problems)} disagreements"
        print(f"  {mode}: {checked} figures compared, {verdict}")
        for line in problems:
            print(f"    - {line}")


def _run_tfdv(csv_dir: Path, *, mode: str, options: TfdvOptions) -> dict[str, Any]:
    cmd = [options.python, __file__, "--tfdv-worker", mode, str(csv_dir)]
    cmd += ["--tfdv-workers", str(options.workers)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=options.timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"no result within {options.timeout_s:.0f} s (--tfdv-timeout)"}
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-3:])
        return {"error": f"exit {done.returncode}: {tail}"}
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


def tfdv_worker(mode: str, csv_dir: str, workers: int) -> None:
    """Run in TFDV's interpreter: time one mode and print its figures as one JSON line."""
    start = time.perf_counter()
    import tensorflow_data_validation as tfdv

    imported = time.perf_counter() - start
    pattern = os.path.join(csv_dir, "*.csv")
    figures: dict[str, Any] = {"version": tfdv.__version__, "import_s": imported}
    seconds, cpu, reads = [], [], []
    for _ in range(REPEATS):  # TensorFlow's import is paid once; each run is timed on its own
        start, cpu_start = time.perf_counter(), _cpu()
        if mode == "dataframe":
            import pandas as pd  # a TFDV dependency

            frame = pd.concat([pd.read_csv(p) for p in sorted(glob.glob(pattern))], ignore_index=True)
            for column in frame.columns:  # pandas parses true/false as bool, which TFDV counts as INT
                if frame[column].dtype == bool:
                    frame[column] = frame[column].map({True: "true", False: "false"})
            reads.append(time.perf_counter() - start)
            result = tfdv.generate_statistics_from_dataframe(frame)
            del frame
        else:
            from apache_beam.options.pipeline_options import PipelineOptions

            pipeline = (
                None
                if mode == "direct"
                else PipelineOptions(direct_num_workers=workers, direct_running_mode=mode)
            )
            result = tfdv.generate_statistics_from_csv(pattern, pipeline_options=pipeline)
        seconds.append(time.perf_counter() - start)
        cpu.append(_cpu() - cpu_start)  # Beam's worker processes included once they have exited
    figures["seconds"], figures["seconds_runs"] = statistics.median(seconds), seconds
    figures["cpu_s"], figures["cpu_runs"] = statistics.median(cpu), cpu
    if reads:
        figures["read_s"] = statistics.median(reads)
    figures["summary"] = tfdv_summary(result)
    print(json.dumps(figures))


def tfdv_summary(result: Any) -> Summary:
    """The compared figures of a ``DatasetFeatureStatisticsList`` (one dataset)."""
    dataset = result.datasets[0]
    features: dict[str, dict[str, Any]] = {}
    for feature in dataset.features:
        name = feature.path.step[0] if feature.path.step else feature.name
        entry: dict[str, Any] = {"type": type(feature).Type.Name(feature.type)}
        if feature.WhichOneof("stats") == "num_stats":
            s = feature.num_stats
            common = s.common_stats
            entry.update(mean=s.mean, std_dev=s.std_dev, min=s.min, max=s.max, num_zeros=s.num_zeros)
        else:
            s = feature.string_stats
            common = s.common_stats
            top = s.top_values[0] if s.top_values else None
            entry.update(
                unique=s.unique,
                top_value=top.value if top else None,
                top_frequency=top.frequency if top else None,
                avg_length=s.avg_length,
            )
        entry.update(num_missing=common.num_missing, num_non_missing=common.num_non_missing)
        features[name] = entry
    return {"num_examples": dataset.num_examples, "features": features}


def loopml_summary(stats: DatasetStatistics) -> Summary:
    """The compared figures of loopml's statistics, under TFDV's field names."""
    features: dict[str, dict[str, Any]] = {}
    for f in stats.features:
        entry: dict[str, Any] = {
            "type": f.type.value,
            "num_missing": f.num_missing,
            "num_non_missing": f.num_non_missing,
        }
        if f.num_stats is not None:
            n = f.num_stats
            entry.update(mean=n.mean, std_dev=n.std_dev, min=n.min, max=n.max, num_zeros=n.num_zeros)
        if f.string_stats is not None:
            s = f.string_stats
            top = s.top_values[0] if s.top_values else None
            entry.update(
                unique=s.unique,
                top_value=top.value if top else None,
                top_frequency=top.frequency if top else None,
                avg_length=s.avg_length,
            )
        features[f.name] = entry
    return {"num_examples": stats.num_examples, "features": features}


EXACT = ("num_missing", "num_non_missing", "num_zeros", "unique", "top_frequency")
CLOSE = ("mean", "std_dev", "min", "max", "avg_length")


def compare(ours: Summary, theirs: Summary) -> tuple[list[str], int]:
    """Disagreements between two summaries (as readable lines) and how many figures were compared."""
    problems: list[str] = []
    checked = 1
    if ours["num_examples"] != theirs["num_examples"]:
        problems.append(f"num_examples: loopml {ours['num_examples']}, tfdv {theirs['num_examples']}")
    for name, mine in ours["features"].items():
        other = theirs["features"].get(name)
        if other is None:
            problems.append(f"{name}: missing from TFDV's statistics")
            continue
        types = (mine["type"], other["type"])
        if types[0] != types[1] and types != ("BOOL", "STRING"):  # TFDV reads CSV booleans as strings
            problems.append(f"{name}.type: loopml {types[0]}, tfdv {types[1]}")
        for key in (*EXACT, *CLOSE, "top_value"):
            if key not in mine or key not in other:
                continue
            checked += 1
            a, b = mine[key], other[key]
            same = _close(a, b) if key in CLOSE else a == b
            if key == "top_value" and not same and mine.get("top_frequency") == other.get("top_frequency"):
                same = True  # a tie for the most frequent value: either is right
            if not same:
                problems.append(f"{name}.{key}: loopml {a!r}, tfdv {b!r}")
    return problems, checked


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)


def _wide_csv(columns: int, rows: int, folder: Path) -> Path:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    arrays: dict[str, Any] = {}
    for i in range(columns):
        kind = i % 4
        if kind in (0, 1):
            arrays[f"f{i}"] = rng.normal(size=rows).round(4)
        elif kind == 2:
            arrays[f"i{i}"] = rng.integers(0, 1000, rows)
        else:
            arrays[f"s{i}"] = pa.array(np.char.add("v", rng.integers(0, 50, rows).astype(str)))
    path = folder / "wide.csv"
    pacsv.write_csv(pa.table(arrays), path)
    return path


_MEASURE = """
import json, os, time
import pyarrow as pa, pyarrow.csv as pacsv
from loopml.data import compute_statistics
def kb(key):
    line = next(x for x in open('/proc/self/status') if x.startswith(key))
    return int(line.split()[1])
open('/proc/self/clear_refs', 'w').write('5')  # reset the peak (VmHWM) to the current size
base = kb('VmRSS')
wall, cpu = time.perf_counter(), time.process_time()
{code}
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
print(json.dumps({{"wall": wall, "cpu": cpu, "peak_mb": (kb('VmHWM') - base) / 1024, "extra": extra}}))
"""


def _measure(code: str, src: str | None) -> dict[str, float]:
    """Wall and CPU seconds (all threads) and peak RSS (MB over the post-import size, Linux VmHWM) of
    ``code`` in a fresh interpreter; ``src`` replaces PYTHONPATH (another checkout's ``src``)."""
    import sys

    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    script = _MEASURE.format(code=code)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_wide(columns: int, rows: int, workers: int | None, baseline: str | None) -> None:
    """Read and statistics, each in a fresh process, REPEATS times; with ``baseline`` (a ``src``
    folder) its statistics run right after this code's in each round, on the same file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = _wide_csv(columns, rows, Path(tmp))
        size_mb = path.stat().st_size / 1e6
        read_code = f"t = pacsv.read_csv({str(path)!r}); extra = t.nbytes / 1e6"
        stats_code = f"compute_statistics({str(path)!r}, max_workers={workers!r}); extra = 0"
        codes = {"this code": None} if baseline is None else {"this code": None, "baseline": baseline}
        reads: list[dict[str, float]] = []
        stats: dict[str, list[dict[str, float]]] = {name: [] for name in codes}
        for _ in range(REPEATS):
            reads.append(_measure(read_code, None))
            for name, src in codes.items():
                stats[name].append(_measure(stats_code, src))

    def fmt(xs: list[float], unit: str = "") -> str:
        return f"{statistics.median(xs):,.2f}{unit} ({min(xs):,.2f}-{max(xs):,.2f})"

    table_mb = reads[0]["extra"]
    print(f"wide CSV: {columns} columns x {rows} rows, {size_mb:.0f} MB; Arrow table {table_mb:.0f} MB")
    print(f"each figure: median (range) of {REPEATS} runs, a fresh process each; rounds interleave the codes")
    read_cpu = [r["cpu"] for r in reads]
    print(
        f"  read_csv:  wall {fmt([r['wall'] for r in reads], ' s')}, CPU {fmt(read_cpu, ' s')}, "
        f"peak RSS +{fmt([r['peak_mb'] for r in reads], ' MB')}"
    )
    for name, runs in stats.items():
        cpu_ratio = [r["cpu"] / c for r, c in zip(runs, read_cpu, strict=True)]
        walls, cpus, peaks = ([r[key] for r in runs] for key in ("wall", "cpu", "peak_mb"))
        print(
            f"  statistics, {name}: wall {fmt(walls, ' s')}, CPU {fmt(cpus, ' s')}, CPU / read's "
            f"{fmt(cpu_ratio, 'x')}; peak RSS +{fmt(peaks, ' MB')}, "
            f"{fmt([p / table_mb for p in peaks], 'x')} the Arrow table"
        )
    print(f"  load average (1/5/15 min): {_load()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, action="append", help="rows (repeatable); default 1M and 10M")
    parser.add_argument(
        "--engines", nargs="+", default=None, help="local and/or ray (default: those installed)"
    )
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--tfdv-python", help="a Python with tensorflow-data-validation: compare with TFDV")
    parser.add_argument(
        "--tfdv-modes", nargs="+", choices=TFDV_MODES, default=list(DEFAULT_TFDV_MODES), help="TFDV modes"
    )
    parser.add_argument(
        "--tfdv-workers", type=int, default=os.cpu_count() or 1, help="Beam workers for the multi_* modes"
    )
    parser.add_argument("--tfdv-timeout", type=float, default=1800.0, help="seconds allowed per TFDV mode")
    parser.add_argument("--tfdv-worker", nargs=2, metavar=("MODE", "CSV_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--wide", nargs=2, type=int, metavar=("COLUMNS", "ROWS"), help="time wide data")
    parser.add_argument(
        "--baseline", metavar="SRC", help="with --wide: also measure the statistics of the code in SRC"
    )
    args = parser.parse_args()
    if args.wide:
        run_wide(args.wide[0], args.wide[1], args.workers, args.baseline)
        return
    if args.tfdv_worker:
        tfdv_worker(args.tfdv_worker[0], args.tfdv_worker[1], args.tfdv_workers)
        return
    import pyarrow as pa

    engines = args.engines or ["local"] + (["ray"] if importlib.util.find_spec("ray") else [])
    tfdv = None
    if args.tfdv_python:
        tfdv = TfdvOptions(
            python=args.tfdv_python,
            modes=tuple(args.tfdv_modes),
            workers=args.tfdv_workers,
            timeout_s=args.tfdv_timeout,
        )
    print(f"CPUs: {os.cpu_count()}, pyarrow {pa.__version__}, engines: {', '.join(engines)}")
    for rows in args.rows or [1_000_000, 10_000_000]:
        run(rows, engines, args.workers, tfdv)


if __name__ == "__main__":
    main()
