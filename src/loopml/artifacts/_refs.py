"""Blob references: the :class:`BlobRef` value and the rules for a valid SHA-256 address."""

from __future__ import annotations

import re
from dataclasses import dataclass

from loopml.errors import InvalidInput

__all__ = ["BLOB_PREFIX", "BlobRef", "blob_uri", "validate_sha256"]

BLOB_PREFIX = "sha256"
_SHA256_RE = re.compile(r"[0-9a-f]{64}")


def validate_sha256(sha256: object, *, label: str | None = None) -> str:
    """Return ``sha256`` unchanged if it is 64 lowercase hex characters.

    The check also keeps path separators and ``..`` out of blob addresses.

    Args:
        sha256: The value to check.
        label: What the hash belongs to, for the error message.

    Returns:
        The validated hash.

    Raises:
        InvalidInput: naming the bad value.

    Example:
        >>> validate_sha256("0" * 64) == "0" * 64
        True
    """
    if not isinstance(sha256, str) or _SHA256_RE.fullmatch(sha256) is None:
        what = f" for {label!r}" if label else ""
        raise InvalidInput(
            f"Invalid sha256{what}: {sha256!r}. Expected 64 lowercase hex characters "
            "(the output of hashlib.sha256(...).hexdigest())."
        )
    return sha256


def blob_uri(sha256: str) -> str:
    """The location of a stored blob relative to the store root: ``sha256/<2 hex>/<62 hex>``.

    Example:
        >>> blob_uri("ab" + "c" * 62)
        'sha256/ab/cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc'
    """
    validate_sha256(sha256)
    return f"{BLOB_PREFIX}/{sha256[:2]}/{sha256[2:]}"


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What a blob store returns for stored or referenced content.

    Attributes:
        sha256: SHA-256 of the content (of the plaintext, also when stored encrypted).
        size: Content size in bytes.
        uri: ``sha256/<2 hex>/<62 hex>`` relative to the store root for stored blobs;
            the URL itself for references.
        is_reference: True when the content lives elsewhere and was registered, not copied.
        etag: For references, the filesystem's ETag when it has one, else ``"mtime:<seconds>"``;
            ``None`` for stored blobs.

    Example:
        >>> BlobRef(sha256="0" * 64, size=3, uri=blob_uri("0" * 64)).is_reference
        False
    """

    sha256: str
    size: int
    uri: str
    is_reference: bool = False
    etag: str | None = None

    def __post_init__(self) -> None:
        validate_sha256(self.sha256)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise InvalidInput(f"BlobRef.size must be an integer >= 0. Got {self.size!r}.")
        if not isinstance(self.uri, str) or not self.uri:
            raise InvalidInput(f"BlobRef.uri must be a non-empty string. Got {self.uri!r}.")
