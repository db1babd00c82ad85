"""``loopml serve --grpc-port``: REST and gRPC from one process (or N workers), serve.yaml, bind errors."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton

from loopml.config import Settings
from loopml.errors import InvalidInput, InvalidState, MissingDependency
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from loopml.serving import DataPlane, ModelRepository, ModelSource, ServingMetrics, create_app
from loopml.serving.config import ServeConfig
from loopml.serving.grpc_server import GrpcOptions, attach_grpc, start_grpc_server
from tests.serving.conftest import Models
from tests.serving.test_cli import _MAIN, _env, _free_port


def test_serve_yaml_grpc_port(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text("port: 9000\ngrpc_port: 9001\nmodels: [models:/a@champion]\n")
    assert ServeConfig.load(path).grpc_port == 9001
    assert ServeConfig(models=(ModelSource(uri="x"),)).grpc_port is None
    with pytest.raises(InvalidInput, match="grpc_port must be an integer"):
        ServeConfig.from_mapping({"models": ["x"], "grpc_port": 70000})
    with pytest.raises(InvalidInput, match="needs a port of its own"):
        ServeConfig.from_mapping({"models": ["x"], "port": 9000, "grpc_port": 9000})
    with pytest.raises(InvalidInput, match="each of the workers a different port"):
        ServeConfig.from_mapping({"models": ["x"], "workers": 2, "grpc_port": 0})


def test_a_taken_grpc_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = start_grpc_server(
            DataPlane(ModelRepository([])),
            metrics=ServingMetrics(),
            authenticator=None,
            options=GrpcOptions(port=port),
        )
        with pytest.raises(InvalidState, match=f"Cannot listen for gRPC on 127.0.0.1:{port}"):
            asyncio.run(start)
        plane = DataPlane(ModelRepository([]))
        with pytest.raises(InvalidState, match=f"Cannot listen for gRPC on 127.0.0.1:{port}"):
            options = GrpcOptions(port=port)
            attach_grpc(
                create_app(plane), plane, metrics=ServingMetrics(), authenticator=None, options=options
            )


def test_without_grpcio_the_listener_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "grpc" else find_spec(name, *a)
    )
    plane = DataPlane(ModelRepository([]))
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[grpc\]'"):
        attach_grpc(
            create_app(plane), plane, metrics=ServingMetrics(), authenticator=None, options=GrpcOptions()
        )


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_loopml_serve_answers_grpc_beside_rest(models: Models, tmp_path: Path, workers: int) -> None:
    home = tmp_path / "home"
    services = Services(Settings(home=home))
    signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
    services.registry.register(
        package_model(models.numeric, tmp_path / "pkg", signature=signature), "cli-model"
    )
    services.close()
    port, grpc_port = _free_port(), _free_port()
    args = ["serve", "models:/cli-model/1", "--port", str(port), "--grpc-port", str(grpc_port)]
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, *args, "--workers", str(workers)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 300
        with triton.InferenceServerClient(f"127.0.0.1:{grpc_port}") as client:
            while True:
                assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
                try:
                    if client.is_server_ready():
                        break
                except Exception:  # not listening yet
                    pass
                assert time.monotonic() < deadline, "loopml serve --grpc-port did not become ready"
                time.sleep(0.2)
            x = models.numeric_x[:4]
            tensor = triton.InferInput("m", list(x.shape), "FP64")
            tensor.set_data_from_numpy(x)
            for _ in range(2 * workers):  # several connections, to reach each worker
                np.testing.assert_array_equal(
                    client.infer("cli-model", [tensor]).as_numpy("predict"), models.numeric.predict(x)
                )
        rest = httpx.post(f"http://127.0.0.1:{port}/invocations", json={"instances": x.tolist()})
        assert rest.json() == {"predictions": models.numeric.predict(x).tolist()}
        if workers == 1:  # one process: both protocols counted by the same metrics
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
            assert 'model="cli-model",protocol="grpc",status="200",version="1"} 2.0' in metrics
            assert 'model="cli-model",protocol="mlflow",status="200",version="1"} 1.0' in metrics
    finally:
        proc.terminate()
        proc.wait(timeout=30)
