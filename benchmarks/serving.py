"""Model-server benchmark: ``loopml serve`` under ``wrk`` on loopback, 8 connections.

Usage::

    .venv/bin/python benchmarks/serving.py                         # the 50-tree GBC on 16 features
    .venv/bin/python benchmarks/serving.py --demo-home /tmp/demo   # + the demo's census model
    .venv/bin/python benchmarks/serving.py --duration 10 --rounds 3
    .venv/bin/python benchmarks/serving.py --anchors /work/anchors   # + MLServer, KServe, mlflow serve
    .venv/bin/python benchmarks/serving.py --baseline-src /tmp/base/src  # + an older tree, same rounds

Figures, per model and payload (1 row and 100 rows per request, Open Inference Protocol JSON):
requests/s and p99 latency under 8 concurrent connections (``wrk -t1 -c8``), the median and range of
``--rounds`` interleaved rounds, with the prediction log on and off; the time from process start to
``/v2/health/ready``; and the idle RSS of the serving process. The server is pinned to CPU 0 and
``wrk`` to CPU 1 where ``taskset`` and two CPUs exist. Nothing here is asserted by the tests.

With ``--anchors DIR`` the same 50-tree model (the same fitted estimator, saved with joblib) is also
served, in the same rounds, by the anchors, each from its own virtual environment under ``DIR``:
``DIR/mlserver`` (MLServer 1.7 + mlserver-sklearn, Open Inference Protocol JSON), ``DIR/kserve``
(KServe 0.21 ``ModelServer`` with a ``kserve.Model`` around the estimator, V1 ``instances``) and
``mlflow models serve`` from ``DIR/mlflow`` (MLflow 3.x; ``dataframe_split``).
Each answers with the model's ``predict``; loopml too (its default output for a classifier).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
CENSUS = ROOT / "src" / "loopml" / "examples" / "census" / "data" / "year=2018.parquet"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pin(cpu: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


def _register_gbc(home: Path) -> tuple[str, object]:
    from sklearn.ensemble import GradientBoostingClassifier

    from loopml.config import Settings
    from loopml.registry import ColumnSpec, ModelSignature, package_model
    from loopml.services import Services

    rng = np.random.default_rng(0)
    x = rng.normal(size=(5000, 16))
    y = (x[:, 0] + x[:, 1] * x[:, 2] - x[:, 3] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0).fit(x, y)
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=f"f{i}", type="double") for i in range(16)))
    services = Services(Settings(home=home))
    registry = services.registry
    registry.register(package_model(model, home / "gbc-pkg", signature=signature), "gbc")
    services.close()
    return "models:/gbc/1", model


def _gbc_body(rows: int) -> bytes:
    x = np.random.default_rng(1).normal(size=(rows, 16))
    tensor = {"name": "x", "shape": [rows, 16], "datatype": "FP64", "data": x.reshape(-1).tolist()}
    return json.dumps({"inputs": [tensor]}).encode()


def _census_body(rows: int) -> bytes:
    import pandas as pd

    frame = pd.read_parquet(CENSUS).head(rows)
    meta_cols = ["AGEP", "MAR", "RELP", "DIS", "ESP", "CIT", "MIG", "MIL", "ANC", "NATIVITY", "DEAR", "DEYE",
                 "DREM", "SEX", "RAC1P", "SCHL"]  # fmt: skip
    inputs = []
    for name in meta_cols:
        values = frame[name].to_numpy()
        kind = "FP64" if name == "AGEP" else "INT64"
        data = values.astype(float).tolist() if kind == "FP64" else values.astype(int).tolist()
        inputs.append({"name": name, "shape": [rows], "datatype": kind, "data": data})
    return json.dumps({"inputs": inputs}).encode()


def _rows(rows: int) -> list[list[float]]:
    return np.random.default_rng(1).normal(size=(rows, 16)).tolist()  # the rows of _gbc_body


def _instances_body(rows: int) -> bytes:
    return json.dumps({"instances": _rows(rows)}).encode()


def _split_body(rows: int, columns: list[str]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns, "data": _rows(rows)}}).encode()


class Server:
    """One model-server process (``loopml serve`` or an anchor), ready when ``ready_path`` answers."""

    def __init__(
        self,
        args: list[str],
        *,
        port: int,
        ready_path: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        name: str = "loopml serve",
    ) -> None:
        self.port = port
        started = time.perf_counter()
        # Logs go to a file: a pipe nobody reads fills up and stalls a server that logs every request.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            _pin(0) + args,
            env=env or dict(os.environ),
            cwd=cwd,
            stdout=self._log,
            stderr=self._log,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name} exited: {self._read_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}{ready_path}", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not become ready") from None
                time.sleep(0.05)
        self.startup_s = time.perf_counter() - started
        time.sleep(1.0)
        self.idle_rss_mb = (
            sum(
                p.memory_info().rss
                for p in [
                    psutil.Process(self.proc.pid),
                    *psutil.Process(self.proc.pid).children(recursive=True),
                ]
            )
            / 2**20
        )

    def _read_log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-4000:]

    @classmethod
    def loopml(cls, home: Path, uri: str, *, log: bool, src: Path = ROOT / "src") -> Server:
        port = _free_port()
        args = [
            sys.executable,
            "-c",
            "from loopml.cli import main; main()",
            "serve",
            uri,
            "--port",
            str(port),
        ]
        if not log:
            args.append("--no-prediction-log")
        env = {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": str(src)}
        return cls(args, port=port, ready_path="/v2/health/ready", env=env)

    def close(self) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._log.close()


_KSERVE_MAIN = """
import sys, joblib, numpy as np, kserve

