"""Time ``verify_package`` on a ~1 GB package against ``sha256sum`` over the same files.

Usage: ``.venv/bin/python benchmarks/verify_package.py [SIZE_MB] [FILES]`` (default 1024 MB in 8 files).
Builds the package from random bytes in a temporary folder, verifies it (checksums only, and
with a key-mode signature checked against a trust store), then runs ``sha256sum`` on the same
files. Each timing is the best of three runs with a warm page cache.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from loopml.registry import KeyRing, KeySigner, TrustStore, sign_package, verify_package
from loopml.registry.package import CHECKSUMS_FILE, MODEL_YAML, Manifest, ModelSpec
from loopml.registry.package._manifest import hash_file

_CHUNK = 64 * 1024 * 1024


def _build(root: Path, size_mb: int, files: int) -> list[Path]:
    rng = np.random.default_rng(0)
    (root / "model").mkdir(parents=True)
    paths = []
    per_file = size_mb * 1024 * 1024 // files
    for i in range(files):
        path = root / "model" / f"shard-{i:03d}.bin"
        with path.open("wb") as fh:
            left = per_file
            while left:
                n = min(_CHUNK, left)
                fh.write(rng.bytes(n))
                left -= n
        paths.append(path)
    spec = ModelSpec(flavor="python", files=tuple(p.relative_to(root).as_posix() for p in paths))
    (root / MODEL_YAML).write_text(spec.to_yaml())
    rels = [MODEL_YAML, *spec.files]
    (root / CHECKSUMS_FILE).write_text(Manifest(files={r: hash_file(root / r) for r in rels}).to_json())
    return paths


def _best(fn: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    size_mb = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    work = Path(tempfile.mkdtemp(prefix="loopml-verify-bench-"))
    try:
        root = work / "pkg"
        start = time.perf_counter()
        paths = _build(root, size_mb, files)
        print(f"built {size_mb} MB in {files} files in {time.perf_counter() - start:.1f} s")
        ring, trust = KeyRing(work / "keys"), TrustStore(work / "trust")
        key = ring.generate("bench")
        trust.add(ring.export_public("bench"), name="bench")
        start = time.perf_counter()
        sign_package(root, KeySigner(key.private_path))
        print(f"sign_package (verify + model_signing hash + sign): {time.perf_counter() - start:.2f} s")
        sha = shutil.which("sha256sum")
        rows = [
            ("verify_package (checksums only)", _best(lambda: verify_package(root))),
            (
                "verify_package (+ signature, trust store)",
                _best(lambda: verify_package(root, trust_store=trust)),
            ),
        ]
        if sha:
            cmd = [sha, *map(str, paths)]
            rows.append(
                (
                    "sha256sum (same files)",
                    _best(lambda: subprocess.run(cmd, check=True, capture_output=True)),
                )
            )
        for name, seconds in rows:
            print(f"{name:45s} {seconds:7.2f} s  {size_mb / seconds:8.0f} MB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
