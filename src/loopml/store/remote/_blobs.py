"""Remote blob access for the tracking client: upload and download artifact bytes through the server.

Uploads stream the file in chunks while hashing it and send the hash, so the server refuses
bytes changed in transit; downloads are hashed as they arrive and the file appears only once it
verifies (the same guarantees as the local blob store).
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
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


def _sha_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


class RemoteBlobs:
    """The part of ``BlobStore`` the tracking client uses, over a loopml server."""

    def __init__(self, session: ApiSession) -> None:
        self._api = session

    @property
    def root_url(self) -> str:
        return self._api.base_url + "/api/v1/blobs"

    def _put(self, f: BinaryIO, *, sha256: str | None, label: str | None) -> RemoteBlobRef:
        headers = {"Content-Type": "application/octet-stream"}
        if sha256 is not None:
            headers["X-Content-SHA256"] = sha256
        if label:
            headers["X-Loopml-Label"] = quote(label[:1000], safe="/")
        found = self._api.upload("/blobs", _chunks(f), headers=headers)
        return RemoteBlobRef(sha256=found["sha256"], size=found["size"], uri=found["uri"])

    def put_file(self, path: str | os.PathLike[str], *, label: str | None = None) -> RemoteBlobRef:
        """Upload a file (streamed; hashed first so the server can check what arrived)."""
        source = Path(path)
        try:
            sha256 = _sha_of(source)
            with source.open("rb") as f:
                return self._put(f, sha256=sha256, label=label or source.name)
        except FileNotFoundError as err:
            raise NotFound(f"No file at {str(source)!r} to store; check the path.") from err
        except (IsADirectoryError, PermissionError) as err:
            raise InvalidInput(f"Cannot read {str(source)!r} as a file: {err.strerror}.") from err

    def put_bytes(self, data: bytes, *, label: str | None = None) -> RemoteBlobRef:
        """Upload bytes."""
        return self._put(io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest(), label=label)

    def put_stream(self, fileobj: BinaryIO, *, label: str | None = None) -> RemoteBlobRef:
        """Upload everything readable from ``fileobj`` (the server hashes it)."""
        return self._put(fileobj, sha256=None, label=label)

    def _fetch(self, sha256: str, out: BinaryIO, *, label: str | None, size: int | None) -> int:
        digest, received = hashlib.sha256(), 0
        with self._api.download(f"/blobs/{quote(sha256, safe='')}", params={"size": size}) as response:
            for chunk in response.iter_bytes(CHUNK):
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
            with temp.open("xb") as out:
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
