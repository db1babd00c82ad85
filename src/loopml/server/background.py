"""Run the API on a loopback port in a background thread (tests, benchmarks, notebooks).

Example:
    >>> import tempfile
    >>> from loopml.config import Settings
    >>> with serve_in_thread(Settings(home=tempfile.mkdtemp())) as url:
    ...     url.startswith("http://127.0.0.1:")
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from loopml.config import Settings
from loopml.errors import StoreUnavailable
from loopml.server._config import ServerConfig
from loopml.server.app import create_app
from loopml.web.background import serve_app_in_thread

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
    with serve_app_in_thread(app, name="loopml server", on_failure=StoreUnavailable) as url:
        yield url
