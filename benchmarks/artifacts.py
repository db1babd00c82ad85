"""Blob store throughput: put_file, verify and read of one large file, plain and encrypted.

Run: ``.venv/bin/python benchmarks/artifacts.py [size_mib]`` (default 200 MiB). Prints MiB/s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from loopml.artifacts import CHUNK_SIZE, BlobStore, generate_encryption_key


def _make_file(path: Path, size_mib: int) -> None:
    block = os.urandom(CHUNK_SIZE)
    with path.open("wb") as out:
        for i in range(size_mib):
            out.write(i.to_bytes(8, "big") + block[8:])


def _rate(label: str, size_mib: int, start: float) -> float:
    seconds = time.perf_counter() - start
    print(f"  {label:<10} {seconds:6.2f} s  {size_mib / seconds:8.1f} MiB/s")
    return time.perf_counter()


def main(size_mib: int = 200) -> None:
    with tempfile.TemporaryDirectory() as folder:
        src = Path(folder) / "input.bin"
        _make_file(src, size_mib)
        for name, key in (("plain", None), ("encrypted", generate_encryption_key())):
            store = BlobStore(Path(folder) / name, encryption_key=key)
            print(f"{name} ({size_mib} MiB, chunk {CHUNK_SIZE // 1024} KiB):")
            start = time.perf_counter()
            ref = store.put_file(src)
            start = _rate("put_file", size_mib, start)
            store.verify(ref.sha256, size=ref.size)
            start = _rate("verify", size_mib, start)
            store.get_file(ref.sha256, Path(folder) / f"{name}.out")
            _rate("get_file", size_mib, start)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
