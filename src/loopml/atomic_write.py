"""Atomic file writes: a temporary file in the target folder, fsync, then a rename.

Readers see the old file or the whole new one, never half of one; a crash leaves no partial file.
Used for the reports, schemas, statistics and evaluation results that loopml writes for people.
Files get the permissions the user's umask gives a new file (as ``open(path, "w")`` would), unless
``private=True`` asks for owner-only ``0600`` (keys, tokens and other secrets).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["PRIVATE_MODE", "current_umask", "write_bytes_atomic", "write_text_atomic"]

#: Permission bits of a secret: read and write for its owner only.
PRIVATE_MODE = 0o600


def current_umask() -> int:
    """The process's umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def write_bytes_atomic(path: Path, data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never half.

    Args:
        path: Destination; missing parent folders are created.
        data: The new content.
        private: Owner-only ``0600`` for secrets; otherwise ``0666`` less the umask.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, PRIVATE_MODE if private else 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str, *, private: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as :func:`write_bytes_atomic` does."""
    return write_bytes_atomic(path, text.encode("utf-8"), private=private)
