"""Streaming, bounded readers for compressed streams: every decompressed byte is budgeted."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from typing import BinaryIO, cast

from loopml.security.scan._sniff import Format
from loopml.security.scan._source import StreamProblem
from loopml.security.scan.limits import ScanLimits
from loopml.security.scan.report import FindingKind

_CHUNK = 1 << 16


class Budget:
    """Decompressed bytes left for the whole scan; shared by every reader."""

    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.used = 0
        self.members = 0

    def spend(self, n: int) -> None:
        """Count ``n`` produced bytes; raise a ``resource_limit`` problem past the limit."""
        self.used += n
        if self.used > self.limits.max_decompressed_bytes:
            raise StreamProblem(
                FindingKind.RESOURCE_LIMIT,
                f"more than ScanLimits.max_decompressed_bytes={self.limits.max_decompressed_bytes} "
                f"bytes decompressed (a decompression bomb, or raise the limit)",
                offset=0,
            )


class CountingReader(io.RawIOBase):
    """Counts the bytes read from ``inner``."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self.inner.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.count += n
        return n


class PrefixedReader(io.RawIOBase):
    """``head`` followed by the rest of ``inner`` (the sniffer already read ``head``)."""

    def __init__(self, head: bytes, inner: BinaryIO) -> None:
        self._head = head
        self._inner = inner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._inner.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class ZlibReader(io.RawIOBase):
    """Decompresses a raw zlib stream incrementally (joblib's ``compress=3`` default)."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._z = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while True:
            if self._z.eof:
                return 0
            src = self._z.unconsumed_tail or self._inner.read(_CHUNK)
            if not src and not self._z.unconsumed_tail:
                raise StreamProblem(FindingKind.TRUNCATED, "zlib stream ends early", offset=0)
            try:
                out = self._z.decompress(src, len(buffer))
            except zlib.error as err:
                raise StreamProblem(FindingKind.PARSE_ERROR, f"corrupt zlib stream: {err}", offset=0) from err
            if out:
                buffer[: len(out)] = out
                return len(out)


class BudgetReader(io.RawIOBase):
    """Charges every byte read from a decompressor to the budget and checks its ratio.

    Args:
        inner: The decompressed stream.
        budget: The scan's budget.
        compressed: Counter of compressed bytes consumed (None: ratio not checked).
        declared_compressed: A known compressed size instead of a counter (zip members).
    """

    def __init__(
        self,
        inner: BinaryIO,
        budget: Budget,
        *,
        compressed: CountingReader | None = None,
        declared_compressed: int | None = None,
    ) -> None:
        self._inner = inner
        self._budget = budget
        self._compressed = compressed
        self._declared = declared_compressed
        self.produced = 0
        self.problem: StreamProblem | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.problem is not None:
            return 0
        try:
            read1 = getattr(self._inner, "read1", None)
            data = read1(len(buffer)) if read1 is not None else self._inner.read(len(buffer))
        except (OSError, EOFError, lzma.LZMAError, zlib.error, StreamProblem) as err:
            # Report it once the bytes before the damage are scanned: end the stream here.
            if isinstance(err, StreamProblem):
                self.problem = err
            else:
                kind = FindingKind.TRUNCATED if isinstance(err, EOFError) else FindingKind.PARSE_ERROR
                self.problem = StreamProblem(kind, f"cannot decompress: {err}", offset=self.produced)
            return 0
        n = len(data)
        buffer[:n] = data
        self.produced += n
        self._budget.spend(n)
        self._check_ratio()
        return n

    def _check_ratio(self) -> None:
        limits = self._budget.limits
        if self.produced < limits.ratio_floor_bytes:
            return
        consumed = (
            self._declared
            if self._declared is not None
            else (self._compressed.count if self._compressed is not None else None)
        )
        if consumed is None:
            return
        ratio = self.produced / max(consumed, 1)
        if ratio > limits.max_ratio:
            raise StreamProblem(
                FindingKind.RESOURCE_LIMIT,
                f"compression ratio above ScanLimits.max_ratio={limits.max_ratio:g} "
                f"({self.produced} bytes from {consumed}): a decompression bomb, or raise the limit",
                offset=self.produced,
            )


def open_compressed(fmt: Format, raw: BinaryIO, budget: Budget) -> tuple[BinaryIO, BudgetReader]:
    """A bounded, buffered reader of the decompressed content of ``raw`` (already prefixed).

    Returns:
        The reader, and its :class:`BudgetReader` whose ``problem`` tells, once the stream has
        ended, whether it ended because the compressed data was damaged.
    """
    counted = CountingReader(raw)
    source = cast(BinaryIO, counted)
    # The decompressor objects are owned by the returned reader, which the caller closes.
    inner: BinaryIO
    if fmt is Format.GZIP:
        inner = cast(BinaryIO, gzip.GzipFile(fileobj=source, mode="rb"))
    elif fmt is Format.BZ2:
        inner = cast(BinaryIO, bz2.BZ2File(source))
    elif fmt in (Format.XZ, Format.LZMA):
        container = lzma.FORMAT_XZ if fmt is Format.XZ else lzma.FORMAT_ALONE
        inner = cast(BinaryIO, lzma.LZMAFile(source, format=container))  # noqa: SIM115
    elif fmt is Format.ZLIB:
        inner = cast(BinaryIO, io.BufferedReader(ZlibReader(source)))
    else:
        raise ValueError(f"not a compressed format: {fmt}")
    budgeted = BudgetReader(inner, budget, compressed=counted)
    return io.BufferedReader(budgeted, _CHUNK * 4), budgeted
