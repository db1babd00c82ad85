"""The route templates of a Starlette or FastAPI app, compiled, for middleware that runs before routing.

A middleware that must know a request's route before any handler runs (which permission it needs,
which methods its path serves) reads them here: :func:`route_templates` walks ``app.routes``
(plain Starlette routes, FastAPI routes, FastAPI's included routers and mounts) and
:class:`RouteIndex` matches a request against them in the app's own order.

Example:
    >>> from starlette.routing import Route
    >>> async def endpoint(request): ...
    >>> index = RouteIndex([Route("/runs/{run_id}", endpoint, methods=["GET"])])
    >>> index.match("GET", "/runs/r1")
    ('/runs/{run_id}', {'run_id': 'r1'})
    >>> index.match("POST", "/runs/r1") is None
    True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from starlette.routing import Mount, compile_path

__all__ = ["RouteIndex", "RouteTemplate", "route_templates"]


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """One route of an app.

    Attributes:
        path: The full path template (``/api/v1/runs/{run_id}``).
        methods: The methods it serves; None for any (a mount, or a route that names none).
        mounted: Whether it is a mount or lies under one (its app says what it serves).
        regex: The compiled template.
    """

    path: str
    methods: frozenset[str] | None
    mounted: bool
    regex: re.Pattern[str]


def route_templates(
    routes: Iterable[Any], prefix: str = "", *, mounted: bool = False
) -> Iterator[RouteTemplate]:
    """Every route template under ``routes``, in order (a mount: its routes, then itself as a catch-all).

    Args:
        routes: ``app.routes``.
        prefix: The path the routes are mounted at.
        mounted: Whether ``routes`` are those of a mount.
    """
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):  # FastAPI's included router (lazy): full paths are on its contexts
            for context in contexts():
                yield _template(prefix + str(context.path), getattr(context, "methods", None), mounted)
        elif isinstance(route, Mount):
            sub_routes = getattr(route, "routes", None)
            if sub_routes:
                yield from route_templates(sub_routes, prefix + route.path, mounted=True)
            yield _template(prefix + route.path + "/{path:path}", None, True)
        elif isinstance(getattr(route, "path", None), str):
            yield _template(prefix + route.path, getattr(route, "methods", None), mounted)


def _template(path: str, methods: Iterable[str] | None, mounted: bool) -> RouteTemplate:
    return RouteTemplate(path, frozenset(methods) if methods else None, mounted, compile_path(path)[0])


class RouteIndex:
    """Every route template of an app, matched in the app's own order.

    Args:
        routes: ``app.routes`` (read once: build the index when every route is registered,
            e.g. on the first request).
    """

    def __init__(self, routes: Iterable[Any]) -> None:
        self.templates: list[RouteTemplate] = list(route_templates(routes))
        # A template matches only paths that start with its text before its first parameter, so
        # a request is matched against those few templates (in order), not against all of them.
        by_prefix: dict[str, list[int]] = {}
        for position, template in enumerate(self.templates):
            by_prefix.setdefault(template.path.partition("{")[0], []).append(position)
        self._by_prefix = by_prefix
        self._prefix_lengths = sorted({len(prefix) for prefix in by_prefix})

    def candidates(self, path: str) -> list[RouteTemplate]:
        """The templates that may match ``path`` (those it starts with the literal text of), in order."""
        positions: list[int] = []
        for length in self._prefix_lengths:
            if length > len(path):
                break
            found = self._by_prefix.get(path[:length])
            if found is not None:
                positions += found
        positions.sort()
        return [self.templates[p] for p in positions]

    def match(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        """The template of the first route matching ``method`` and ``path``, and its parameters.

        ``HEAD`` matches the routes of ``GET``.
        """
        method = "GET" if method == "HEAD" else method
        for template in self.candidates(path):
            found = template.regex.match(path)
            if found is None:
                continue
            if template.methods is None or method in template.methods:
                return template.path, found.groupdict()
        return None

    def allowed(self, path: str) -> frozenset[str]:
        """The methods the app's own routes serve at ``path``, plus ``OPTIONS`` (empty when none does).

        Mounted apps are left out: what they serve is theirs to say. A path a template names
        literally (``/experiments/get-or-create``) has that template's methods only, not those of
        a parameter that happens to match it (``/experiments/{id}``).
        """
        matching = [
            ("{" not in t.path, t.methods)
            for t in self.candidates(path)
            if t.methods and not t.mounted and t.regex.match(path)
        ]
        if any(literal for literal, _ in matching):
            matching = [(literal, found) for literal, found in matching if literal]
        methods = {m for _, found in matching for m in found or ()}
        return frozenset(methods | {"OPTIONS"}) if methods else frozenset()
