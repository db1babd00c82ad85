"""A forward-only byte reader with an offset, bounded reads and cheap skips."""

from __future__ import annotations

import io
from typing import BinaryIO

from loopml.security.scan.report import FindingKind

_CHUNK = 1 << 20


class StreamProblem(Exception):
    """Stops the walk of one stream; becomes a finding of ``kind`` at ``offset``."""

    def __init__(self, kind: FindingKind, message: str, *, offset: int, opcode: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.offset = offset
        self.opcode = opcode


class ByteSource:
    """Reads a binary stream forward, keeping the absolute offset; never loads a payload whole.

    Args:
        stream: The stream to read; seeked forward for skips when it is a seekable file.
        head: Bytes already read from ``stream`` (by the sniffer) that come first.
    """

    def __init__(self, stream: BinaryIO, *, head: bytes = b"") -> None:
        self._stream = stream
        self._buf = head
        self._i = 0
        self._base = 0  # absolute offset of self._buf[0]
        self._eof = False
        self._seekable = _is_plain_seekable_file(stream)

    @property
    def pos(self) -> int:
        """Absolute offset of the next byte."""
        return self._base + self._i

    def _fill(self, want: int) -> None:
        # Make at least `want` bytes available after self._i, unless the stream ends.
        while len(self._buf) - self._i < want and not self._eof:
            chunk = self._stream.read(max(_CHUNK, want))
            if not chunk:
                self._eof = True
                break
            self._base += self._i
            self._buf = self._buf[self._i :] + chunk
            self._i = 0

    def at_eof(self) -> bool:
        """True when no byte is left."""
        self._fill(1)
        return self._i >= len(self._buf)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes without consuming them."""
        self._fill(n)
        return self._buf[self._i : self._i + n]

    def read(self, n: int, *, what: str = "data") -> bytes:
        """Exactly ``n`` bytes; a short stream raises a ``truncated`` problem."""
        start = self._i
        if start + n <= len(self._buf):
            self._i = start + n
            return self._buf[start : start + n]
        self._fill(n)
        start = self._i
        if len(self._buf) - start < n:
            raise StreamProblem(
                FindingKind.TRUNCATED,
                f"stream ends inside {what}: needed {n} bytes at offset {self.pos}, "
                f"{len(self._buf) - start} left",
                offset=self.pos,
            )
        self._i = start + n
        return self._buf[start : start + n]

    def read_byte(self) -> int:
        """One byte as an int, or -1 at the end."""
        i = self._i
        try:
            b = self._buf[i]
        except IndexError:
            self._fill(1)
            if self._i >= len(self._buf):
                return -1
            i = self._i
            b = self._buf[i]
        self._i = i + 1
        return b

    def readline(self, cap: int, *, what: str) -> bytes | None:
        """Bytes up to and excluding the next newline; None when longer than ``cap`` (skipped)."""
        keep = True
        while True:
            nl = self._buf.find(b"\n", self._i)
            if nl >= 0:
                line = self._buf[self._i : nl]
                self._i = nl + 1
                return line if keep and len(line) <= cap else None
            if len(self._buf) - self._i > cap:
                keep = False  # too long to keep: drop it and keep looking for the newline
                self._base += len(self._buf)
                self._buf, self._i = b"", 0
            before = len(self._buf) - self._i
            self._fill(before + 1)
            if len(self._buf) - self._i == before:
                raise StreamProblem(
                    FindingKind.TRUNCATED, f"stream ends inside {what} (no newline)", offset=self.pos
                )

    def skip(self, n: int, *, what: str = "payload") -> None:
        """Consume ``n`` bytes without keeping them (seek on files, chunked reads otherwise)."""
        have = len(self._buf) - self._i
        if n <= have:
            self._i += n
            return
        remaining = n - have
        self._base += len(self._buf)
        self._buf, self._i = b"", 0
        if self._seekable and not self._eof:
            here = self._stream.tell()
            end = self._stream.seek(0, io.SEEK_END)
            if end - here >= remaining:
                self._stream.seek(here + remaining)
                self._base += remaining
                return
            self._stream.seek(here)
        while remaining > 0 and not self._eof:
            chunk = self._stream.read(min(_CHUNK, remaining))
            if not chunk:
                self._eof = True
                break
            self._base += len(chunk)
            remaining -= len(chunk)
        if remaining > 0:
            raise StreamProblem(
                FindingKind.TRUNCATED,
                f"stream ends inside {what}: {remaining} of {n} bytes missing",
                offset=self.pos,
            )

    def drain(self) -> int:
        """Consume the rest of the stream; returns how many bytes were left."""
        start = self.pos
        self._base += len(self._buf)
        self._buf, self._i = b"", 0
        while True:
            chunk = self._stream.read(_CHUNK)
            if not chunk:
                self._eof = True
                return self.pos - start
            self._base += len(chunk)


def _is_plain_seekable_file(stream: BinaryIO) -> bool:
    # Only real files: seeking a decompressor re-decompresses, which would defeat the byte budget.
    if not isinstance(stream, io.BufferedReader | io.FileIO):
        return False
    try:
        return stream.seekable()
    except (OSError, ValueError):
        return False
