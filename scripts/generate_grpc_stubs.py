"""Regenerate the Open Inference Protocol gRPC modules from ``grpc_predict_v2.proto``.

Usage (from the repository root)::

    python -m venv /tmp/grpc-gen && /tmp/grpc-gen/bin/pip install 'grpcio-tools==1.76.0'
    /tmp/grpc-gen/bin/python scripts/generate_grpc_stubs.py

grpcio-tools 1.76 bundles protobuf 6.x: the generated modules then load on protobuf 6.31+ and 7.x
and need grpcio >= 1.76 (the floors of the ``grpc`` extra in pyproject.toml).

Two rewrites follow protoc:

* the messages live in a private descriptor pool, so the server can share a process with another
  copy of the same protocol (``tritonclient.grpc`` registers the same ``inference.*`` names in the
  default pool, and two registrations of one name are refused);
* the service module imports the messages relative to its package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROTOCOLS = Path(__file__).resolve().parents[1] / "src" / "loopml" / "serving" / "protocols"
PROTO = "grpc_predict_v2.proto"
DEFAULT_POOL = "_descriptor_pool.Default().AddSerializedFile("
PRIVATE_POOL = "POOL.AddSerializedFile("


def _rewrite(path: Path, old: str, new: str, *, prefix: str = "") -> None:
    text = path.read_text(encoding="utf-8")
    if old not in text:
        raise SystemExit(f"{path.name}: expected {old!r} in the generated code; update this script.")
    path.write_text(prefix + text.replace(old, new, 1), encoding="utf-8")


def main() -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOCOLS}",
            f"--python_out={PROTOCOLS}",
            f"--pyi_out={PROTOCOLS}",
            f"--grpc_python_out={PROTOCOLS}",
            str(PROTOCOLS / PROTO),
        ],
        check=True,
    )
    messages = PROTOCOLS / "grpc_predict_v2_pb2.py"
    _rewrite(
        messages,
        DEFAULT_POOL,
        PRIVATE_POOL,
    )
    _rewrite(
        messages,
        "# @@protoc_insertion_point(imports)\n",
        "# @@protoc_insertion_point(imports)\n\nPOOL = _descriptor_pool.DescriptorPool()\n",
    )
    _rewrite(
        PROTOCOLS / "grpc_predict_v2_pb2_grpc.py",
        "import grpc_predict_v2_pb2 as",
        "from loopml.serving.protocols import grpc_predict_v2_pb2 as",
    )


if __name__ == "__main__":
    main()
