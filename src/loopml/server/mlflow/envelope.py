"""Outermost middleware: errors answered on MLflow paths before a route runs leave in MLflow's envelope.

The security layer (401, 403, 429), the body limits (413) and the router (404, 405) answer in
loopml's ``{"error": {"code", "message"}}``; MLflow clients read ``error_code``. This middleware
rewrites those bodies on MLflow paths only; everything else passes through untouched.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.server.mlflow.errors import HTTP_ERROR_CODES

__all__ = ["MLFLOW_PATH_PREFIXES", "MlflowEnvelopeMiddleware"]

MLFLOW_PATH_PREFIXES = ("/api/2.0/mlflow", "/api/3.0/mlflow", "/ajax-api/2.0/mlflow")


def _rewritten(body: bytes, status: int) -> bytes | None:
    try:
        parsed: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None  # already MLflow's shape (or not an error body)
    code = HTTP_ERROR_CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return json.dumps({"error_code": code, "message": str(error.get("message", ""))}).encode()


class MlflowEnvelopeMiddleware:
    """Pure ASGI middleware rewriting loopml error bodies to MLflow's on MLflow paths."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(MLFLOW_PATH_PREFIXES):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and int(message["status"]) >= 400:
                start = message  # held until the whole (small) error body is in
                return
            if start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            new = _rewritten(body, int(start["status"]))
            if new is not None:
                body = new
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)
