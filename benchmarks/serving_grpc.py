"""Model-server benchmark, gRPC: ``loopml serve --grpc-port`` under a Python ``grpc.aio`` load loop.

Usage::

    .venv/bin/python benchmarks/serving_grpc.py                       # 50-tree GBC on 16 features
    .venv/bin/python benchmarks/serving_grpc.py --duration 10 --rounds 3

Figures, per payload (1 row and 100 rows per request, one ``[n, 16]`` FP64 tensor): requests/s and
p99 latency with 8 requests in flight, the median and range of ``--rounds`` rounds, one server
process per round answering both protocols.

* gRPC: ``ModelInfer`` with ``raw_input_contents`` (what ``tritonclient.grpc`` sends), sent by a
  Python ``grpc.aio`` loop (8 tasks on one channel) through Triton's compiled client stubs. ``ghz``
  is not packaged for Debian; this loop costs more client CPU than a C load generator, so its
  figures are a floor for the server.
* REST (reference, same server, same round): Open Inference Protocol JSON under ``wrk -t1 -c8``
  when ``wrk`` is installed.

The server is pinned to CPU 0 and the load generators to CPU 1 where two CPUs exist. Nothing here
is asserted by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import numpy as np
from tritonclient.grpc import service_pb2 as tpb
from tritonclient.grpc import service_pb2_grpc as tstubs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import ROOT, _free_port, _gbc_body, _pin, _register_gbc, _summary, _wrk

IN_FLIGHT = 8


def _request(rows: int) -> tpb.ModelInferRequest:
    x = np.random.default_rng(1).normal(size=(rows, 16))
    tensor = tpb.ModelInferRequest.InferInputTensor(name="x", datatype="FP64", shape=[rows, 16])
    return tpb.ModelInferRequest(
        model_name="gbc", inputs=[tensor], raw_input_contents=[x.astype("<f8").tobytes()]
    )


async def _grpc_load(target: str, request: tpb.ModelInferRequest, duration: float) -> tuple[float, float]:
    """(requests/s, p99 ms) of IN_FLIGHT concurrent callers over ``duration`` seconds."""
    latencies: list[float] = []
    async with grpc.aio.insecure_channel(target) as channel:
        stub = tstubs.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request)
        stop = time.perf_counter() + duration

        async def caller() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                await stub.ModelInfer(request)
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(IN_FLIGHT)))
        elapsed = time.perf_counter() - began
    return len(latencies) / elapsed, float(np.percentile(latencies, 99)) * 1000


class Server:
    """One ``loopml serve --grpc-port`` process."""

    def __init__(self, home: Path, uri: str) -> None:
        self.port, self.grpc_port = _free_port(), _free_port()
        args = [sys.executable, "-c", "from loopml.cli import main; main()", "serve", uri]
        args += ["--port", str(self.port), "--grpc-port", str(self.grpc_port), "--no-prediction-log"]
        env = {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": str(ROOT / "src")}
        self.proc = subprocess.Popen(
            _pin(0) + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 300
        with grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}") as channel:
            stub = tstubs.GRPCInferenceServiceStub(channel)
            while True:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise SystemExit(f"loopml serve exited: {err}")
                try:
                    if stub.ServerReady(tpb.ServerReadyRequest(), timeout=2).ready:
                        break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise SystemExit("loopml serve --grpc-port did not become ready") from None
                    time.sleep(0.05)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(0, {1})
    has_wrk = shutil.which("wrk") is not None
    work = Path(tempfile.mkdtemp(prefix="loopml-bench-grpc-"))
    try:
        uri, _ = _register_gbc(work / "home")
        results: dict[tuple[str, int], list[tuple[float, float]]] = {}
        for _ in range(args.rounds):
            server = Server(work / "home", uri)
            try:
                for rows in (1, 100):
                    request = _request(rows)
                    asyncio.run(_grpc_load(f"127.0.0.1:{server.grpc_port}", request, 1))  # warm-up
                    results.setdefault(("grpc", rows), []).append(
                        asyncio.run(_grpc_load(f"127.0.0.1:{server.grpc_port}", request, args.duration))
                    )
                    if has_wrk:
                        url = f"http://127.0.0.1:{server.port}/v2/models/gbc/infer"
                        _wrk(url, _gbc_body(rows), duration=1, workdir=work)
                        results.setdefault(("rest (wrk)", rows), []).append(
                            _wrk(url, _gbc_body(rows), duration=args.duration, workdir=work)
                        )
            finally:
                server.close()
        print(
            f"loopml serve --grpc-port, 1 worker, gbc-16, {IN_FLIGHT} in flight, {args.duration}s runs, "
            f"{args.rounds} rounds: median [range]"
        )
        print(f"{'protocol':12} {'rows':>4} {'requests/s':>24} {'p99 ms':>24}")
        for (protocol, rows), runs in sorted(results.items()):
            rps, p99 = _summary([r for r, _ in runs]), _summary([p for _, p in runs])
            print(f"{protocol:12} {rows:>4} {rps:>24} {p99:>24}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
