"""What code that moves artifact bytes may rely on: the :class:`Blobs` protocol and its stored refs.

The local :class:`~loopml.artifacts.BlobStore` and the tracking client's remote blobs (through a
loopml server) both satisfy it, so callers type against the capability rather than a class.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["Blobs", "StoredBlob"]


class StoredBlob(Protocol):
    """Where stored bytes landed: their hash, size and URI."""

    @property
    def sha256(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def uri(self) -> str: ...
    @property
    def is_reference(self) -> bool: ...


@runtime_checkable
class Blobs(Protocol):
    """Content-addressed blob storage: write files or bytes, read them back verified.

    Example:
        >>> from loopml.artifacts import BlobStore
        >>> isinstance(BlobStore("memory://doctest-protocol"), Blobs)
        True
    """

    @property
    def root_url(self) -> str: ...
    def put_file(self, path: str | os.PathLike[str], *, label: str | None = None) -> StoredBlob: ...
    def put_bytes(self, data: bytes, *, label: str | None = None) -> StoredBlob: ...
    def get_file(
        self,
        sha256: str,
        dest: str | os.PathLike[str],
        *,
        label: str | None = None,
        size: int | None = None,
    ) -> Path: ...
    def read_bytes(self, sha256: str, *, label: str | None = None, size: int | None = None) -> bytes: ...
    def verify(self, sha256: str, *, label: str | None = None, size: int | None = None) -> StoredBlob: ...
