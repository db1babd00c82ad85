"""Content-addressed, immutable blob storage over fsspec, verified on read, optionally encrypted.

Blobs are addressed by the SHA-256 of their content (``sha256/<2 hex>/<62 hex>`` under the root),
written atomically and checked on every read. A folder is a manifest blob naming one blob per
file, verified member by member. Large data can be registered by reference instead of copied.
"""

from loopml.artifacts._access import Blobs, StoredBlob
from loopml.artifacts._blobs import BlobStore
from loopml.artifacts._configured import blob_store_for, encryption_key_for
from loopml.artifacts._encryption import encryption_key_id, generate_encryption_key, load_encryption_key
from loopml.artifacts._filesystems import TEMP_DIR, resolve_fs
from loopml.artifacts._folders import (
    LAYOUT_DIRECTORY,
    LAYOUT_PROPERTY,
    FolderBlobs,
    FolderMember,
    get_folder,
    is_folder,
    read_manifest,
    verify_folder,
)
from loopml.artifacts._hashing import CHUNK_SIZE
from loopml.artifacts._references import register_reference
from loopml.artifacts._refs import BLOB_PREFIX, BlobRef, blob_uri, validate_sha256

__all__ = [
    "BLOB_PREFIX",
    "CHUNK_SIZE",
    "LAYOUT_DIRECTORY",
    "LAYOUT_PROPERTY",
    "TEMP_DIR",
    "BlobRef",
    "BlobStore",
    "Blobs",
    "FolderBlobs",
    "FolderMember",
    "StoredBlob",
    "blob_store_for",
    "blob_uri",
    "encryption_key_for",
    "encryption_key_id",
    "generate_encryption_key",
    "get_folder",
    "is_folder",
    "load_encryption_key",
    "read_manifest",
    "register_reference",
    "resolve_fs",
    "validate_sha256",
    "verify_folder",
]
