"""Content digests of files named by parameters, so cached steps notice edited files."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from loopml.errors import InvalidInput

__all__ = ["file_digest"]

_CHUNK = 1 << 20


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 over a file, or over every file of a folder (relative names and bytes, sorted).

    Pass it as a component parameter next to a path (``source_digest=file_digest(p)``): the
    cache key then changes when the content changes, not only when the path does.

    Raises:
        InvalidInput: ``path`` does not exist.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("x")
        >>> file_digest(p) == file_digest(p)
        True
    """
    root = Path(path)
    if not root.exists():
        raise InvalidInput(f"Cannot fingerprint {str(root)!r}: no such file or folder.")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_to(root).as_posix().encode() if f != root else b"")
        digest.update(b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()
