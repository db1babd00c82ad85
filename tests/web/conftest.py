"""Calling a tiny ASGI app in process: the web pieces are checked on their own, without either server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx
from starlette.types import ASGIApp


def call(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | AsyncIterator[bytes] | None = None,
) -> httpx.Response:
    """One request to ``app`` through httpx's ASGI transport (an async iterator body is sent chunked)."""

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://web.test") as client:
            return await client.request(method, path, headers=headers, content=content)

    return asyncio.run(ask())


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    """A body sent in ``parts``, with no Content-Length."""
    for part in parts:
        yield part
