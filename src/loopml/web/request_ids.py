"""Request ids: every response carries ``X-Request-ID``; error bodies repeat it, the log keeps the detail.

A caller's own ``X-Request-ID`` is kept when it is well formed (1-64 letters, digits, ``.``,
``_``, ``-``); otherwise the server makes one. Handlers read it with :func:`request_id_of`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HEADER", "RequestIdMiddleware", "request_id_of", "well_formed"]

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode()
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_STATE_KEY = "request_id"


def well_formed(value: str) -> bool:
    """Whether a caller's request id may be reused (and so logged and echoed) as is.

    Example:
        >>> well_formed("build-42.a_b"), well_formed("x\\r\\nSet-Cookie: a=b"), well_formed("")
        (True, False, False)
    """
    return _WELL_FORMED.fullmatch(value) is not None


def _from_headers(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == _HEADER_KEY:
            text = value.decode("latin-1")
            return text if well_formed(text) else None
    return None


def request_id_of(scope: Mapping[str, Any]) -> str | None:
    """The id :class:`RequestIdMiddleware` gave this request (None outside it)."""
    state = scope.get("state")
    found = state.get(_STATE_KEY) if isinstance(state, dict) else None
    return found if isinstance(found, str) else None


class RequestIdMiddleware:
    """Give each HTTP request an id (the caller's, if well formed) and send it back as a header.

    Install it outermost, so every response (the security layer's refusals too) carries it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _from_headers(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})[_STATE_KEY] = rid
        header = (_HEADER_KEY, rid.encode())

        async def with_id(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = [(n, v) for n, v in msg.get("headers", []) if n.lower() != _HEADER_KEY]
                msg = {**msg, "headers": [*headers, header]}
            await send(msg)

        await self.app(scope, receive, with_id)
