"""``Allow`` headers: ``OPTIONS`` answers with the methods a path supports, and so does every 405.

Starlette answers a method a path does not serve with the ``Allow`` of the first route that
matched the path, so a path served by two routes (``GET`` and ``POST /experiments``) advertised
only one of them, and ``OPTIONS`` got a 405. :class:`AllowMiddleware` collects the methods of every
route matching the path (RFC 9110, section 10.2.1), from :meth:`~loopml.web.routes.RouteIndex.allowed`.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loopml.web.routes import RouteIndex

__all__ = ["AllowMiddleware"]


class AllowMiddleware:
    """Answer ``OPTIONS`` with 204 and ``Allow``; give every 405 the full ``Allow`` of its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: RouteIndex | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:  # built on the first request, when every route is registered
            self._routes = RouteIndex(getattr(scope.get("app"), "routes", ()))
        methods = self._routes.allowed(scope["path"])
        if not methods:  # no route serves the path: the app answers 404
            await self.app(scope, receive, send)
            return
        allow = (b"allow", ", ".join(sorted(methods)).encode())
        if scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": [allow]})
            await send({"type": "http.response.body", "body": b""})
            return

        async def with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*kept, allow]}
            await send(message)

        await self.app(scope, receive, with_allow)
