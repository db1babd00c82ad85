"""Request body limits: a body over the limit is refused with 413 before it is read past the limit.

One rule, three ways in:

* :class:`BodyLimitMiddleware` guards a whole app (the platform server): by ``Content-Length``
  before the app runs, and while the app streams the body;
* :func:`read_body` is for a handler that reads the body itself (the model server's protocols);
* :func:`buffer_body` is for middleware that must look at a body before the app, then hand it on
  unchanged (the platform server's security layer finds target resources in it).

A malformed ``Content-Length`` is a 400 (:func:`declared_length`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.errors import InvalidInput
from loopml.web.errors import PayloadTooLarge, RequestRejected
from loopml.web.headers import SECURITY_HEADERS
from loopml.web.responses import send_json

__all__ = ["BodyLimitMiddleware", "UploadLimit", "buffer_body", "declared_length", "read_body"]

#: Renders an error as the app's JSON error body: (code, message) -> content.
ErrorBody = Callable[[str, str], Any]


def declared_length(value: str | None) -> int | None:
    """The body length a ``Content-Length`` header declares (None when absent).

    Raises:
        InvalidInput: the header is not a number of bytes.

    Example:
        >>> declared_length("1024"), declared_length(None)
        (1024, None)
    """
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"Content-Length must be a number of bytes; got {value!r}.")
    return int(value)


async def read_body(request: Request, *, limit: int, advice: str = "send less") -> bytes:
    """The request body, refusing more than ``limit`` bytes before reading them all.

    Args:
        request: The request.
        limit: Largest body accepted, in bytes.
        advice: What the client should do instead, for the error message.

    Raises:
        PayloadTooLarge: the declared or actual length exceeds ``limit``.
        InvalidInput: a malformed Content-Length.
    """
    declared = declared_length(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        raise PayloadTooLarge(
            f"The request body is {declared} bytes; this server accepts at most {limit} ({advice}).",
            limit=limit,
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes; {advice}.", limit=limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def buffer_body(receive: Receive, limit: int) -> tuple[bytes, Receive, bool]:
    """Read the whole body (up to ``limit`` bytes) and a ``receive`` that replays it to the app.

    Returns:
        The body (empty when over the limit), the ``receive`` to hand on, and whether the body was
        over the limit (then nothing past the limit was read, and the request must be refused).
    """
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", receive, True
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    raw = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return raw, replay, False


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadLimit:
    """A larger limit for the paths that take uploads (file bytes rather than JSON).

    Attributes:
        paths: Matches the paths it applies to (``re.match`` on the request path).
        max_bytes: Largest upload accepted.
        what: What such a body is called in the error message.
    """

    paths: re.Pattern[str]
    max_bytes: int
    what: str = "upload"


class _TooLarge(RequestRejected):
    """Raised from ``receive`` (an HTTPException, so FastAPI's body parsing re-raises it as is)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, "payload_too_large", message)


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, by Content-Length or while streaming.

    A declared length over the limit is answered here, in the app's error body (``error_body``),
    before the app runs. A streamed body is cut where it crosses the limit: reading on raises
    :class:`~loopml.web.errors.RequestRejected` (413) inside the app, whose ``HTTPException``
    handler renders it like its other errors; if the app lets it through unanswered, it is
    answered here.

    Args:
        app: The ASGI app.
        max_body_bytes: Largest body accepted (on paths that take no uploads).
        error_body: Renders an error as the app's JSON error body, given its code and message.
        uploads: A larger limit for upload paths (None: one limit everywhere).
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, error_body: ErrorBody, uploads: UploadLimit | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.error_body = error_body
        self.uploads = uploads

    async def _refuse(self, send: Send, status: int, code: str, message: str) -> None:
        await send_json(send, status, self.error_body(code, message), headers=SECURITY_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        uploads = self.uploads
        is_upload = uploads is not None and uploads.paths.match(path) is not None
        limit = uploads.max_bytes if uploads is not None and is_upload else self.max_body_bytes
        what = uploads.what if uploads is not None and is_upload else "request body"
        message = f"The {what} is larger than the server's limit of {limit} bytes."
        header = next((v for n, v in scope.get("headers", []) if n == b"content-length"), None)
        try:
            declared = declared_length(header.decode("latin-1") if header is not None else None)
        except InvalidInput as err:
            await self._refuse(send, 400, "bad_request", str(err))
            return
        if declared is not None and declared > limit:
            await self._refuse(send, 413, "payload_too_large", message)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > limit:
                    raise _TooLarge(message)
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, 413, "payload_too_large", message)
