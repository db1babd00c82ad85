"""Model package files over HTTP: rebuild an uploaded package from verified blobs; list a stored one.

Uploading a model version is two steps, and no archive is ever unpacked on the server: the
client first uploads every file of the package folder as a content-addressed blob
(``PUT /api/v1/blobs``), then sends the manifest ``{relative path: sha256}``. The server checks
every path (relative, normalised, no ``..``, no absolute paths, backslashes, control characters
or encoded dots; no file that is also a folder), copies each blob, verified, into a fresh
temporary folder and hands that folder to the registry, which verifies checksums and signature
and scans every file. A manifest can only name blobs, never links, so nothing points outside.

A stored version is listed from its package index blob (``loopml-package-index/1``), read
verified; each file is then downloadable by path, streamed and verified.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loopml.artifacts import BlobStore
from loopml.errors import IntegrityError, InvalidInput, LoopmlError, NotFound
from loopml.server._paths import check_request_path, normalise_artifact_path

__all__ = [
    "MAX_PACKAGE_FILES",
    "PackageFile",
    "checked_manifest",
    "package_file",
    "package_files",
    "rebuilt_package",
]

#: Most files one uploaded package may have.
MAX_PACKAGE_FILES = 1_000
_INDEX_FORMAT = "loopml-package-index/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class PackageFile:
    """One file of a stored model package.

    Attributes:
        path: Relative path inside the package folder.
        sha256: Hash of its content (its blob address).
        size: Size in bytes.
    """

    path: str
    sha256: str
    size: int


def checked_manifest(files: Mapping[str, str]) -> dict[str, str]:
    """The manifest with normalised paths, or :class:`InvalidInput` naming the bad entry.

    Refuses an empty manifest, more than :data:`MAX_PACKAGE_FILES` files, unsafe paths, two
    entries normalising to one path, and a path that is also the folder of another.
    """
    if not files:
        raise InvalidInput("The package manifest names no files; send {relative path: sha256} for each file.")
    if len(files) > MAX_PACKAGE_FILES:
        raise InvalidInput(
            f"The package manifest names {len(files)} files; at most {MAX_PACKAGE_FILES} are accepted."
        )
    clean: dict[str, str] = {}
    for raw, sha256 in files.items():
        path = check_request_path(raw)
        if path in clean:
            raise InvalidInput(
                f"The package manifest names {path!r} twice (as {raw!r}); name each file once."
            )
        clean[path] = sha256
    folders = {"/".join(p.split("/")[:i]) for p in clean for i in range(1, p.count("/") + 1)}
    clash = sorted(folders & clean.keys())
    if clash:
        raise InvalidInput(
            f"The package manifest names {clash[0]!r} both as a file and as a folder of other files."
        )
    return clean


@contextmanager
def rebuilt_package(
    blobs: BlobStore, files: Mapping[str, str], *, max_bytes: int, label: str
) -> Iterator[Path]:
    """A temporary folder holding the manifest's files, each copied from its blob and verified.

    Args:
        blobs: Where the client uploaded the files.
        files: Relative path → sha256 (checked with :func:`checked_manifest`).
        max_bytes: Largest total size of the package.
        label: Names the package in error messages.

    Raises:
        InvalidInput: a bad manifest, or the package is larger than ``max_bytes``.
        NotFound: a blob was not uploaded.
        IntegrityError: a stored blob does not match its hash.
    """
    manifest = checked_manifest(files)
    work = Path(tempfile.mkdtemp(prefix="loopml-upload-"))
    root = work / "package"
    try:
        total = 0
        for path, sha256 in sorted(manifest.items()):
            if not blobs.exists(sha256):
                raise NotFound(
                    f"File {path!r} of {label} names blob {sha256}, which is not stored; upload the file "
                    "with `PUT /api/v1/blobs` first."
                )
            try:
                written = blobs.get_file(sha256, root / path, label=f"{label}: {path}")
                total += written.stat().st_size
            except OSError as err:
                if isinstance(err, LoopmlError):
                    raise
                raise InvalidInput(
                    f"File {path[:80]!r} of {label} cannot be written: {err.strerror or err}. "
                    "Use shorter, plain relative paths."
                ) from err
            if total > max_bytes:
                raise InvalidInput(
                    f"{label} is larger than the server's limit of {max_bytes} bytes; nothing was registered."
                )
        yield root
    finally:
        shutil.rmtree(work, ignore_errors=True)


def package_files(blobs: BlobStore, index_sha256: str, *, label: str) -> list[PackageFile]:
    """The files of a stored package, from its index blob (read verified), sorted by path.

    Raises:
        NotFound: the index blob is missing.
        IntegrityError: the index does not match its hash or is not a package index.
    """
    raw = blobs.read_bytes(index_sha256, label=f"{label}: package index")
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict) or doc.get("format") != _INDEX_FORMAT:
            raise ValueError(f"format {doc.get('format') if isinstance(doc, dict) else None!r}")
        found = [
            PackageFile(path=normalise_artifact_path(p), sha256=str(e["sha256"]), size=int(e["size"]))
            for p, e in doc["files"].items()
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise IntegrityError(
            f"The package index of {label} (blob {index_sha256}) is not a {_INDEX_FORMAT} document: {err}."
        ) from err
    return sorted(found, key=lambda f: f.path)


def package_file(blobs: BlobStore, index_sha256: str, path: str, *, label: str) -> PackageFile:
    """One file of a stored package by its (normalised) relative path.

    Raises:
        NotFound: the package has no such file (the message lists a few it has).
    """
    wanted = normalise_artifact_path(path)
    files = package_files(blobs, index_sha256, label=label)
    for entry in files:
        if entry.path == wanted:
            return entry
    known = ", ".join(f.path for f in files[:10])
    raise NotFound(f"{label} has no file {wanted!r}; its files include: {known}.")
