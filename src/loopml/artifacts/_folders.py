"""Folder artifacts: one manifest blob naming a blob per file; verified and copied out member by member.

A folder is stored as one blob per file plus a manifest (canonical JSON) whose ``files`` maps
each relative path to the file's SHA-256 (``{"a.txt": "<sha256>"}``) or to its SHA-256 and size
(``{"a.txt": {"sha256": ..., "size": ...}}``). The folder's record holds the manifest's hash and
the total size of its files, so a folder checks out when the manifest matches its hash, every
member matches its hash (and size, when listed) and the sizes add up to the recorded total.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from loopml.artifacts._refs import validate_sha256
from loopml.errors import IntegrityError, InvalidInput

__all__ = [
    "LAYOUT_DIRECTORY",
    "LAYOUT_PROPERTY",
    "FolderBlobs",
    "FolderMember",
    "get_folder",
    "is_folder",
    "read_manifest",
    "verify_folder",
]

LAYOUT_PROPERTY = "loopml.layout"
"""Artifact property saying how the bytes are laid out: ``file`` or ``directory``."""
LAYOUT_DIRECTORY = "directory"


class _Sized(Protocol):
    @property
    def size(self) -> int: ...


class FolderBlobs(Protocol):
    """The reads a folder needs; a local :class:`~loopml.artifacts.BlobStore` and a remote one have them."""

    def read_bytes(self, sha256: str, *, label: str | None = None, size: int | None = None) -> bytes: ...

    def verify(self, sha256: str, *, label: str | None = None, size: int | None = None) -> _Sized: ...

    def get_file(
        self, sha256: str, dest: str | os.PathLike[str], *, label: str | None = None, size: int | None = None
    ) -> Path: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FolderMember:
    """One file of a folder artifact: its relative path, hash and (when the manifest lists it) size."""

    path: str
    sha256: str
    size: int | None = None


def is_folder(properties: Mapping[str, Any]) -> bool:
    """Whether an artifact with these properties is a folder (a manifest of member blobs).

    Example:
        >>> is_folder({"loopml.layout": "directory"}), is_folder({})
        (True, False)
    """
    return properties.get(LAYOUT_PROPERTY) == LAYOUT_DIRECTORY


def _member(path: object, entry: object, *, label: str) -> FolderMember:
    if not isinstance(path, str) or not path or path.startswith("/") or "\\" in path:
        raise ValueError(f"entry {path!r} is not a relative path")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ValueError(f"entry {path!r} leaves the folder or has empty parts")
    sha256, size = (entry.get("sha256"), entry.get("size")) if isinstance(entry, dict) else (entry, None)
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise ValueError(f"entry {path!r} has size {size!r}, not an integer >= 0")
    return FolderMember(path=path, sha256=validate_sha256(sha256, label=f"{label} file {path}"), size=size)


def read_manifest(raw: bytes, *, label: str) -> tuple[FolderMember, ...]:
    """The members a folder manifest lists, sorted by path.

    Raises:
        IntegrityError: the manifest is not a folder manifest, or an entry leaves the folder.

    Example:
        >>> read_manifest(b'{"files": {"a.txt": "' + b"0" * 64 + b'"}}', label="demo")[0].path
        'a.txt'
    """
    try:
        files = json.loads(raw)["files"]
        if not isinstance(files, dict):
            raise ValueError("'files' is not an object of path -> sha256")
        return tuple(sorted((_member(p, e, label=label) for p, e in files.items()), key=lambda m: m.path))
    except (ValueError, KeyError, TypeError, InvalidInput) as err:
        raise IntegrityError(
            f"The manifest of folder {label} is not a folder manifest ({err}); the stored copy is damaged "
            "or the record points at another kind of blob. Restore it from a backup."
        ) from err


def _check_total(members: int, total: int, expected: int | None, *, label: str) -> None:
    if expected is not None and total != expected:
        raise IntegrityError(
            f"Folder {label} failed verification: its {members} files hold {total} bytes, "
            f"{expected} bytes are recorded. The stored copy or the record was tampered with; "
            "restore it from a backup."
        )


def verify_folder(
    blobs: FolderBlobs, sha256: str, *, label: str, total_size: int | None = None
) -> tuple[FolderMember, ...]:
    """Verify a folder artifact: the manifest against ``sha256``, then every member, then the total size.

    Args:
        blobs: Where manifest and members are stored.
        sha256: The manifest's hash (the artifact's ``sha256``).
        label: How messages name the folder.
        total_size: The recorded size of the folder (the sum of its files), when known.

    Returns:
        The members, each verified.

    Raises:
        NotFound: the manifest or a member is missing.
        IntegrityError: the manifest or a member does not match, or the sizes do not add up.
    """
    members = read_manifest(blobs.read_bytes(sha256, label=f"{label} manifest"), label=label)
    total = sum(blobs.verify(m.sha256, label=f"{label} file {m.path}", size=m.size).size for m in members)
    _check_total(len(members), total, total_size, label=label)
    return members


def get_folder(
    blobs: FolderBlobs,
    sha256: str,
    dest: str | os.PathLike[str],
    *,
    label: str,
    total_size: int | None = None,
) -> Path:
    """Copy a folder artifact to ``dest`` (which must not exist); it appears only once every file verified.

    The files are written into a temporary folder next to ``dest`` and renamed into place.

    Raises:
        InvalidInput: ``dest`` already exists.
        NotFound, IntegrityError: as :func:`verify_folder`.
    """
    target = Path(dest)
    if target.exists():
        raise InvalidInput(
            f"Cannot write folder {label} to {str(target)!r}: it already exists; pass a new path "
            "or an existing directory to write it into."
        )
    members = read_manifest(blobs.read_bytes(sha256, label=f"{label} manifest"), label=label)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part"))
    try:
        total = 0
        for m in members:
            path = staging.joinpath(*PurePosixPath(m.path).parts)
            blobs.get_file(m.sha256, path, label=f"{label} file {m.path}", size=m.size)
            total += path.stat().st_size
        _check_total(len(members), total, total_size, label=label)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
