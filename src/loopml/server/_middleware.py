"""ASGI middleware: request body size limits (413) and security headers on every response."""

from __future__ import annotations

import json
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.server.errors import RequestRejected, error_body

__all__ = ["UPLOAD_PATHS", "BodyLimitMiddleware", "SecurityHeadersMiddleware"]

#: Paths whose bodies are artifact bytes (bounded by the artifact limit, not the JSON limit).
UPLOAD_PATHS = re.compile(
    r"^/api/v1/(blobs$|runs/[^/]+/artifacts/)|^/api/2\.0/mlflow-artifacts/(artifacts|mpu/parts)/"
)

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),
]


class _TooLarge(RequestRejected):
    """Raised from ``receive`` (an HTTPException, so FastAPI's body parsing re-raises it as is)."""

    def __init__(self, message: str) -> None:
        super().__init__(413, "payload_too_large", message)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps(error_body(code, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + _SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


class BodyLimitMiddleware:
    """Refuse request bodies over the limit with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_artifact_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_artifact_bytes = max_artifact_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        is_upload = UPLOAD_PATHS.match(path) is not None
        limit = self.max_artifact_bytes if is_upload else self.max_body_bytes
        what = "artifact upload" if is_upload else "request body"
        message = f"The {what} is larger than the server's limit of {limit} bytes."
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_error(send, 400, "bad_request", "Content-Length is not an integer.")
                    return
                if declared > limit:
                    await _send_error(send, 413, "payload_too_large", message)
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
                await _send_error(send, 413, "payload_too_large", message)


class SecurityHeadersMiddleware:
    """Add nosniff, frame-deny, no-referrer, a deny-all CSP and no-store caching to API responses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                present = {name.lower() for name, _ in msg.get("headers", [])}
                extra = [(n, v) for n, v in _SECURITY_HEADERS if n not in present]
                msg = {**msg, "headers": [*msg.get("headers", []), *extra]}
            await send(msg)

        await self.app(scope, receive, with_headers)
