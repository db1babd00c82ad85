"""The fastest a file can cross loopback on this machine: raw sockets, no HTTP, no hashing.

Usage::

    .venv/bin/python benchmarks/transfer_ceiling.py [--size-mib 64] [--transfers 5]

What it measures, between two processes as in ``benchmarks/server.py``:

* up: the client ``sendfile``s the file; the server ``recv_into``s 1 MiB at a time and writes it to
  a file, once without and once with ``fsync`` before answering (as loopml's server does);
* down: the server ``sendfile``s the file; the client ``recv_into``s and writes it to a file.

Any HTTP server on this machine stays below these figures, so they bound the artifact-transfer
rows of ``benchmarks/server.py``. Prints the median MB/s of each. Nothing here is asserted by tests.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import time
from pathlib import Path

_UP, _DOWN, _QUIT = b"u", b"d", b"q"


def _receive_into(conn: socket.socket, out: Path, size: int, *, durable: bool = False) -> None:
    buffer = memoryview(bytearray(1 << 20))
    received = 0
    with out.open("wb") as f:
        while received < size and (n := conn.recv_into(buffer)):
            f.write(buffer[:n])
            received += n
        if durable:
            f.flush()
            os.fsync(f.fileno())


def _serve(listener: socket.socket, source: Path, size: int, durable: bool) -> None:
    while True:
        conn, _ = listener.accept()
        with conn:
            command = conn.recv(1)
            if command == _QUIT:
                return
            if command == _UP:
                _receive_into(conn, source.with_name("uploaded"), size, durable=durable)
                conn.sendall(b"k")
            else:
                with source.open("rb") as f:
                    os.sendfile(conn.fileno(), f.fileno(), 0, size)


def _timed(port: int, command: bytes, source: Path, size: int) -> float:
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(command)
        if command == _UP:
            with source.open("rb") as f:
                os.sendfile(conn.fileno(), f.fileno(), 0, size)
            conn.recv(1)
        else:
            _receive_into(conn, source.with_name("downloaded"), size)
    return time.perf_counter() - start


def measure(size: int, transfers: int, *, durable: bool) -> tuple[float, float]:
    """Median upload and download MB/s of ``transfers`` round trips of ``size`` bytes."""
    folder = Path(tempfile.mkdtemp(prefix="ceiling-"))
    source = folder / "source"
    source.write_bytes(os.urandom(size))
    listener = socket.create_server(("127.0.0.1", 0))
    server = multiprocessing.Process(target=_serve, args=(listener, source, size, durable))
    server.start()
    port = listener.getsockname()[1]
    try:
        ups = [_timed(port, _UP, source, size) for _ in range(transfers)]
        downs = [_timed(port, _DOWN, source, size) for _ in range(transfers)]
    finally:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(_QUIT)
        server.join()
        listener.close()
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()
    return size / 1e6 / statistics.median(ups), size / 1e6 / statistics.median(downs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--transfers", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    print(f"{os.cpu_count()} CPUs, {args.size_mib} MiB, median of {args.transfers}")
    for durable in (False, True):
        up, down = measure(size, args.transfers, durable=durable)
        label = "upload written with fsync" if durable else "upload written, no fsync"
        print(f"  {label:<28} {up:8,.0f} MB/s   download {down:8,.0f} MB/s")


if __name__ == "__main__":
    main()
