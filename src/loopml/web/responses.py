"""JSON answers sent straight from ASGI middleware, before (or instead of) the app.

Middleware that refuses a request (too large, no token, over a limit) answers it itself, with
no framework response object around; :func:`send_json` writes the two ASGI messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from starlette.types import Send

__all__ = ["send_json"]


async def send_json(
    send: Send, status: int, content: Any, *, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """Answer with ``content`` as JSON.

    Args:
        send: The ASGI ``send`` of the request.
        status: The HTTP status.
        content: JSON-ready data.
        headers: Raw headers (lower-case names) after ``content-type`` and ``content-length``.
    """
    body = json.dumps(content).encode()
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*raw_headers, *headers]})
    await send({"type": "http.response.body", "body": body})
