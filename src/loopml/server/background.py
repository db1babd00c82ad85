"""Run the API on a loopback port in a background thread (tests, benchmarks, notebooks).

Example:
    >>> import tempfile
    >>> from loopml.config import Settings
    >>> with serve_in_thread(Settings(home=tempfile.mkdtemp())) as url:
    ...     url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from loopml.config import Settings
from loopml.errors import StoreUnavailable
from loopml.server._config import ServerConfig
from loopml.server.app import create_app

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(
    settings: Settings, *, config: ServerConfig | None = None, auth_enabled: bool | None = False
) -> Iterator[str]:
    """Serve ``create_app(settings)`` on 127.0.0.1 (a free port) until the block ends.

    Yields:
        The server's base URL, e.g. ``http://127.0.0.1:53211``.

    Raises:
        StoreUnavailable: the server did not start within 30 s.
    """
    app = create_app(settings, config=config, auth_enabled=auth_enabled)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False, timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"loopml-{port}"
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise StoreUnavailable(f"The loopml server on port {port} did not start; see its log.")
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
