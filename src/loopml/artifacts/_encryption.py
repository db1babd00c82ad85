"""Encryption at rest: AES-256-GCM in authenticated chunked frames, and key loading.

Stored layout of an encrypted blob::

    header  = MAGIC (8) | version (1) | chunk size (4, big-endian) | key id (8) | nonce prefix (8)
    frame i = AES-256-GCM(key, nonce = prefix | i (4, big-endian),
                          aad = header | i (8, big-endian) | final flag (1)) -> ciphertext | tag (16)

Every frame but the last holds exactly ``chunk size`` plaintext bytes; the last holds the rest
(possibly none) and is the only one sealed with the final flag, so dropping, reordering or
cutting frames fails authentication. The key id (a hash of the key) tells a wrong key apart
from tampered bytes. Content addresses stay the SHA-256 of the plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from loopml.artifacts._hashing import CHUNK_SIZE
from loopml.errors import IntegrityError, InvalidInput, NotFound

__all__ = [
    "HEADER_SIZE",
    "KEY_SIZE",
    "MAGIC",
    "TAG_SIZE",
    "DecryptingSource",
    "EncryptingWriter",
    "Header",
    "encryption_key_id",
    "generate_encryption_key",
    "load_encryption_key",
    "parse_header",
]

MAGIC = b"\x89LMLENC\n"
KEY_SIZE = 32
HEADER_SIZE = 29
_VERSION = 1
TAG_SIZE = 16
_HEADER = struct.Struct(">8sBI8s8s")
_MIN_CHUNK, _MAX_CHUNK = 4096, 64 << 20
_MAX_FRAMES = 1 << 32


def encryption_key_id(key: bytes) -> str:
    """A short public fingerprint of ``key`` (16 hex chars); reveals nothing usable about the key."""
    return hashlib.sha256(b"loopml-artifacts-key-id\0" + key).hexdigest()[:16]


def generate_encryption_key() -> bytes:
    """A fresh random 32-byte key for ``BlobStore(..., encryption_key=...)``.

    Example:
        >>> len(generate_encryption_key())
        32
    """
    return secrets.token_bytes(KEY_SIZE)


def _parse_key_text(text: str) -> bytes | None:
    text = text.strip()
    if len(text) == 2 * KEY_SIZE:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        try:
            decoded = base64.urlsafe_b64decode(text)
        except (binascii.Error, ValueError):
            return None
    return decoded if len(decoded) == KEY_SIZE else None


def _read_key_file(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise NotFound(f"Encryption key file {str(path)!r} does not exist; check the path.") from err
    except OSError as err:
        raise InvalidInput(f"Cannot read encryption key file {str(path)!r}: {err}.") from err
    if len(data) == KEY_SIZE:
        return data
    try:
        key = _parse_key_text(data.decode("ascii"))
    except UnicodeDecodeError:
        key = None
    if key is None:
        raise InvalidInput(
            f"Encryption key file {str(path)!r} holds {len(data)} bytes that are not a 32-byte key. "
            "It must contain 32 raw bytes, 64 hex characters or base64 of 32 bytes; "
            'create one with: python -c "import secrets; print(secrets.token_hex(32))" > key'
        )
    return key


def load_encryption_key(path_or_value: str | os.PathLike[str] | bytes) -> bytes:
    """Load a 32-byte AES-256 key from a key file or from a value (e.g. an environment variable).

    Args:
        path_or_value: A path to a key file (32 raw bytes, 64 hex characters or base64 of
            32 bytes), or the key itself as hex / base64 text, or 32 raw bytes.

    Returns:
        The 32-byte key.

    Raises:
        NotFound: a path-like argument names no file.
        InvalidInput: the content is not a 32-byte key (the message never echoes key material).

    Example:
        >>> load_encryption_key("00" * 32) == bytes(32)
        True
    """
    if isinstance(path_or_value, bytes):
        if len(path_or_value) == KEY_SIZE:
            return path_or_value
        key = _parse_key_text(path_or_value.decode("ascii", errors="replace"))
        if key is None:
            raise InvalidInput(
                "An encryption key must be 32 bytes (or their hex / base64 text). "
                f"Got {len(path_or_value)} bytes."
            )
        return key
    if isinstance(path_or_value, os.PathLike):
        return _read_key_file(Path(path_or_value))
    if os.path.isfile(path_or_value):
        return _read_key_file(Path(path_or_value))
    key = _parse_key_text(path_or_value)
    if key is None:
        raise InvalidInput(
            f"Encryption key value ({len(path_or_value)} characters) is neither an existing key file, "
            "nor 64 hex characters, nor base64 of 32 bytes. Generate one with: "
            'python -c "import secrets; print(secrets.token_hex(32))"'
        )
    return key


def check_key(key: object) -> bytes:
    """Return ``key`` if it is exactly 32 bytes, else raise InvalidInput."""
    if not isinstance(key, bytes) or len(key) != KEY_SIZE:
        got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
        raise InvalidInput(
            f"encryption_key must be 32 bytes (AES-256). Got {got}; "
            "use load_encryption_key() to read a key file or hex/base64 value."
        )
    return key


@dataclass(frozen=True, slots=True, kw_only=True)
class Header:
    """The parsed header of an encrypted blob."""

    raw: bytes
    chunk_size: int
    key_id: bytes
    nonce_prefix: bytes


def parse_header(raw: bytes, *, subject: str) -> Header:
    """Parse the header of an encrypted blob (``raw`` starts with :data:`MAGIC`)."""
    if len(raw) < HEADER_SIZE:
        raise IntegrityError(
            f"{subject} is truncated inside its encryption header; restore it from a backup."
        )
    magic, version, chunk_size, key_id, prefix = _HEADER.unpack(raw[:HEADER_SIZE])
    if magic != MAGIC or version != _VERSION or not _MIN_CHUNK <= chunk_size <= _MAX_CHUNK:
        raise IntegrityError(
            f"{subject} has a damaged or unsupported encryption header (version {version}, "
            f"chunk size {chunk_size}); restore it from a backup."
        )
    return Header(raw=raw[:HEADER_SIZE], chunk_size=chunk_size, key_id=key_id, nonce_prefix=prefix)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header: bytes, index: int, *, is_final: bool) -> bytes:
    return header + struct.pack(">Q?", index, is_final)


class EncryptingWriter:
    """Encrypts what is written into frames on ``out``; call :meth:`finish` once at the end."""

    def __init__(self, out: BinaryIO, key: bytes, *, chunk_size: int = CHUNK_SIZE) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._chunk_size = chunk_size
        key_id = bytes.fromhex(encryption_key_id(key))[:8]
        self._header = _HEADER.pack(MAGIC, _VERSION, chunk_size, key_id, secrets.token_bytes(8))
        self._pending = bytearray()
        self._index = 0
        out.write(self._header)

    def write(self, data: bytes) -> None:
        self._pending += data
        while len(self._pending) > self._chunk_size:  # the last frame is only known at finish()
            self._emit(bytes(self._pending[: self._chunk_size]), is_final=False)
            del self._pending[: self._chunk_size]

    def finish(self) -> None:
        self._emit(bytes(self._pending), is_final=True)
        self._pending.clear()

    def _emit(self, plaintext: bytes, *, is_final: bool) -> None:
        if self._index >= _MAX_FRAMES:
            raise InvalidInput("Blob too large to encrypt: more than 2**32 frames.")
        aad = _aad(self._header, self._index, is_final=is_final)
        self._out.write(self._aead.encrypt(_nonce(self._header[-8:], self._index), plaintext, aad))
        self._index += 1


class DecryptingSource:
    """A :class:`~loopml.artifacts._hashing.ChunkSource` that decrypts and authenticates frames."""

    def __init__(self, fileobj: BinaryIO, key: bytes, header: Header, *, subject: str) -> None:
        if header.key_id != bytes.fromhex(encryption_key_id(key))[:8]:
            fileobj.close()
            raise IntegrityError(
                f"{subject} was encrypted with another key (key id {header.key_id.hex()}, this store's key "
                f"id {encryption_key_id(key)}). Open the store with the key it was written with."
            )
        self._file = fileobj
        self._aead = AESGCM(key)
        self._header = header
        self._subject = subject
        self._frame_size = header.chunk_size + TAG_SIZE
        self._next = self._read_frame()
        self._index = 0
        self._is_done = False

    def _read_frame(self) -> bytes:
        parts: list[bytes] = []
        missing = self._frame_size
        while missing:
            part = self._file.read(missing)
            if not part:
                break
            parts.append(part)
            missing -= len(part)
        return b"".join(parts)

    def read_chunk(self) -> bytes:
        if self._is_done:
            return b""
        frame = self._next
        self._next = self._read_frame() if len(frame) == self._frame_size else b""
        is_final = not self._next
        aad = _aad(self._header.raw, self._index, is_final=is_final)
        try:
            plaintext = self._aead.decrypt(_nonce(self._header.nonce_prefix, self._index), frame, aad)
        except (InvalidTag, ValueError) as err:
            raise IntegrityError(
                f"{self._subject} failed decryption at chunk {self._index}: the ciphertext was tampered "
                "with or truncated. Do not use it; restore it from a backup or store the original again."
            ) from err
        self._index += 1
        self._is_done = is_final
        return plaintext

    def close(self) -> None:
        self._file.close()
