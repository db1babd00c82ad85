"""Cost of the per-request guards of ``loopml serve`` on one 16-feature request, per request size.

Prints, for 1 and 100 rows, the median and range of 3 runs (each the mean of many calls) of:
building the request (the baseline every request pays), atypical scoring against training
statistics, and probing detection with a full 512-row window.

Run: ``python benchmarks/serving_guards.py``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from loopml.inference.atypical import AtypicalScorer
from loopml.inference.extraction import ExtractionCheck, ProbeDetector
from loopml.inference.inputs import from_columns
from loopml.inference.schema import InputSchema
from loopml.registry import ColumnSpec, ModelSignature
from loopml.registry.package.training_stats import compute_training_stats

NAMES = tuple(f"f{i}" for i in range(16))
SCHEMA = InputSchema.from_signature(
    ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in NAMES))
)


def _time(fn: Callable[[], object], calls: int) -> list[float]:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return runs


def main() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(5000, 16))
    stats = compute_training_stats(train, NAMES)
    scorer = AtypicalScorer(SCHEMA, stats)
    detector = ProbeDetector(SCHEMA, ExtractionCheck(max_probes=10**9, max_rows=512))
    for n in (1, 100):
        x = rng.normal(size=(n, 16))
        columns = {name: x[:, i] for i, name in enumerate(NAMES)}
        rows = from_columns(SCHEMA, columns, as_matrix=True)
        for _ in range(600):  # fill the caller's window
            detector.observe("bench", from_columns(SCHEMA, columns, as_matrix=True))
        calls = 2000 if n == 1 else 100
        for label, fn in (
            ("build request (baseline)", lambda c=columns: from_columns(SCHEMA, c, as_matrix=True)),
            ("atypical scoring", lambda r=rows: scorer.score(r)),
            ("probing detection", lambda r=rows: detector.observe("bench", r)),
        ):
            runs = _time(fn, calls)
            print(
                f"{n:>3} rows  {label:<26} median {statistics.median(runs):9.1f} us  "
                f"range {min(runs):.1f}-{max(runs):.1f} us"
            )


if __name__ == "__main__":
    main()
