"""Remote blob access for the tracking client: upload and download artifact bytes through the server.

Uploads read the file once: each chunk is hashed as it is sent, and the hash the server computed
of what it stored must match (else :class:`~loopml.errors.IntegrityError`; the server keeps
only blobs that match their own address, so nothing wrong is ever recorded). Files and bytes go
with a Content-Length. Downloads are hashed as they arrive and the file appears only once it
verifies (the same guarantees as the local blob store).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from loopml.errors import IntegrityError, InvalidInput, NotFound
from loopml.store.remote._http import ApiSession

__all__ = ["RemoteBlobRef", "RemoteBlobs"]

CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class RemoteBlobRef:
    """Where uploaded bytes landed (same fields as ``loopml.artifacts.BlobRef``)."""

    sha256: str
    size: int
    uri: str
    is_reference: bool = False


class _HashedChunks:
    """The chunks of a binary file object, hashed and counted as they are read (one pass)."""

    def __init__(self, f: BinaryIO) -> None:
        self._file = f
        self.digest = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._file.read(CHUNK):
            self.digest.update(chunk)
            self.size += len(chunk)
            yield chunk


def _file_size(f: BinaryIO) -> int | None:
    """The size of a regular file still to be read, None for anything else (pipes, sockets)."""
    try:
        info = os.fstat(f.fileno())
        return info.st_size - f.tell() if stat.S_ISREG(info.st_mode) else None
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


def _checked(found: Any, *, sent_sha256: str, sent_size: int, label: str | None) -> RemoteBlobRef:
    """The server's answer to an upload, if it stored exactly the bytes that were sent."""
    ref = RemoteBlobRef(sha256=found["sha256"], size=found["size"], uri=found["uri"])
    if ref.sha256 != sent_sha256 or ref.size != sent_size:
        name = f" {label!r}" if label else ""
        raise IntegrityError(
            f"The upload{name} was sent as sha256 {sent_sha256} ({sent_size} bytes) but the server "
            f"stored sha256 {ref.sha256} ({ref.size} bytes): the bytes changed in transit or the file "
            "changed while it was read. Nothing refers to the stored copy; retry the upload."
        )
    return ref


class RemoteBlobs:
    """The part of ``BlobStore`` the tracking client uses, over a loopml server."""

    def __init__(self, session: ApiSession, *, allow_unsafe: bool = False) -> None:
        self._api = session
        self._allow_unsafe = allow_unsafe

    def allowing_unsafe(self) -> RemoteBlobs:
        """The same store, also fetching blobs of artifacts recorded unsafe (an explicit opt-in)."""
        return RemoteBlobs(self._api, allow_unsafe=True)

    @property
    def root_url(self) -> str:
        return self._api.base_url + "/api/v1/blobs"

    def _put(self, f: BinaryIO, *, size: int | None, label: str | None) -> RemoteBlobRef:
        headers = {"Content-Type": "application/octet-stream"}
        if size is not None:  # a fixed-length body; without one it goes chunked
            headers["Content-Length"] = str(size)
        if label:
            headers["X-Loopml-Label"] = quote(label[:1000], safe="/")
        chunks = _HashedChunks(f)
        found = self._api.upload("/blobs", iter(chunks), headers=headers)
        return _checked(found, sent_sha256=chunks.digest.hexdigest(), sent_size=chunks.size, label=label)

    def put_file(self, path: str | os.PathLike[str], *, label: str | None = None) -> RemoteBlobRef:
        """Upload a file (streamed once; the server's hash of what it stored must match the bytes sent).

        Raises:
            NotFound: no file at ``path``.
            InvalidInput: ``path`` is a directory or unreadable.
            IntegrityError: the server stored other bytes than were sent.
        """
        source = Path(path)
        try:
            with source.open("rb") as f:
                return self._put(f, size=_file_size(f), label=label or source.name)
        except FileNotFoundError as err:
            raise NotFound(f"No file at {str(source)!r} to store; check the path.") from err
        except (IsADirectoryError, PermissionError) as err:
            raise InvalidInput(f"Cannot read {str(source)!r} as a file: {err.strerror}.") from err

    def put_bytes(self, data: bytes, *, label: str | None = None) -> RemoteBlobRef:
        """Upload bytes."""
        return self._put(io.BytesIO(data), size=len(data), label=label)

    def put_stream(self, fileobj: BinaryIO, *, label: str | None = None) -> RemoteBlobRef:
        """Upload everything readable from ``fileobj`` (a regular file goes with its size, else chunked)."""
        return self._put(fileobj, size=_file_size(fileobj), label=label)

    def _fetch(self, sha256: str, out: BinaryIO, *, label: str | None, size: int | None) -> int:
        digest, received = hashlib.sha256(), 0
        params: dict[str, object] = {"size": size}
        if self._allow_unsafe:
            params["allow_unsafe"] = "true"
        with self._api.download(f"/blobs/{quote(sha256, safe='')}", params=params) as response:
            for chunk in response.iter_bytes():  # pieces as they arrive, not copied into fixed sizes
                digest.update(chunk)
                received += len(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        if actual != sha256 or (size is not None and received != size):
            name = label or sha256
            raise IntegrityError(
                f"Artifact {name!r}: expected sha256 {sha256} ({size} bytes), received {actual} "
                f"({received} bytes). Do not use it; re-upload or check the server's artifact store."
            )
        return received

    def get_file(
        self, sha256: str, dest: str | os.PathLike[str], *, label: str | None = None, size: int | None = None
    ) -> Path:
        """Download to ``dest``; the file appears only after the bytes verify."""
        target = Path(dest)
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with temp.open("xb", buffering=CHUNK) as out:  # pieces arrive in 64 KiB; write 1 MiB
                self._fetch(sha256, out, label=label, size=size)
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return target

    def read_bytes(self, sha256: str, *, label: str | None = None, size: int | None = None) -> bytes:
        """The whole blob, verified."""
        out = io.BytesIO()
        self._fetch(sha256, out, label=label, size=size)
        return out.getvalue()

    def verify(self, sha256: str, *, label: str | None = None, size: int | None = None) -> RemoteBlobRef:
        """Download and re-hash the blob (bytes are discarded)."""

        class _Null(io.RawIOBase):
            def write(self, b: bytes) -> int:  # type: ignore[override]
                return len(b)

        received = self._fetch(sha256, _Null(), label=label, size=size)  # type: ignore[arg-type]
        return RemoteBlobRef(sha256=sha256, size=received, uri=f"sha256/{sha256[:2]}/{sha256[2:]}")
