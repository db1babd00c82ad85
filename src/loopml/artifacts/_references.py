"""Data registered by reference: hash and size recorded once, the bytes stay where they are."""

from __future__ import annotations

import hashlib
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

from loopml.artifacts._filesystems import resolve_fs
from loopml.artifacts._hashing import CHUNK_SIZE, mismatch_message
from loopml.artifacts._refs import BlobRef
from loopml.errors import Conflict, IntegrityError, InvalidInput, NotFound

__all__ = ["check_reference", "register_reference"]


def _subject(url: str, label: str | None) -> str:
    return f"Reference {label!r} ({url})" if label else f"Reference {url}"


def _info(fs: AbstractFileSystem, path: str, *, url: str) -> dict[str, Any]:
    try:
        info: dict[str, Any] = fs.info(path)
    except FileNotFoundError as err:
        raise NotFound(
            f"No file at {url!r} (path {path!r}); check the URL or that the data was not moved."
        ) from err
    if info.get("type") != "file":
        raise InvalidInput(
            f"{url!r} is a {info.get('type', 'non-file')}, not a file; "
            "register each file by reference on its own."
        )
    return info


def _version_tag(info: dict[str, Any]) -> str | None:
    """The ETag when the filesystem reports one, else ``mtime:<seconds>``, else None."""
    for key in ("ETag", "etag", "e_tag"):
        if info.get(key):
            return str(info[key]).strip('"')
    mtime = info.get("mtime") or info.get("LastModified") or info.get("last_modified")
    if mtime is None:
        return None
    return f"mtime:{mtime.timestamp() if hasattr(mtime, 'timestamp') else mtime}"


def _hash(fs: AbstractFileSystem, path: str, *, url: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    try:
        with fs.open(path, "rb") as f:
            while chunk := f.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError as err:
        raise NotFound(f"No file at {url!r} (path {path!r}); it disappeared while being read.") from err
    return digest.hexdigest(), size


def register_reference(url: str, *, label: str | None = None) -> BlobRef:
    """Hash the file at ``url`` once and describe it; nothing is copied.

    Raises:
        NotFound: nothing at ``url``.
        InvalidInput: ``url`` is malformed or a directory.
        Conflict: the file changed while it was being hashed.
    """
    fs, path = resolve_fs(url, what="Reference URL")
    before = _version_tag(_info(fs, path, url=url))
    sha256, size = _hash(fs, path, url=url)
    after_info = _info(fs, path, url=url)
    etag = _version_tag(after_info)
    if etag != before or after_info.get("size", size) != size:
        raise Conflict(
            f"{_subject(url, label)} changed while it was being hashed; register it again once it is stable."
        )
    uri = path if isinstance(fs, LocalFileSystem) and "://" not in url else url
    return BlobRef(sha256=sha256, size=size, uri=uri, is_reference=True, etag=etag)


def check_reference(ref: BlobRef, *, label: str | None = None) -> None:
    """Check that the referenced file still has the registered size, then the registered hash.

    Raises:
        NotFound: the file is gone.
        IntegrityError: size or hash differ from the registration.
    """
    fs, path = resolve_fs(ref.uri, what="Reference URL")
    subject = _subject(ref.uri, label)
    size = _info(fs, path, url=ref.uri).get("size")
    if isinstance(size, int) and size != ref.size:
        raise IntegrityError(
            f"{subject} changed since it was registered: {size} bytes now, {ref.size} bytes registered "
            f"(sha256 {ref.sha256}). Register the new version with reference() if the change is intended."
        )
    sha256, actual_size = _hash(fs, path, url=ref.uri)
    if sha256 != ref.sha256 or actual_size != ref.size:
        raise IntegrityError(
            mismatch_message(
                subject=subject,
                expected_sha256=ref.sha256,
                expected_size=ref.size,
                actual_sha256=sha256,
                actual_size=actual_size,
                hint="The referenced file changed since it was registered; register the new version with "
                "reference() if the change is intended, otherwise restore the original.",
            )
        )
