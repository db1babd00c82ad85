"""Streams in both directions: request bodies into the blob store, verified blobs out to clients.

The blob store reads synchronously (in a worker thread); :class:`RequestBodyReader` pulls each
chunk from the event loop as it is needed, counts bytes against a limit and never holds more
than one chunk in memory. :func:`stream_blob` answers with a blob's bytes chunk by chunk, verified
as they are read.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

import anyio.from_thread
from fastapi.responses import StreamingResponse

from loopml.artifacts import CHUNK_SIZE, BlobStore
from loopml.server.errors import RequestRejected

__all__ = ["RequestBodyReader", "stream_blob"]


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


def stream_blob(
    blobs: BlobStore,
    sha256: str,
    *,
    label: str | None,
    size: int | None,
    media_type: str = "application/octet-stream",
) -> StreamingResponse:
    """A response streaming the blob ``sha256``; the reader verifies hash (and ``size``) as it goes.

    A blob that turns out not to match is cut off (the client sees a broken transfer, never bad
    bytes presented as complete); a missing blob raises :class:`~loopml.errors.NotFound` here.
    """
    reader: BinaryIO = blobs.open(sha256, label=label, size=size)

    def chunks() -> Iterator[bytes]:
        with reader:
            while chunk := reader.read(CHUNK_SIZE):
                yield chunk

    headers = {"X-Content-SHA256": sha256}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
