"""Pipeline runner overhead: a no-op 50-step chain, cold and fully cached; and the census demo pipeline.

Run: ``.venv/bin/python benchmarks/pipeline.py [--steps 50] [--repeat 3] [--demo-repeat 1 | --skip-demo]``

Each step is a component that does nothing but return a tiny artifact, so the figures are the
runner's own cost per step: cache-key computation, store writes (execution, events, artifact,
context attachment), blob upload, and for the cached run the cache lookup. The store is a fresh
SQLite file and the blob store a local folder, as on a laptop.

The demo part runs ``src/loopml/examples/census/pipeline.py`` (what ``loopml demo`` runs) in a fresh home:
a cold run (every step executes: two models trained) and a second, fully cached run.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from loopml.artifacts import BlobStore
from loopml.pipeline import File, Pipeline, PipelineRunner, PipelineRunResult, StepState, component
from loopml.store.sql import open_store

CENSUS = Path(__file__).resolve().parents[1] / "src" / "loopml" / "examples" / "census" / "pipeline.py"


@component
def noop(previous: File | None = None, *, index: int = 0) -> File:
    """Return a tiny artifact; read nothing."""
    return File.from_properties({"index": index})


def chain(steps: int) -> Pipeline:
    """``steps`` no-op steps, each reading the previous one's output."""
    made = [noop.step("step_0", index=0)]
    for i in range(1, steps):
        made.append(noop.step(f"step_{i}", made[-1].output, index=i))
    return Pipeline("noop-chain", steps=made)


def measure(steps: int) -> tuple[float, float]:
    """Wall seconds of a cold run and of a fully cached rerun, on a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            runner = PipelineRunner(store, BlobStore(str(Path(tmp) / "blobs")))
            pipeline = chain(steps)
            t0 = time.perf_counter()
            cold = runner.run(pipeline)
            t1 = time.perf_counter()
            cached = runner.run(pipeline)
            t2 = time.perf_counter()
            if not cold.is_ok or any(s.state is not StepState.CACHED for s in cached.steps):
                raise SystemExit("benchmark pipeline did not run as expected")
            return t1 - t0, t2 - t1
        finally:
            store.close()


def _census() -> ModuleType:
    spec = importlib.util.spec_from_file_location("census_pipeline_bench", CENSUS)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {CENSUS}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure_demo() -> tuple[float, float, PipelineRunResult]:
    """Wall seconds of the census pipeline cold and fully cached in a fresh home, and the cold result."""
    census = _census()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = open_store(f"sqlite:///{home / 'store.db'}")
        try:
            runner = PipelineRunner(store, BlobStore(str(home / "artifacts")))
            pipeline = census.pipeline(home=home)
            t0 = time.perf_counter()
            cold = runner.run(pipeline)
            t1 = time.perf_counter()
            cached = runner.run(pipeline)
            t2 = time.perf_counter()
            if not cold.is_ok or any(s.state is not StepState.CACHED for s in cached.steps):
                raise SystemExit("the census pipeline did not run as expected")
            return t1 - t0, t2 - t1, cold
        finally:
            store.close()


def report_demo(repeat: int) -> None:
    """Print the census demo pipeline's cold and cached wall times (median of ``repeat``)."""
    results = [measure_demo() for _ in range(repeat)]
    cold = statistics.median(r[0] for r in results)
    cached = statistics.median(r[1] for r in results)
    steps = len(results[0][2].steps)
    print(f"census demo pipeline, {steps} steps, median of {repeat} runs (in-process executor, SQLite)")
    per_step = ", ".join(f"{s.name} {s.duration_s:.1f}s" for s in results[0][2].steps)
    print(f"  cold:   {cold:.2f} s  ({per_step})")
    print(f"  cached: {cached:.3f} s total, {cached / steps * 1000:.1f} ms per step")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--demo-repeat", type=int, default=1, help="Runs of the census demo pipeline.")
    parser.add_argument("--skip-demo", action="store_true", help="Only the no-op chain.")
    args = parser.parse_args()
    results = [measure(args.steps) for _ in range(args.repeat)]
    cold = statistics.median(r[0] for r in results)
    cached = statistics.median(r[1] for r in results)
    print(f"no-op pipeline, {args.steps} steps, median of {args.repeat} runs (in-process executor, SQLite)")
    print(f"  cold:   {cold:.3f} s total, {cold / args.steps * 1000:.1f} ms per step")
    print(f"  cached: {cached:.3f} s total, {cached / args.steps * 1000:.1f} ms per step")
    if not args.skip_demo:
        report_demo(args.demo_repeat)


if __name__ == "__main__":
    main()
