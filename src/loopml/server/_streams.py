"""A blocking reader over an ASGI request body, so uploads stream into the blob store chunk by chunk.

The blob store reads synchronously (in a worker thread); :class:`RequestBodyReader` pulls each
chunk from the event loop as it is needed, counts bytes against a limit and never holds more
than one chunk in memory.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import anyio.from_thread

from loopml.server.errors import RequestRejected

__all__ = ["RequestBodyReader"]


class RequestBodyReader(io.RawIOBase):
    """A readable binary stream over ``request.stream()``, for use in a worker thread."""

    def __init__(self, chunks: AsyncIterator[bytes], *, limit: int) -> None:
        super().__init__()
        self._chunks = chunks
        self._limit = limit
        self._pending = b""
        self._done = False
        self.received = 0

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            return b""

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            chunk = anyio.from_thread.run(self._next)
            if not chunk:
                self._done = True
                break
            self.received += len(chunk)
            if self.received > self._limit:
                raise RequestRejected(
                    413,
                    "payload_too_large",
                    f"The artifact upload is larger than the server's limit of {self._limit} bytes.",
                )
            self._pending = chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
