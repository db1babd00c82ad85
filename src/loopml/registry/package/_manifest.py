"""The ``checksums.json`` manifest: SHA-256 and size of every file of a package.

Format (stable, documented; keys sorted, two-space indent, trailing newline)::

    {
      "algorithm": "sha256",
      "files": {
        "model.yaml": {"sha256": "<64 hex>", "size": 412},
        "model/model.skops": {"sha256": "<64 hex>", "size": 20480}
      },
      "format": "loopml-checksums/1"
    }

Paths are POSIX, relative to the package root, never absolute, never containing ``..``,
``.`` or empty segments. The manifest lists every file of the package except itself and the
signature file (``model.sig``), which are excluded by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from loopml.errors import IntegrityError

__all__ = [
    "CHECKSUMS_FILE",
    "CHECKSUMS_FORMAT",
    "SIGNATURE_FILE",
    "FileDigest",
    "Manifest",
    "check_relative_path",
    "hash_file",
    "list_package_files",
    "read_manifest",
]

CHECKSUMS_FILE = "checksums.json"
SIGNATURE_FILE = "model.sig"
CHECKSUMS_FORMAT = "loopml-checksums/1"
_MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileDigest:
    """SHA-256 (hex) and size in bytes of one file."""

    sha256: str
    size: int


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """The parsed ``checksums.json``: relative POSIX path → digest."""

    files: Mapping[str, FileDigest]

    def to_json(self) -> str:
        """The canonical JSON text (sorted keys, two-space indent, trailing newline)."""
        doc = {
            "algorithm": "sha256",
            "files": {p: {"sha256": d.sha256, "size": d.size} for p, d in sorted(self.files.items())},
            "format": CHECKSUMS_FORMAT,
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse and validate manifest text; every path is checked by :func:`check_relative_path`.

        Raises:
            IntegrityError: the text is not a valid loopml checksums manifest.
        """
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise IntegrityError(f"{CHECKSUMS_FILE} is not valid JSON: {err}. Re-package the model.") from err
        if not isinstance(doc, dict) or doc.get("format") != CHECKSUMS_FORMAT:
            got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
            raise IntegrityError(f"{CHECKSUMS_FILE}: expected format {CHECKSUMS_FORMAT!r}, got {got!r}.")
        if doc.get("algorithm") != "sha256":
            raise IntegrityError(
                f"{CHECKSUMS_FILE}: algorithm must be 'sha256', got {doc.get('algorithm')!r}."
            )
        entries = doc.get("files")
        if not isinstance(entries, dict):
            raise IntegrityError(f"{CHECKSUMS_FILE}: 'files' must be an object of path → digest.")
        files: dict[str, FileDigest] = {}
        for path, entry in entries.items():
            check_relative_path(path)
            files[path] = _parse_entry(path, entry)
        return cls(files=files)


def _parse_entry(path: str, entry: object) -> FileDigest:
    if not isinstance(entry, dict):
        raise IntegrityError(f"{CHECKSUMS_FILE}: entry for {path!r} must be an object, got {entry!r}.")
    digest, size = entry.get("sha256"), entry.get("size")
    if not (isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise IntegrityError(f"{CHECKSUMS_FILE}: entry for {path!r} has a bad sha256 {digest!r}.")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise IntegrityError(f"{CHECKSUMS_FILE}: entry for {path!r} has a bad size {size!r}.")
    return FileDigest(sha256=digest, size=size)


def check_relative_path(path: str) -> str:
    """Refuse a manifest path that could escape the package (absolute, ``..``, odd segments).

    Returns:
        The path unchanged.

    Raises:
        IntegrityError: naming the path and why it is refused.

    Example:
        >>> check_relative_path("model/model.skops")
        'model/model.skops'
    """
    bad = (
        not isinstance(path, str)
        or not path
        or path.startswith("/")
        or "\\" in path
        or "\x00" in path
        or (len(path) > 1 and path[1] == ":")
    )
    parts = PurePosixPath(path).parts if isinstance(path, str) else ()
    if bad or any(p in ("..", ".", "") for p in path.split("/")) or not parts:
        raise IntegrityError(
            f"{CHECKSUMS_FILE} lists the path {path!r}, which is absolute or leaves the package "
            "(path traversal); refusing the package."
        )
    if path in (CHECKSUMS_FILE, SIGNATURE_FILE):
        raise IntegrityError(f"{CHECKSUMS_FILE} must not list {path!r}; refusing the package.")
    return path


def hash_file(path: Path) -> FileDigest:
    """SHA-256 and size of a file, streamed in 1 MiB chunks (symlinks are not followed)."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256")
        size = fh.tell()
    return FileDigest(sha256=digest.hexdigest(), size=size)


def list_package_files(root: Path) -> list[str]:
    """Every regular file under ``root`` as a sorted POSIX relative path.

    Raises:
        IntegrityError: a symlink or a special file (FIFO, device, socket) is found, named.
    """
    if root.is_symlink():
        raise IntegrityError(f"The package path {root} is a symlink; pass the real directory.")
    found: list[str] = []
    stack = [root]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                rel = Path(entry.path).relative_to(root).as_posix()
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISLNK(mode):
                    target = os.readlink(entry.path)
                    raise IntegrityError(
                        f"The package contains a symlink {rel!r} → {target!r}; packages must hold "
                        "regular files only. Replace the link with the file or remove it."
                    )
                if stat.S_ISDIR(mode):
                    stack.append(Path(entry.path))
                elif stat.S_ISREG(mode):
                    found.append(rel)
                else:
                    raise IntegrityError(f"The package contains {rel!r}, which is not a regular file.")
    return sorted(found)


def read_manifest(root: Path) -> tuple[Manifest, bytes]:
    """Read ``checksums.json`` of a package: the parsed manifest and its raw bytes.

    Raises:
        IntegrityError: the file is missing, too large, a symlink or malformed.
    """
    path = root / CHECKSUMS_FILE
    if path.is_symlink() or not path.is_file():
        raise IntegrityError(
            f"The package {root} has no regular {CHECKSUMS_FILE}; it is not a loopml package "
            "or was damaged. Re-package the model."
        )
    if path.stat().st_size > _MAX_MANIFEST_BYTES:
        raise IntegrityError(f"{CHECKSUMS_FILE} is larger than {_MAX_MANIFEST_BYTES} bytes; refusing it.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise IntegrityError(f"{CHECKSUMS_FILE} is not UTF-8 text: {err}.") from err
    return Manifest.from_json(text), raw
