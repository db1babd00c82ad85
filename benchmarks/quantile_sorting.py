"""CPU of the quantile summary's counting and sorting, against another checkout's in the same process.

For several kinds of numeric values (random floats, float32-exact floats, small integers, labels,
a day of timestamps in ms, a few repeated floats), 1M values are fed to a
:class:`~loopml.data._quantiles.QuantileSummary` the two ways the statistics feed it:

- monitoring: 24 updates of 41,600 values (one hour of the day's log each), counted when the
  buffer fills, then the result's view;
- batch scoring: 16 updates of 65,536 values, each flushed at once (the writer thread does).

With ``--baseline SRC`` the module is also loaded from ``SRC/loopml/data/_quantiles.py`` (e.g. a
``git archive main`` copy) and both run alternately, ``--runs`` times each; the serialised bytes
of both are compared too. Prints the median and range of the process CPU time per value.

Usage: ``python benchmarks/quantile_sorting.py [--baseline /tmp/base/src] [--runs 3]``
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from loopml.data import _quantiles

VALUES = 1_000_000


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_quantiles", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _kinds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "random floats": rng.normal(size=VALUES),
        "float32-exact": rng.normal(size=VALUES).astype(np.float32).astype(np.float64),
        "integers 0..4999": rng.integers(0, 5_000, VALUES).astype(np.float64),
        "labels 0/1": rng.integers(0, 2, VALUES).astype(np.float64),
        "timestamps (a day, ms)": 1.7e12 + rng.integers(0, 86_400_000, VALUES).astype(np.float64),
        "4 repeated floats": rng.choice([0.0, 1.5, 2.25, 1e9], VALUES),
    }


def _feed(module: ModuleType, values: np.ndarray, batch: int, flush: bool) -> tuple[float, bytes]:
    started = time.process_time()
    summary = module.QuantileSummary()
    for start in range(0, values.size, batch):
        summary.update(values[start : start + batch])
        if flush:
            summary.flush()
    summary.quantiles([0.5])
    return time.process_time() - started, summary.to_bytes()


def _ns(seconds: list[float]) -> str:
    """Median [range] in ns a value."""
    ns = [x / VALUES * 1e9 for x in seconds]
    return f"{statistics.median(ns):.1f} [{min(ns):.1f}-{max(ns):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", type=Path, default=None, help="a source tree holding loopml/")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    modules = {"this": _quantiles}
    if args.baseline:
        modules["baseline"] = _load(args.baseline / "loopml" / "data" / "_quantiles.py")
    kinds = _kinds(np.random.default_rng(0))
    shapes = {"monitoring (41,600 a batch)": (41_600, False), "scoring (65,536, flushed)": (65_536, True)}
    print("| values | feed | " + " | ".join(f"{name} ns/value" for name in modules) + " | speed-up |")
    print("| --- | --- | " + " | ".join("---" for _ in modules) + " | --- |")
    for kind, values in kinds.items():
        for shape, (batch, flush) in shapes.items():
            seconds: dict[str, list[float]] = {name: [] for name in modules}
            stored: dict[str, bytes] = {}
            for _ in range(args.runs):
                for name, module in modules.items():
                    cpu, stored[name] = _feed(module, values, batch, flush)
                    seconds[name].append(cpu)
            if len(set(stored.values())) != 1:
                raise SystemExit(f"{kind}, {shape}: the two summaries differ")
            cells = [_ns(s) for s in seconds.values()]
            gain = (
                f"{statistics.median(seconds['baseline']) / statistics.median(seconds['this']):.1f}x"
                if "baseline" in seconds
                else "-"
            )
            print(f"| {kind} | {shape} | " + " | ".join(cells) + f" | {gain} |")


if __name__ == "__main__":
    main()
