"""``Allow`` headers: ``OPTIONS`` answers with the methods a path supports, and so does every 405.

Starlette answers a method a path does not serve with the ``Allow`` of the first route that
matched the path, so a path served by two routes (``GET`` and ``POST /experiments``) advertised
only one of them, and ``OPTIONS`` got a 405. :class:`AllowMiddleware` collects the methods of every
route matching the path (RFC 9110, section 10.2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from starlette.routing import Mount, compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AllowMiddleware", "RouteMethods"]


class RouteMethods:
    """Every route template of an app with its methods, to say which methods serve a path.

    Built from ``app.routes`` (FastAPI's included routers too); mounted apps are left out, what
    they serve is theirs to say.
    """

    def __init__(self, routes: Iterable[Any]) -> None:
        self._templates: list[tuple[re.Pattern[str], bool, frozenset[str]]] = [
            (compile_path(path)[0], "{" not in path, methods) for path, methods in _templates(routes)
        ]

    def allowed(self, path: str) -> frozenset[str]:
        """The methods served at ``path`` plus ``OPTIONS`` (empty when no route serves it).

        A path a template names literally (``/experiments/get-or-create``) has that template's
        methods only, not those of a parameter that happens to match it (``/experiments/{id}``).
        """
        matching = [(literal, found) for regex, literal, found in self._templates if regex.match(path)]
        if any(literal for literal, _ in matching):
            matching = [(literal, found) for literal, found in matching if literal]
        methods = {m for _, found in matching for m in found}
        return frozenset(methods | {"OPTIONS"}) if methods else frozenset()


def _templates(routes: Iterable[Any]) -> Iterator[tuple[str, frozenset[str]]]:
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):  # FastAPI's included router: full paths are on its contexts
            for context in contexts():
                if getattr(context, "methods", None):
                    yield str(context.path), frozenset(context.methods)
        elif not isinstance(route, Mount) and getattr(route, "methods", None):
            yield str(route.path), frozenset(route.methods)


class AllowMiddleware:
    """Answer ``OPTIONS`` with 204 and ``Allow``; give every 405 the full ``Allow`` of its path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: RouteMethods | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._routes is None:  # built on the first request, when every route is registered
            self._routes = RouteMethods(getattr(scope.get("app"), "routes", ()))
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
