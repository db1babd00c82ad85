"""Entry points: scan a path or bytes for pickle-family content that would run code on load.

Nothing is imported, unpickled or executed: streams are sniffed by their magic bytes, containers
are opened with bounded streaming readers, and pickles are walked opcode by opcode.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from loopml.errors import InvalidInput, NotFound
from loopml.security.scan._containers import Budget, BudgetReader, PrefixedReader, open_compressed
from loopml.security.scan._numpy import read_npy_header
from loopml.security.scan._sink import FindingSink
from loopml.security.scan._sniff import HEAD_SIZE, Format, sniff
from loopml.security.scan._source import ByteSource, StreamProblem
from loopml.security.scan._torch import LEGACY_PICKLES, torch_storage_prefixes
from loopml.security.scan._walker import PickleWalker
from loopml.security.scan.limits import ScanLimits
from loopml.security.scan.report import FindingKind, MemberReport, ScanReport

__all__ = ["scan_bytes", "scan_path"]

_COMPRESSED = (Format.GZIP, Format.BZ2, Format.XZ, Format.LZMA, Format.ZLIB)
_PICKLES = (Format.PICKLE, Format.MAYBE_PICKLE, Format.TORCH_LEGACY)


class _Scan:
    """One scan: limits, trusted globals, the shared byte budget and the member reports."""

    def __init__(self, *, trusted: frozenset[str], limits: ScanLimits) -> None:
        self.trusted = trusted
        self.limits = limits
        self.budget = Budget(limits)
        self.members: list[MemberReport] = []

    # -- one stream ------------------------------------------------------------------------------
    def stream(
        self,
        stream: BinaryIO,
        path: str,
        *,
        depth: int,
        label: str = "",
        reader: BudgetReader | None = None,
    ) -> None:
        """Sniff ``stream`` and scan it as what it is; ``label`` prefixes the format (``gzip/``).

        ``reader`` is the decompressing reader under ``stream``, whose damage is reported here.
        """
        sink = FindingSink(trusted=self.trusted)
        fmt_label, nbytes = label + "data", 0
        slot = len(self.members)  # a container's report goes before its members'
        try:
            head = stream.read(HEAD_SIZE)
            fmt = sniff(head)
            shown = Format.PICKLE if fmt is Format.MAYBE_PICKLE else fmt
            fmt_label = label + shown.value
            if fmt in _COMPRESSED:
                self._compressed(fmt, stream, head, path, depth=depth, label=fmt_label + "/")
                return
            if fmt in (Format.ZIP, Format.TAR):
                nbytes = self._archive(fmt, stream, head, path, depth=depth, sink=sink)
            elif fmt in _PICKLES:
                fmt_label, nbytes = self._pickle(fmt, stream, head, sink, label=label)
            elif fmt is Format.NPY:
                fmt_label, nbytes = self._npy(stream, head, sink, label=label)
            else:
                nbytes = len(head)
        except StreamProblem as problem:
            sink.add(problem.kind, problem.message, offset=problem.offset, opcode=problem.opcode)
        except (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile) as err:
            sink.add(FindingKind.PARSE_ERROR, f"cannot read {fmt_label}: {err}")
        if reader is not None and reader.problem is not None:
            p = reader.problem
            sink.add(p.kind, p.message, offset=p.offset, opcode=p.opcode)
        self._record(path, fmt_label, sink, nbytes, slot=slot)

    def appended_zip(self, stream: BinaryIO, path: str) -> None:
        """Scan a zip hidden behind other content (zip readers find it from the end of the file)."""
        stream.seek(0)
        if stream.read(4).startswith(b"PK") or not zipfile.is_zipfile(stream):
            return
        sink = FindingSink(trusted=self.trusted)
        slot = len(self.members)
        member = f"{path}[appended-zip]"
        try:
            stream.seek(0)
            with zipfile.ZipFile(stream) as archive:
                nbytes = self._zip_members(archive, member, depth=1, sink=sink)
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            sink.add(FindingKind.PARSE_ERROR, f"cannot read the zip appended to {path!r}: {err}")
            nbytes = 0
        self._record(member, "zip", sink, nbytes, slot=slot)

    def _record(
        self, path: str, fmt: str, sink: FindingSink, nbytes: int, *, slot: int | None = None
    ) -> None:
        self.members.insert(
            len(self.members) if slot is None else slot,
            MemberReport(
                path=path,
                format=fmt,
                findings=tuple(sink.findings),
                globals=tuple(sink.globals),
                bytes_scanned=nbytes,
            ),
        )

    def _compressed(
        self, fmt: Format, stream: BinaryIO, head: bytes, path: str, *, depth: int, label: str
    ) -> None:
        if depth >= self.limits.max_depth:
            raise StreamProblem(
                FindingKind.RESOURCE_LIMIT,
                f"containers nest deeper than ScanLimits.max_depth={self.limits.max_depth}",
                offset=0,
            )
        raw = io.BufferedReader(PrefixedReader(head, stream))
        inner, reader = open_compressed(fmt, raw, self.budget)
        self.stream(inner, path, depth=depth + 1, label=label, reader=reader)

    def _pickle(
        self, fmt: Format, stream: BinaryIO, head: bytes, sink: FindingSink, *, label: str
    ) -> tuple[str, int]:
        src = ByteSource(stream, head=head)
        walker = PickleWalker(src, sink, self.limits)
        try:
            if fmt is Format.TORCH_LEGACY:
                walker.walk_stream(max_pickles=LEGACY_PICKLES)
                src.drain()  # raw storage bytes, read by offset and never unpickled
            else:
                walker.walk_stream()
        except StreamProblem as problem:
            if fmt is Format.MAYBE_PICKLE and not walker.looks_like_pickle:
                sink.findings.clear()  # text or binary data that merely starts like an opcode
                sink.globals.clear()
                return label + Format.DATA.value, src.pos
            raise problem
        return label + (Format.PICKLE.value if fmt is Format.MAYBE_PICKLE else fmt.value), src.pos

    def _npy(self, stream: BinaryIO, head: bytes, sink: FindingSink, *, label: str) -> tuple[str, int]:
        src = ByteSource(stream, head=head)
        header = read_npy_header(src)
        if not header.has_object:
            return label + "npy", src.pos  # raw numbers follow; nothing to unpickle
        PickleWalker(src, sink, self.limits).walk_stream()
        return label + "npy/pickle", src.pos

    # -- archives --------------------------------------------------------------------------------
    def _archive(
        self, fmt: Format, stream: BinaryIO, head: bytes, path: str, *, depth: int, sink: FindingSink
    ) -> int:
        if depth >= self.limits.max_depth:
            raise StreamProblem(
                FindingKind.RESOURCE_LIMIT,
                f"containers nest deeper than ScanLimits.max_depth={self.limits.max_depth}",
                offset=0,
            )
        if fmt is Format.TAR:
            raw = io.BufferedReader(PrefixedReader(head, stream))
            with tarfile.open(fileobj=raw, mode="r|") as tar:
                return self._tar_members(tar, path, depth=depth, sink=sink)
        seekable = _seekable_file(stream)
        with seekable if seekable is not None else self._spool(head, stream) as fileobj:
            fileobj.seek(0)
            with zipfile.ZipFile(fileobj) as archive:
                return self._zip_members(archive, path, depth=depth, sink=sink)

    def _spool(self, head: bytes, stream: BinaryIO) -> BinaryIO:
        spool = tempfile.SpooledTemporaryFile(max_size=self.limits.spool_memory_bytes)  # noqa: SIM115
        spool.write(head)
        shutil.copyfileobj(stream, spool, 1 << 20)
        return spool  # type: ignore[return-value]

    def _take_member(self, name: str, sink: FindingSink) -> bool:
        self.budget.members += 1
        if self.budget.members > self.limits.max_members:
            sink.add(
                FindingKind.RESOURCE_LIMIT,
                f"more than ScanLimits.max_members={self.limits.max_members} archive members; "
                f"{name!r} and later ones were not scanned",
            )
            return False
        return True

    def _zip_members(self, archive: zipfile.ZipFile, path: str, *, depth: int, sink: FindingSink) -> int:
        infos = archive.infolist()
        storages = torch_storage_prefixes(i.filename for i in infos)
        total = 0
        for info in infos:
            if info.is_dir():
                continue
            if not self._take_member(info.filename, sink):
                break
            member_path = f"{path}/{info.filename}"
            if storages and info.filename.startswith(storages):
                self._record(member_path, "torch-storage", FindingSink(trusted=self.trusted), 0)
                continue
            if info.flag_bits & 0x1:
                bad = FindingSink(trusted=self.trusted)
                bad.add(FindingKind.PARSE_ERROR, f"{info.filename!r} is encrypted and cannot be scanned")
                self._record(member_path, "encrypted", bad, 0)
                continue
            with archive.open(info) as member:
                declared = info.compress_size if info.compress_type != zipfile.ZIP_STORED else None
                reader = BudgetReader(member, self.budget, declared_compressed=declared)  # type: ignore[arg-type]
                self.stream(io.BufferedReader(reader), member_path, depth=depth + 1, reader=reader)
            total += info.compress_size
        return total

    def _tar_members(self, tar: tarfile.TarFile, path: str, *, depth: int, sink: FindingSink) -> int:
        total = 0
        for info in tar:
            if not info.isfile():
                continue
            if not self._take_member(info.name, sink):
                break
            member = tar.extractfile(info)
            if member is None:
                continue
            reader = BudgetReader(member, self.budget)  # type: ignore[arg-type]
            member_path = f"{path}/{info.name}"
            self.stream(io.BufferedReader(reader), member_path, depth=depth + 1, reader=reader)
            total += info.size
        return total


def _seekable_file(stream: BinaryIO) -> BinaryIO | None:
    if isinstance(stream, io.BufferedReader | io.FileIO | io.BytesIO):
        try:
            if stream.seekable():
                return _NoClose(stream)  # type: ignore[return-value]
        except (OSError, ValueError):
            return None
    return None


class _NoClose(io.BufferedIOBase):
    """Lends a stream to a ``with`` block without closing it."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner

    def __enter__(self) -> BinaryIO:  # type: ignore[override]
        return self._inner

    def __exit__(self, *exc: object) -> None:
        return None


