"""Streams in both directions: request bodies into the blob store, verified blobs out to clients.

The blob store works synchronously, in a worker thread. :func:`consume_body` runs it there while a
task in the event loop receives the body ahead of it and hands it over in batches of about
:data:`BATCH_BYTES` (one thread hop per batch, not per network read), at most :data:`PREFETCH`
batches ahead, so receiving overlaps hashing and writing and memory stays bounded.
:func:`stream_blob` answers with a blob's bytes chunk by chunk, verified as they are read.
"""

from __future__ import annotations

import contextlib
import io
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from typing import BinaryIO, TypeVar, cast

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect, Request

from loopml.artifacts import CHUNK_SIZE, BlobStore
from loopml.errors import IntegrityError
from loopml.web.errors import RequestRejected

__all__ = ["BATCH_BYTES", "PREFETCH", "RequestBodyReader", "consume_body", "stream_blob"]

T = TypeVar("T")

#: Body bytes handed from the event loop to the worker thread at a time (at least).
BATCH_BYTES = CHUNK_SIZE
#: Batches received ahead of the worker thread; an upload holds about ``PREFETCH + 2`` batches.
PREFETCH = 4

#: What the receiving task hands over: body pieces, the error that ended the body, or None (the end).
_Item = list[bytes] | Exception | None


class RequestBodyReader(io.RawIOBase):
    """A readable binary stream over the batches :func:`consume_body` receives, for the worker thread.

    ``read(n)`` returns ``n`` bytes (fewer only at the end), joining the received pieces; the
    error that ended the body (413 over the limit, a client that went away) is raised where it
    is reached.
    """

    def __init__(self, batches: MemoryObjectReceiveStream[_Item]) -> None:
        super().__init__()
        self._batches = batches
        self._pieces: deque[bytes] = deque()
        self._is_done = False

    def readable(self) -> bool:
        return True

    def _next_piece(self) -> bytes:
        while not self._pieces:
            if self._is_done:
                return b""
            item = anyio.from_thread.run(self._receive)
            if isinstance(item, Exception):
                self._is_done = True
                raise item
            if item is None:
                self._is_done = True
            else:
                self._pieces.extend(p for p in item if p)
        return self._pieces.popleft()

    async def _receive(self) -> _Item:
        try:
            return await self._batches.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):  # the receiving task was stopped
            return ClientDisconnect()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return self.readall()
        parts, wanted = [], size
        while wanted > 0 and (piece := self._next_piece()):
            if len(piece) > wanted:
                self._pieces.appendleft(piece[wanted:])
                piece = piece[:wanted]
            parts.append(piece)
            wanted -= len(piece)
        # One piece goes as is; several are joined, so the writer makes few large writes
        # (far cheaper than many 64-256 KiB ones).
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readall(self) -> bytes:
        parts = []
        while piece := self._next_piece():
            parts.append(piece)
        return b"".join(parts)

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        piece = self.read(len(buffer))
        memoryview(buffer).cast("B")[: len(piece)] = piece
        return len(piece)


async def _receive_body(chunks: AsyncIterator[bytes], out: MemoryObjectSendStream[_Item], limit: int) -> None:
    """Receive the body in the event loop and send it on; an error ends it and is sent on, not raised."""
    async with out:
        try:
            await _send_batches(chunks, out, limit)
        except Exception as err:
            with contextlib.suppress(anyio.BrokenResourceError):  # the consumer already stopped
                await out.send(err)


async def _send_batches(chunks: AsyncIterator[bytes], out: MemoryObjectSendStream[_Item], limit: int) -> None:
    batch: list[bytes] = []
    pending = received = 0
    async for chunk in chunks:
        received += len(chunk)
        if received > limit:
            raise RequestRejected(
                413,
                "payload_too_large",
                f"The artifact upload is larger than the server's limit of {limit} bytes.",
            )
        batch.append(chunk)
        pending += len(chunk)
        if pending >= BATCH_BYTES:
            await out.send(batch)
            batch, pending = [], 0
    await out.send(batch)
    await out.send(None)


async def consume_body(request: Request, *, limit: int, consumer: Callable[[BinaryIO], T]) -> T:
    """Run ``consumer(body)`` in a worker thread while the event loop receives the body ahead of it.

    Args:
        request: The request whose body is read (once).
        limit: Most body bytes accepted; more ends the body with a 413 error.
        consumer: Reads the body (a binary stream) to its end, e.g. ``blobs.put_stream``.

    Returns:
        What ``consumer`` returned.

    Raises:
        RequestRejected: 413 when the body is over ``limit``.
        ClientDisconnect: the client went away before sending the whole body.
    """
    send, receive = anyio.create_memory_object_stream[_Item](PREFETCH)
    reader = cast(BinaryIO, RequestBodyReader(receive))  # an io.RawIOBase: what BinaryIO users call
    outcome: list[T] = []
    failure: list[Exception] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_receive_body, request.stream().__aiter__(), send, limit)
        try:
            outcome.append(await anyio.to_thread.run_sync(consumer, reader))
        except Exception as err:  # raised below, outside the task group (not as an exception group)
            failure.append(err)
        finally:
            tasks.cancel_scope.cancel()  # a consumer that stopped early leaves the rest unread
            receive.close()
    if failure:
        raise failure[0]
    return outcome[0]


def _describe(sha256: str, label: str | None) -> str:
    """How a blob is named in a message: its label when known, always its hash."""
    return f"Blob {label!r} (sha256 {sha256})" if label else f"Blob sha256 {sha256}"


def stream_blob(
    blobs: BlobStore,
    sha256: str,
    *,
    label: str | None,
    size: int | None,
    media_type: str = "application/octet-stream",
) -> StreamingResponse:
    """A response streaming the blob ``sha256``; the reader verifies hash (and ``size``) as it goes.

    A blob that turns out not to match is cut off: each piece goes out only once the next one
    was read, so the last piece is held back until the whole content verified, and any client
    (not only loopml's, which verifies itself) sees a broken transfer, never bad bytes presented
    as complete. A missing blob raises :class:`~loopml.errors.NotFound` here, and a stored copy whose
    length is not ``size`` raises :class:`~loopml.errors.IntegrityError` before anything is sent.
    """
    stored = blobs.content_size(sha256, label=label)
    if size is not None and size != stored:  # refused before any header or byte goes out
        raise IntegrityError(
            f"{_describe(sha256, label)} holds {stored} bytes, not the {size} bytes recorded for it. "
            "The stored copy is truncated or was tampered with; restore it from a backup "
            "or store the original again."
        )
    source = blobs.open_chunks(sha256, label=label, size=stored)

    def chunks() -> Iterator[bytes]:
        try:
            held = source.read_chunk()
            while held:
                following = source.read_chunk()  # after the last piece: verifies, or raises
                yield held
                held = following
        finally:
            source.close()

    headers = {"X-Content-SHA256": sha256, "Content-Length": str(stored)}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)
