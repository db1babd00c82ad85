"""Start-up of ``loopml serve``: time to ready, CPU spent, idle RSS, against the floor of the stack.

Usage::

    .venv/bin/python benchmarks/serving_startup.py --rounds 3
    .venv/bin/python benchmarks/serving_startup.py --rounds 3 --baseline-src /path/to/other/checkout/src
    .venv/bin/python benchmarks/serving_startup.py --rounds 3 --demo-home /tmp/demo   # the census model

Per round (rounds interleaved, median and range printed): ``loopml serve models:/gbc/1`` (the
50-tree GBC of ``benchmarks/serving.py``, prediction log off; with ``--demo-home``, the demo's
``models:/census-employment@champion`` instead) from this checkout, and from
``--baseline-src`` when given (another checkout's ``src``, e.g. the previous commit, measured in the
same run); and the *floor*: a bare Python process that imports scikit-learn, loads the same fitted
model with joblib and predicts one row, which is what any server of this model pays before it does
anything of its own (KServe's start-up is this plus its web stack). Wall time to
``/v2/health/ready`` is noisy on a shared machine; the CPU seconds the process spent until then
(user + system) are the steadier figure. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serving  # the sibling benchmark: its model and server harness

_FLOOR = """
import sys, joblib
transform, model, row = joblib.load(sys.argv[1])
model.predict(row if transform is None else transform.transform(row))
print("ready", flush=True)
sys.stdin.read()
"""


def _cpu_s(pid: int) -> float:
    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def _loopml(home: Path, src: Path, uri: str) -> tuple[float, float, float]:
    port = serving._free_port()
    args = [sys.executable, "-c", "from loopml.cli import main; main()", "serve", uri]
    args += ["--port", str(port), "--no-prediction-log"]
    env = {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": str(src)}
    server = serving.Server(args, port=port, ready_path="/v2/health/ready", env=env)
    try:
        return server.startup_s, _cpu_s(server.proc.pid), server.idle_rss_mb
    finally:
        server.close()


def _floor(model_path: Path) -> tuple[float, float, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*serving._pin(0), sys.executable, "-c", _FLOOR, str(model_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    proc.stdout.readline()
    wall = time.perf_counter() - started
    cpu = _cpu_s(proc.pid)
    time.sleep(1.0)
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.stdin.close()
    proc.wait(timeout=30)
    return wall, cpu, rss


def _census_floor(home: Path, uri: str, path: Path) -> None:
    """The demo's fitted transform and model, and one raw census row, as the floor loads them."""
    import pandas as pd

    from loopml.config import Settings
    from loopml.services import Services

    with Services(Settings(home=home)) as services:
        predictor = services.registry.load(uri)
    signature = predictor.package.spec.signature
    assert signature is not None
    row = pd.read_parquet(serving.CENSUS).head(1)[list(signature.input_names)]
    joblib.dump((predictor.transform, predictor.model, row), path)


def _row(name: str, figures: list[tuple[float, float, float]]) -> str:
    cols = []
    for i, unit in enumerate(("s", "s", "MB")):
        values = [f[i] for f in figures]
        cols.append(f"{statistics.median(values):6.2f} [{min(values):.2f}-{max(values):.2f}] {unit}")
    return f"{name:10} " + "   ".join(cols)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src, measured in the same run")
    parser.add_argument("--demo-home", type=Path, help="LOOPML_HOME of `loopml demo`: the census model")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "floor.joblib"
        if args.demo_home:
            home, uri = args.demo_home.resolve(), "models:/census-employment@champion"
            _census_floor(home, uri, model_path)
        else:
            home, uri = Path(tmp) / "home", "models:/gbc/1"
            _, model = serving._register_gbc(home)
            joblib.dump((None, model, np.zeros((1, 16))), model_path)
        contenders = {
            "loopml": lambda: _loopml(home, serving.ROOT / "src", uri),
            "floor": lambda: _floor(model_path),
        }
        if args.baseline_src:
            contenders["baseline"] = lambda: _loopml(home, args.baseline_src.resolve(), uri)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, run in contenders.items():
                results[name].append(run())
        print(f"{uri}; load average after: {os.getloadavg()[0]:.1f}")
        print(f"{'':10} {'to ready (wall)':>26}   {'CPU until ready':>24}   {'idle RSS':>24}")
        for name, figures in results.items():
            print(_row(name, figures))


if __name__ == "__main__":
    main()
