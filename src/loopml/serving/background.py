"""Run an inference app on a loopback port in a background thread (tests, benchmarks, notebooks)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette

from loopml.web.background import serve_app_in_thread

__all__ = ["serve_in_thread"]


@contextmanager
def serve_in_thread(app: Starlette) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) until the block ends.

    Yields:
        The base URL, e.g. ``http://127.0.0.1:53211``.

    Raises:
        InvalidState: the server did not start within 30 s.
    """
    with serve_app_in_thread(app, name="model server") as url:
        yield url
