"""Streaming SHA-256: chunk sources and a reader that verifies content as it is read."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO, Protocol

from loopml.errors import IntegrityError

__all__ = [
    "CHUNK_SIZE",
    "STORED_HINT",
    "ChunkSource",
    "PlainSource",
    "VerifyingReader",
    "describe_blob",
    "mismatch_message",
]

CHUNK_SIZE = 1 << 20
"""Bytes read, hashed (and encrypted) at a time: 1 MiB."""


class ChunkSource(Protocol):
    """Something that yields a blob's content chunk by chunk; ``b""`` means the end."""

    def read_chunk(self) -> bytes:
        """The next chunk of content, or ``b""`` at the end."""
        ...

    def close(self) -> None:
        """Release the underlying file."""
        ...


class PlainSource:
    """Content stored as is; ``prefix`` holds bytes already read from ``fileobj`` (e.g. a sniffed header)."""

    def __init__(self, fileobj: BinaryIO, *, prefix: bytes = b"") -> None:
        self._file = fileobj
        self._prefix = prefix

    def read_chunk(self) -> bytes:
        if self._prefix:
            chunk, self._prefix = self._prefix, b""
            return chunk + self._file.read(CHUNK_SIZE - len(chunk))
        return self._file.read(CHUNK_SIZE)

    def close(self) -> None:
        self._file.close()


def describe_blob(sha256: str, label: str | None) -> str:
    """How error messages name a blob: its label when given, always its hash."""
    return f"Blob {label!r} (sha256 {sha256})" if label else f"Blob sha256 {sha256}"


STORED_HINT = (
    "The stored copy is corrupt, truncated or was tampered with; do not use it. "
    "Restore it from a backup or store the original content again."
)


def mismatch_message(
    *,
    subject: str,
    expected_sha256: str,
    expected_size: int | None,
    actual_sha256: str,
    actual_size: int,
    hint: str = STORED_HINT,
) -> str:
    """The IntegrityError message for content that does not match its address."""
    size = f"{expected_size} bytes" if expected_size is not None else "size not recorded"
    return (
        f"{subject} failed verification: expected sha256 {expected_sha256} ({size}), "
        f"got sha256 {actual_sha256} ({actual_size} bytes). {hint}"
    )


class VerifyingReader(io.RawIOBase):
    """A raw reader over a :class:`ChunkSource` that hashes what it serves.

    At the end of the content it compares hash (and size, when known) with the expected
    values and raises :class:`IntegrityError` on a mismatch. ``close()`` verifies too when
    the caller has read at least the expected size without reaching the end; a reader closed
    part-way is not verified (nothing was claimed about the unread rest).
    """

    def __init__(self, source: ChunkSource, *, sha256: str, expected_size: int | None, subject: str) -> None:
        super().__init__()
        self._source = source
        self._expected_sha256 = sha256
        self._expected_size = expected_size
        self._subject = subject
        self._hash = hashlib.sha256()
        self._size = 0
        self._served = 0
        self._chunk = b""
        self._buffer = memoryview(b"")
        self._is_checked = False

    def readable(self) -> bool:
        return True

    def read_chunk(self) -> bytes:
        """The next chunk as the source gave it (no copy), or ``b""`` once the content verified.

        Makes the reader a :class:`ChunkSource`; what a partial :meth:`readinto` left comes first.
        """
        if self._buffer:
            chunk = self._buffer.tobytes()
        elif self._pull():
            chunk = self._chunk
        else:
            return b""
        self._buffer = memoryview(b"")
        self._served += len(chunk)
        return chunk

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if not self._buffer and not self._pull():
            return 0
        n = min(len(buffer), len(self._buffer))
        memoryview(buffer).cast("B")[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self._served += n
        return n

    def _pull(self) -> bool:
        """Fetch the next chunk into the buffer; at the end verify and return False."""
        if self._is_checked:
            return False
        chunk = self._source.read_chunk()
        if not chunk:
            self._check()
            return False
        self._hash.update(chunk)
        self._size += len(chunk)
        if self._expected_size is not None and self._size > self._expected_size:
            self._check()  # already too long: fail now instead of streaming the excess
        self._chunk = chunk
        self._buffer = memoryview(chunk)
        return True

    def _check(self) -> None:
        self._is_checked = True
        actual = self._hash.hexdigest()
        size_ok = self._expected_size is None or self._size == self._expected_size
        if actual != self._expected_sha256 or not size_ok:
            raise IntegrityError(
                mismatch_message(
                    subject=self._subject,
                    expected_sha256=self._expected_sha256,
                    expected_size=self._expected_size,
                    actual_sha256=actual,
                    actual_size=self._size,
                )
            )

    def readall(self) -> bytes:
        """The rest of the content in one piece (verified), without small intermediate reads."""
        parts = [bytes(self._buffer)]
        self._buffer = memoryview(b"")
        while self._pull():
            parts.append(bytes(self._buffer))
            self._buffer = memoryview(b"")
        data = b"".join(parts)
        self._served += len(data)
        return data

    def drain(self) -> int:
        """Read (and verify) the rest without serving it; return the total content size."""
        while self._pull():
            self._buffer = memoryview(b"")
        return self._size

    def close(self) -> None:
        if self.closed:
            return
        try:
            fully_served = self._expected_size is not None and self._served >= self._expected_size
            if fully_served and not self._is_checked:
                self.drain()
        finally:
            self._source.close()
            super().close()
