"""Strict JSON body parsing: UTF-8 only, no NaN/Infinity literals, finite numbers, bounded depth.

:class:`SafeRoute` makes FastAPI parse every JSON body through :func:`parse_json_body`, so a
malformed body is a clear 400 before any schema or domain code sees it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from loopml.web.errors import RequestRejected

__all__ = ["SafeRoute", "parse_json_body"]

DEFAULT_MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise ValueError(f"the literal {name} is not JSON; send NaN and infinities as strings")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large for a 64-bit float")
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def parse_json_body(body: bytes, *, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Decode a request body as strict JSON.

    Raises:
        RequestRejected: 400 naming the problem (bad UTF-8, syntax, NaN literal, huge number, depth).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise RequestRejected(
            400, "bad_encoding", f"The request body is not valid UTF-8 (byte {err.start}); send UTF-8 JSON."
        ) from err
    try:
        value = json.loads(text, parse_constant=_no_constants, parse_float=_finite_float)
    except RecursionError as err:
        raise RequestRejected(
            400, "too_deep", f"The JSON body nests deeper than {max_depth} levels; flatten it."
        ) from err
    except ValueError as err:  # JSONDecodeError and the parse hooks above
        raise RequestRejected(400, "malformed_json", f"The request body is not valid JSON: {err}.") from err
    if _depth_exceeds(value, max_depth):
        raise RequestRejected(
            400, "too_deep", f"The JSON body nests deeper than {max_depth} levels; flatten it."
        )
    return value


class _SafeRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            limit = getattr(self.app.state, "max_json_depth", DEFAULT_MAX_DEPTH)
            self._json = parse_json_body(await self.body(), max_depth=limit)
        return self._json


class SafeRoute(APIRoute):
    """An APIRoute whose JSON bodies are parsed by :func:`parse_json_body`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def safe_handler(request: Request) -> Response:
            return await handler(_SafeRequest(request.scope, request.receive))

        return safe_handler