class GBC(kserve.Model):
    def __init__(self, path):
        super().__init__("gbc")
        self.model = joblib.load(path)
        self.ready = True

    def predict(self, payload, headers=None):
        return {"predictions": self.model.predict(np.asarray(payload["instances"])).tolist()}

server = kserve.ModelServer(http_port=int(sys.argv[2]), grpc_port=int(sys.argv[3]), workers=1)
server.start([GBC(sys.argv[1])])
"""


@dataclass
class Anchor:
    """How to start one anchor and what it is sent."""

    name: str
    start: Callable[[], Server]
    path: str
    body: Callable[[int], bytes]


def _anchors(root: Path, work: Path, model: object) -> list[Anchor]:
    import joblib

    folder = work / "anchors"
    folder.mkdir()
    joblib.dump(model, folder / "model.joblib")
    columns = [f"f{i}" for i in range(16)]
    found: list[Anchor] = []
    mlserver = root / "mlserver" / "bin" / "mlserver"
    if mlserver.exists():
        (folder / "model-settings.json").write_text(
            json.dumps(
                {
                    "name": "gbc",
                    "implementation": "mlserver_sklearn.SKLearnModel",
                    "parameters": {"uri": str(folder / "model.joblib"), "version": "v1"},
                }
            )
        )

        def start_mlserver() -> Server:
            port, grpc, metrics = _free_port(), _free_port(), _free_port()
            (folder / "settings.json").write_text(
                json.dumps(
                    {"http_port": port, "grpc_port": grpc, "metrics_port": metrics, "host": "127.0.0.1"}
                )
            )
            return Server([str(mlserver), "start", str(folder)], port=port, ready_path="/v2/models/gbc/ready",
                          cwd=folder, name="MLServer")  # fmt: skip

        found.append(Anchor("mlserver", start_mlserver, "/v2/models/gbc/infer", _gbc_body))
    kserve_python = root / "kserve" / "bin" / "python"
    if kserve_python.exists():
        script = folder / "kserve_main.py"
        script.write_text(_KSERVE_MAIN)

        def start_kserve() -> Server:
            port = _free_port()
            args = [
                str(kserve_python),
                str(script),
                str(folder / "model.joblib"),
                str(port),
                str(_free_port()),
            ]
            return Server(args, port=port, ready_path="/v1/models/gbc", name="KServe")

        found.append(Anchor("kserve", start_kserve, "/v1/models/gbc:predict", _instances_body))
    mlflow_python = root / "mlflow" / "bin" / "python"
    if mlflow_python.exists():
        mlflow_model = folder / "mlflow-model"
        subprocess.run(
            [str(mlflow_python), "-c", "import sys, joblib, mlflow.sklearn; "
             "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], "
             "serialization_format='cloudpickle')",  # MLflow's classic format; skops refuses its Tree
             str(folder / "model.joblib"), str(mlflow_model)],
            check=True, capture_output=True,
        )  # fmt: skip
        mlflow_bin = mlflow_python.parent / "mlflow"

        def start_mlflow() -> Server:
            port = _free_port()
            args = [str(mlflow_bin), "models", "serve", "-m", str(mlflow_model), "-p", str(port),
                    "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"]  # fmt: skip
            path = f"{mlflow_bin.parent}{os.pathsep}{os.environ.get('PATH', '')}"  # it runs `uvicorn`
            return Server(
                args,
                port=port,
                ready_path="/ping",
                env={**os.environ, "PATH": path},
                name="mlflow models serve",
            )

        found.append(Anchor("mlflow", start_mlflow, "/invocations", lambda rows: _split_body(rows, columns)))
    return found


def _wrk(url: str, body: bytes, *, duration: int, workdir: Path) -> tuple[float, float]:
    body_file = workdir / "body.json"
    body_file.write_bytes(body)
    script = workdir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
    )
    out = subprocess.run(
        [*_pin(1), "wrk", "-t1", "-c8", f"-d{duration}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_text = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99_text is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99_text.group(2)]
    return rps, float(p99_text.group(1)) * scale


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--demo-home", type=Path, help="LOOPML_HOME of `loopml demo` (adds the census model)")
    parser.add_argument("--anchors", type=Path, help="folder of the anchors' virtual environments")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        help="another tree's src/ (e.g. `git archive REV | tar -x -C DIR`): its `loopml serve` of the "
        "50-tree GBC runs in the same rounds as `gbc-base`",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="loopml-bench-serving-"))
    try:
        gbc_uri, gbc_model = _register_gbc(work / "home")
        gbc_bodies = {1: _gbc_body(1), 100: _gbc_body(100)}
        cases: list[tuple[str, Path, str, dict[int, bytes], Path]] = [
            ("gbc-16", work / "home", gbc_uri, gbc_bodies, ROOT / "src")
        ]
        if args.baseline_src:
            cases.append(("gbc-base", work / "home", gbc_uri, gbc_bodies, args.baseline_src.resolve()))
        anchors = _anchors(args.anchors, work, gbc_model) if args.anchors else []
        if args.demo_home:
            bodies = {1: _census_body(1), 100: _census_body(100)}
            census = "models:/census-employment@champion"
            cases.append(("census", args.demo_home, census, bodies, ROOT / "src"))
        results: dict[tuple[str, int, bool], list[tuple[float, float]]] = {}
        starts: dict[str, list[float]] = {}
        rss: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for label, home, uri, bodies, src in cases:
                for log in (True, False):
                    server = Server.loopml(home, uri, log=log, src=src)
                    try:
                        starts.setdefault(label, []).append(server.startup_s)
                        rss.setdefault(label, []).append(server.idle_rss_mb)
                        name = uri.removeprefix("models:/").split("@")[0].split("/")[0]
                        for rows, body in bodies.items():
                            url = f"{server.url}/v2/models/{name}/infer"
                            _wrk(url, body, duration=1, workdir=work)  # warm-up
                            results.setdefault((label, rows, log), []).append(
                                _wrk(url, body, duration=args.duration, workdir=work)
                            )
                    finally:
                        server.close()
            for anchor in anchors:
                server = anchor.start()
                try:
                    starts.setdefault(anchor.name, []).append(server.startup_s)
                    rss.setdefault(anchor.name, []).append(server.idle_rss_mb)
                    for rows in (1, 100):
                        body = anchor.body(rows)
                        _wrk(server.url + anchor.path, body, duration=1, workdir=work)  # warm-up
                        results.setdefault((anchor.name, rows, False), []).append(
                            _wrk(server.url + anchor.path, body, duration=args.duration, workdir=work)
                        )
                finally:
                    server.close()
        print(f"loopml serve, 1 worker, wrk -t1 -c8 -d{args.duration}s, {args.rounds} rounds: median [range]")
        print(f"{'model':8} {'rows':>4} {'log':>4} {'requests/s':>24} {'p99 ms':>24}")
        for (label, rows, log), runs in results.items():
            print(f"{label:8} {rows:>4} {'on' if log else 'off':>4} {_summary([r for r, _ in runs]):>24} "
                  f"{_summary([p for _, p in runs]):>24}")  # fmt: skip
        for label in starts:
            print(
                f"{label}: start-up to ready {_summary(starts[label])} s; idle RSS {_summary(rss[label])} MB"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
