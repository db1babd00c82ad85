"""Run an ASGI app on a loopback port in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from loopml.errors import InvalidState, LoopmlError

__all__ = ["serve_app_in_thread"]


@contextmanager
def serve_app_in_thread(
    app: Any, *, name: str = "server", on_failure: Callable[[str], LoopmlError] = InvalidState
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) until the block ends, then stop it gracefully.

    Args:
        app: An ASGI application (its lifespan runs).
        name: What the app is, for the thread's name and the error message.
        on_failure: Builds the error raised when the app did not start (given the message).

    Yields:
        The base URL, e.g. ``http://127.0.0.1:53211``.

    Raises:
        LoopmlError: from ``on_failure``, when the app did not start within 30 s.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"{name}-{port}"
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise on_failure(f"The {name} on port {port} did not start; see its log.")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
