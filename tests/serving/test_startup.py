"""``loopml serve`` start-up imports only what serving the given models needs.

Run in a fresh interpreter up to the point where the server would listen (``uvicorn.run`` is
replaced): which heavy libraries start-up pulled in is read from ``sys.modules`` (a check of what
is imported, not of how long it took).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loopml.config import Settings
from loopml.registry import ColumnSpec, ModelSignature, package_model
from loopml.services import Services
from tests.serving.conftest import Models

#: Not needed to serve a scikit-learn model over HTTP without tracing: gRPC (only with
#: --grpc-port), OpenTelemetry (only with tracing on), and what skops' default trusted-type lists
#: import (every scikit-learn module, and pytest through ``sklearn.utils._testing``).
NOT_FOR_SERVING = (
    "grpc",
    "grpc_reflection",
    "google.protobuf",
    "loopml.serving.protocols.grpc_v2",
    "opentelemetry",
    "opentelemetry.sdk",
    "sklearn.utils._testing",
    "sklearn.datasets",
    "pytest",
    "_pytest",
    "alembic",
    # Deployments (only with --deployment): routing, rollout gates and, through the gates, the data
    # package's statistics engines and dataset versions.
    "loopml.serving.deployments",
    "loopml.deploy.service",
    "loopml.data",
    "datasketches",
    "pyarrow.dataset",
    "pyarrow.csv",
    # The histogram-boosting tree check's package, for a model without trees.
    "sklearn.ensemble",
    # Parquet: the prediction log's first write, the feedback route's first label.
    "pyarrow.parquet",
)

_PROBE = """
import gc, json, sys
import uvicorn

def listen(*args, **kwargs):
    watched = sorted(set(sys.modules) & set(json.loads(%r)))
    trusted = sys.modules["skops.io._trusted_types"]
    print(json.dumps({
        "imported": watched,
        "gc_enabled": gc.isenabled(),
        "estimator_defaults": len(trusted.SKLEARN_ESTIMATOR_TYPE_NAMES),
        "kwargs": sorted(kwargs),
    }), file=sys.stderr)
    raise SystemExit(0)

uvicorn.run = listen
from loopml.cli import main
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def home(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("startup")
    with Services(Settings(home=root / "home")) as services:
        signature = ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in "abcd"))
        services.registry.register(package_model(models.numeric, root / "pkg", signature=signature), "lean")
    return root / "home"


def _start(home: Path, *args: str) -> dict[str, object]:
    env = {**os.environ, "LOOPML_HOME": str(home), "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("LOOPML_REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE % json.dumps(NOT_FOR_SERVING), "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stderr.strip().splitlines()[-1])
    return result


def test_serve_start_up_imports_neither_grpc_nor_tracing_nor_skops_defaults(home: Path) -> None:
    result = _start(home, "models:/lean/1", "--no-prediction-log")
    assert result["imported"] == []
    assert result["kwargs"] == ["access_log", "host", "log_level", "port"]


def test_serve_start_up_with_the_prediction_log_leaves_parquet_to_the_first_write(home: Path) -> None:
    result = _start(home, "models:/lean/1", "--prediction-log")
    assert result["imported"] == []


def test_serve_start_up_leaves_the_garbage_collector_on(home: Path) -> None:
    result = _start(home, "models:/lean/1", "--no-prediction-log")
    assert result["gc_enabled"] is True
    assert result["estimator_defaults"] == 0  # skops' narrowed lists, see registry/flavors/_skops_defaults


def test_a_failed_start_up_switches_the_collector_back_on(tmp_path: Path) -> None:
    from loopml.cli import main

    assert gc.isenabled()
    with pytest.raises(SystemExit) as exit_:
        main(["--home", str(tmp_path / "home"), "serve"])  # nothing to serve
    assert exit_.value.code == 2
    assert gc.isenabled()