def _trusted(names: Iterable[str]) -> frozenset[str]:
    out = set()
    for name in names:
        parts = name.split(".") if isinstance(name, str) else []
        if len(parts) < 2 or not all(p.isidentifier() for p in parts):
            raise InvalidInput(
                f"A trusted global must be a dotted 'module.name' path, e.g. 'mypkg.models.MyModel'. "
                f"Got {name!r}."
            )
        out.add(name)
    return frozenset(out)


def scan_path(
    path: str | os.PathLike[str],
    *,
    trusted_globals: Iterable[str] = (),
    limits: ScanLimits | None = None,
) -> ScanReport:
    """Scan a file, or every file under a directory, without deserialising anything.

    Args:
        path: A file or a directory (walked recursively; symbolic links are not followed and
            are reported as ``parse_error``).
        trusted_globals: ``module.name`` globals to allow besides the built-in allowlist.
            Denied globals stay denied.
        limits: Resource bounds; the defaults suit model files up to a few GiB.

    Returns:
        The report: a verdict per member and the worst verdict overall.

    Raises:
        NotFound: ``path`` does not exist.
        InvalidInput: a trusted global is not a dotted path.

    Example:
        >>> import pickle, tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "model.bin"
        >>> _ = p.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
        >>> scan_path(p).verdict.value
        'safe'
    """
    scan = _Scan(trusted=_trusted(trusted_globals), limits=limits or ScanLimits())
    root = Path(path)
    if not root.exists() and not root.is_symlink():
        raise NotFound(f"No file or directory at {str(root)!r} to scan; check the path.")
    files = sorted(p for p in root.rglob("*")) if root.is_dir() and not root.is_symlink() else [root]
    for file in files:
        mode = file.lstat().st_mode
        if stat.S_ISLNK(mode):
            sink = FindingSink(trusted=scan.trusted)
            sink.add(FindingKind.PARSE_ERROR, f"{str(file)!r} is a symbolic link; it was not followed")
            scan._record(str(file), "symlink", sink, 0)
        elif stat.S_ISREG(mode):
            with open(file, "rb") as stream:
                scan.stream(stream, str(file), depth=0)
                scan.appended_zip(stream, str(file))
    return ScanReport(path=str(root), members=tuple(scan.members))


def scan_bytes(
    data: bytes,
    *,
    label: str = "<bytes>",
    trusted_globals: Iterable[str] = (),
    limits: ScanLimits | None = None,
) -> ScanReport:
    """Scan in-memory content, exactly as :func:`scan_path` scans a file.

    Args:
        data: The content.
        label: The path to show in the report.
        trusted_globals: ``module.name`` globals to allow besides the built-in allowlist.
        limits: Resource bounds.

    Returns:
        The report.

    Example:
        >>> scan_bytes(b"cos\\nsystem\\n(S'id'\\ntR.").verdict.value
        'unsafe'
    """
    scan = _Scan(trusted=_trusted(trusted_globals), limits=limits or ScanLimits())
    scan.stream(io.BytesIO(data), label, depth=0)
    return ScanReport(path=label, members=tuple(scan.members))
