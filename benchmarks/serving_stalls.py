"""Where the model server's time goes under load, measured inside the served process.

Usage::

    .venv/bin/python benchmarks/serving_stalls.py                       # 1 row, 3 rounds of 5 s
    .venv/bin/python benchmarks/serving_stalls.py --rows 100 --duration 5 --rounds 3

``loopml serve`` (the 50-tree GBC on 16 features of ``benchmarks/serving.py``, 1 worker, pinned to
CPU 0) runs under ``wrk -t1 -c8`` (CPU 1) in a few variants, interleaved over the rounds. The
served process is started through this script, which installs, before ``loopml serve`` runs:

* a ``gc.callbacks`` hook timing every collection, per generation;
* a thread that sleeps 2 ms at a time and counts the wake-ups late by more than 10 ms: a thread
  holding the GIL that long (a full collection, a long native call without releasing it) or the
  machine not scheduling the process; only the difference to another variant of the same round
  means something on a loaded machine;
* the CPU time of each thread (``/proc/self/task``), read at the start and end of each wrk run.

Variants: ``log-off`` / ``log-on`` serve as ``loopml serve`` does (``before:log-off`` /
``before:log-on`` the same from the checkout given with ``--baseline-src``); ``*-unfrozen`` call
``gc.unfreeze()`` once the server is ready, which is how the server ran before it froze the
objects of start-up (``gc.freeze()`` once the app is ready); ``switch-1ms`` sets
``sys.setswitchinterval(0.001)``. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

_CHILD = "--served-process"


def _child(argv: list[str]) -> None:  # runs inside the served process
    import gc
    import threading

    out = Path(os.environ["STALLS_OUT"])
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]
    stalls = [0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append(time.perf_counter() - started[0])

    gc.callbacks.append(on_gc)

    def watch() -> None:
        while True:
            before = time.perf_counter()
            time.sleep(0.002)
            if time.perf_counter() - before > 0.012:
                stalls[0] += 1

    threading.Thread(target=watch, name="stall-watch", daemon=True).start()
    ticks = os.sysconf("SC_CLK_TCK")

    def thread_cpu() -> dict[str, float]:
        names = {t.native_id: t.name for t in threading.enumerate()}
        found: dict[str, float] = {}
        for task in Path("/proc/self/task").iterdir():
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            name = names.get(int(task.name), "native")
            name = name.split("_")[0] if name.startswith(("predict", "route", "shadow")) else name
            found[name] = found.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        return found

    def reset(*_: object) -> None:
        for values in pauses.values():
            values.clear()
        stalls[0] = 0
        out.with_suffix(".start").write_text(json.dumps(thread_cpu()))

    def dump(*_: object) -> None:
        report = {
            "gc": {str(g): v for g, v in pauses.items()},
            "stalls": stalls[0],
            "cpu": thread_cpu(),
            "tracked": len(gc.get_objects()),
            "frozen": gc.get_freeze_count(),
        }
        out.write_text(json.dumps(report))

    signal.signal(signal.SIGUSR2, reset)
    signal.signal(signal.SIGUSR1, dump)
    if os.environ.get("STALLS_SWITCH"):
        sys.setswitchinterval(float(os.environ["STALLS_SWITCH"]))
    if os.environ.get("STALLS_UNFREEZE"):
        port = argv[argv.index("--port") + 1]

        def unfreeze_when_ready() -> None:
            import urllib.request

            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2):
                        break
                except OSError:
                    time.sleep(0.05)
            gc.unfreeze()

        threading.Thread(target=unfreeze_when_ready, daemon=True).start()
    from loopml.cli import main

    sys.argv = ["loopml", *argv]
    main()


def _variants(rows: int, baseline: Path | None, only: str | None) -> list[tuple[str, bool, dict[str, str]]]:
    variants = []
    if baseline is not None:
        variants += [
            ("before:log-off", False, {"PYTHONPATH": str(baseline)}),
            ("before:log-on", True, {"PYTHONPATH": str(baseline)}),
        ]
    variants += [
        ("log-off-unfrozen", False, {"STALLS_UNFREEZE": "1"}),
        ("log-off", False, {}),
        ("log-on-unfrozen", True, {"STALLS_UNFREEZE": "1"}),
        ("log-on", True, {}),
    ]
    if rows == 1:
        variants.append(("log-off-switch-1ms", False, {"STALLS_SWITCH": "0.001"}))
    return [v for v in variants if only is None or v[0] in only.split(",")]


def _signal_and_read(proc_pid: int, sig: int, path: Path) -> dict[str, object]:
    path.unlink(missing_ok=True)
    os.kill(proc_pid, sig)
    deadline = time.monotonic() + 30
    while not path.exists() or not path.stat().st_size:
        if time.monotonic() > deadline:
            raise SystemExit(f"the served process did not answer signal {sig}")
        time.sleep(0.05)
    time.sleep(0.05)
    return dict(json.loads(path.read_text()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1, help="rows per request")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="the src folder of another checkout (e.g. before a change): adds its log-off/log-on as "
        "variants 'before:...' in the same rounds",
    )
    parser.add_argument("--variants", help="comma-separated labels of the variants to run (default all)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import serving as base  # benchmarks/serving.py: the server process, wrk, the GBC model

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="loopml-bench-stalls-"))
    home = work / "home"
    try:
        base._register_gbc(home)
        body = base._gbc_body(args.rows)
        found: dict[str, list[dict[str, float]]] = {}
        for _ in range(args.rounds):
            for label, log, knobs in _variants(args.rows, args.baseline_src, args.variants):
                port = base._free_port()
                serve = ["serve", "models:/gbc/1", "--port", str(port)]
                if not log:
                    serve.append("--no-prediction-log")
                out = work / f"{label}.json"
                env = {**os.environ, "LOOPML_HOME": str(home), "STALLS_OUT": str(out)}
                env |= {"PYTHONPATH": str(base.ROOT / "src"), **knobs}
                command = [sys.executable, __file__, _CHILD, *serve]
                server = base.Server(command, port=port, ready_path="/v2/health/ready", env=env)
                try:
                    url = f"{server.url}/v2/models/gbc/infer"
                    base._wrk(url, body, duration=1, workdir=work)  # warm-up
                    _signal_and_read(server.proc.pid, signal.SIGUSR2, out.with_suffix(".start"))
                    start = json.loads(out.with_suffix(".start").read_text())
                    rps, p99 = base._wrk(url, body, duration=args.duration, workdir=work)
                    report = _signal_and_read(server.proc.pid, signal.SIGUSR1, out)
                finally:
                    server.close()
                requests = rps * args.duration
                cpu = {k: v - start.get(k, 0.0) for k, v in report["cpu"].items()}  # type: ignore[attr-defined]
                gcs = report["gc"]
                row = {"rps": rps, "p99": p99, "stalls/1k": 1000 * report["stalls"] / requests}  # type: ignore[operator]
                for gen in "012":
                    pauses = gcs[gen]  # type: ignore[index]
                    row[f"gen{gen} n"] = len(pauses)
                    row[f"gen{gen} max ms"] = 1000 * max(pauses, default=0.0)
                row["gc ms/s"] = 1000 * sum(sum(gcs[g]) for g in "012") / args.duration  # type: ignore[index]
                row["tracked k"] = report["tracked"] / 1000  # type: ignore[operator]
                row["frozen k"] = report["frozen"] / 1000  # type: ignore[operator]
                row["cpu us/req"] = 1e6 * sum(cpu.values()) / requests
                for thread, seconds in sorted(cpu.items()):
                    if seconds > 0.005 and thread != "stall-watch":
                        row[f"cpu {thread} us/req"] = 1e6 * seconds / requests
                found.setdefault(label, []).append(row)
        print(
            f"loopml serve, 1 worker, {args.rows} row(s), wrk -t1 -c8 -d{args.duration}s, "
            f"{args.rounds} rounds: median [range]; load average {os.getloadavg()[0]:.1f}"
        )
        for label, rows in found.items():
            print(f"{label}:")
            keys = sorted(
                {k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99
            )
            for key in keys:
                values = [r.get(key, 0.0) for r in rows]
                print(f"  {key:28} {statistics.median(values):10.1f} [{min(values):.1f}-{max(values):.1f}]")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        _child(sys.argv[2:])
    else:
        main()
