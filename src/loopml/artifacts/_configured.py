"""The blob store that :class:`~loopml.config.Settings` describe: root and encryption key, together.

:func:`blob_store_for` is the one place a blob store is built from settings, so no caller can
open the artifact root without the key (``LOOPML_ARTIFACTS_ENCRYPTION_KEY``) and write
plaintext beside encrypted blobs or fail to read them. The composition root
(:mod:`loopml.services`) and the tracking client call it.
"""

from __future__ import annotations

from loopml.artifacts._blobs import BlobStore
from loopml.artifacts._encryption import load_encryption_key
from loopml.config import Settings

__all__ = ["blob_store_for", "encryption_key_for"]


def encryption_key_for(settings: Settings) -> bytes | None:
    """The key ``settings.artifacts_encryption_key`` names (file or value), None when unset.

    Raises:
        NotFound: the setting names a key file that does not exist.
        InvalidInput: the file or value is not a 32-byte key.
    """
    value = settings.artifacts_encryption_key
    return load_encryption_key(value) if value else None


def blob_store_for(settings: Settings) -> BlobStore:
    """The blob store at ``settings.resolved_artifacts_url()``, encrypted when a key is configured.

    Example:
        >>> from loopml.config import Settings
        >>> blob_store_for(Settings(artifacts_url="memory://doctest-configured")).is_encrypted
        False
        >>> blob_store_for(
        ...     Settings(artifacts_url="memory://doctest-configured", artifacts_encryption_key="11" * 32)
        ... ).is_encrypted
        True
    """
    return BlobStore(settings.resolved_artifacts_url(), encryption_key=encryption_key_for(settings))
