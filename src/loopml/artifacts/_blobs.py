"""The content-addressed, immutable blob store: :class:`BlobStore`."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts._encryption import (
    HEADER_SIZE,
    MAGIC,
    TAG_SIZE,
    DecryptingSource,
    EncryptingWriter,
    check_key,
    encryption_key_id,
    parse_header,
)
from loopml.artifacts._filesystems import Backend, open_backend
from loopml.artifacts._hashing import CHUNK_SIZE, ChunkSource, PlainSource, VerifyingReader, describe_blob
from loopml.artifacts._references import check_reference, register_reference
from loopml.artifacts._refs import BlobRef, blob_uri, validate_sha256
from loopml.errors import IntegrityError, InvalidInput, NotFound

__all__ = ["BlobStore"]

_DEFAULT_TEMP_AGE_S = 24 * 3600.0


#: Bytes written to a temp file between two hints to start writing it to disk.
WRITEBACK_STEP = 8 * CHUNK_SIZE


class _Writeback:
    """Starts writing a temp file's pages to disk every :data:`WRITEBACK_STEP` bytes.

    On Linux ``posix_fadvise(DONTNEED)`` queues dirty pages for writeback (and drops clean ones
    from the cache), so disk writes overlap receiving and the ``fsync`` that makes the blob
    durable has little left to do. A no-op for files without a descriptor or without fadvise.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._fd = _descriptor(out)
        self._since = self._done = 0

    def wrote(self, n: int) -> None:
        self._since += n
        if self._fd is None or self._since < WRITEBACK_STEP:
            return
        self._since = 0
        try:
            self._out.flush()
            end = self._out.tell()
            os.posix_fadvise(self._fd, self._done, end - self._done, os.POSIX_FADV_DONTNEED)
            self._done = end
        except (OSError, ValueError):  # not supported here: the final fsync does it all
            self._fd = None


def _descriptor(out: BinaryIO) -> int | None:
    if not hasattr(os, "posix_fadvise"):
        return None
    try:
        return out.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is an OSError
        return None


class _PlainSink:
    def __init__(self, out: BinaryIO) -> None:
        self.write = out.write

    def finish(self) -> None:
        pass


class BlobStore:
    """Immutable blobs addressed by the SHA-256 of their content, under any fsspec root.

    Blobs live at ``<root>/sha256/<2 hex>/<62 hex>``. Writes stream in 1 MiB chunks into
    ``<root>/tmp/`` and are moved into place only once the hash is known, so a killed writer
    never leaves anything at a content address. Reads verify the hash (and the size, when
    given) and raise :class:`~loopml.errors.IntegrityError` on a mismatch.

    With ``encryption_key`` (32 bytes) new blobs are stored AES-256-GCM encrypted; their
    address is still the SHA-256 of the plaintext. Blobs stored without encryption stay readable.

    Args:
        root_url: A local path or fsspec URL (``file://``, ``memory://``, ``s3://`` with ``loopml[s3]``).
        encryption_key: Optional 32-byte key; see :func:`load_encryption_key`.

    Raises:
        InvalidInput: a malformed root or key.
        MissingDependency: the root's filesystem package is not installed.

    Example:
        >>> store = BlobStore("memory://doctest-blobs")
        >>> ref = store.put_bytes(b"hello")
        >>> ref.uri
        'sha256/2c/f24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
        >>> store.read_bytes(ref.sha256)
        b'hello'
    """

    def __init__(self, root_url: str | os.PathLike[str], *, encryption_key: bytes | None = None) -> None:
        self._backend: Backend = open_backend(root_url)
        self._key = None if encryption_key is None else check_key(encryption_key)

    @property
    def root_url(self) -> str:
        """The root this store was opened on."""
        return self._backend.url

    @property
    def is_encrypted(self) -> bool:
        """Whether new blobs are stored encrypted."""
        return self._key is not None

    def __repr__(self) -> str:
        return f"BlobStore({self.root_url!r}, encrypted={self.is_encrypted})"

    # -- writing -------------------------------------------------------------------------------

    def put_file(self, path: str | os.PathLike[str], *, label: str | None = None) -> BlobRef:
        """Store a local file, streaming it; returns the existing blob when the content is known.

        Raises:
            NotFound: no file at ``path``.
            InvalidInput: ``path`` is a directory or unreadable.
        """
        source = Path(path)
        try:
            f = source.open("rb")
        except FileNotFoundError as err:
            raise NotFound(f"No file at {str(source)!r} to store; check the path.") from err
        except (IsADirectoryError, PermissionError) as err:
            raise InvalidInput(f"Cannot read {str(source)!r} as a file: {err.strerror}.") from err
        with f:
            return self.put_stream(f, label=label or source.name)

    def put_bytes(self, data: bytes, *, label: str | None = None) -> BlobRef:
        """Store ``data``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"put_bytes needs bytes. Got {type(data).__name__}; encode text first.")
        return self.put_stream(io.BytesIO(data), label=label)

    def put_stream(self, fileobj: BinaryIO, *, label: str | None = None) -> BlobRef:
        """Store everything readable from a binary file object, in 1 MiB chunks."""
        if not callable(getattr(fileobj, "read", None)):
            raise InvalidInput(
                f"put_stream needs a binary file object with read(). Got {type(fileobj).__name__}."
            )
        return self._write(self._chunks(fileobj, label=label))

    @staticmethod
    def _chunks(fileobj: BinaryIO, *, label: str | None) -> Iterator[bytes]:
        while chunk := fileobj.read(CHUNK_SIZE):
            if not isinstance(chunk, bytes | bytearray | memoryview):
                what = f" for {label!r}" if label else ""
                raise InvalidInput(
                    f"put_stream{what} read {type(chunk).__name__}, not bytes; "
                    "open the file in binary mode ('rb')."
                )
            yield bytes(chunk)

    def _write(self, chunks: Iterator[bytes]) -> BlobRef:
        temp_rel, out = self._backend.open_temp()
        try:
            sink = EncryptingWriter(out, self._key) if self._key is not None else _PlainSink(out)
            digest, size, writeback = hashlib.sha256(), 0, _Writeback(out)
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
                writeback.wrote(len(chunk))
            sink.finish()
            self._backend.close_durably(out)
            sha256 = digest.hexdigest()
            self._backend.commit(temp_rel, blob_uri(sha256))
        except BaseException:
            out.close()
            self._backend.remove(temp_rel)
            raise
        return BlobRef(sha256=sha256, size=size, uri=blob_uri(sha256))

    # -- reading -------------------------------------------------------------------------------

    def exists(self, sha256: str) -> bool:
        """Whether a blob is stored at ``sha256`` (without verifying it).

        Raises:
            InvalidInput: ``sha256`` is not 64 lowercase hex characters.
        """
        return self._backend.exists(blob_uri(validate_sha256(sha256)))

    def missing(self, sha256: str, *, label: str | None = None) -> NotFound:
        """The error for a blob that is not in this store (raised by every read of one).

        Raises:
            InvalidInput: ``sha256`` is not 64 lowercase hex characters.

        Example:
            >>> err = BlobStore("memory://doctest-missing").missing("0" * 64)
            >>> type(err).__name__, "is not in the artifact store" in str(err)
            ('NotFound', True)
        """
        subject = describe_blob(validate_sha256(sha256, label=label), label)
        return NotFound(
            f"{subject} is not in the artifact store {self.root_url!r}; check the hash, "
            "or store the content first (put_file / put_bytes)."
        )

    def _source(self, sha256: str, *, label: str | None) -> ChunkSource:
        subject = describe_blob(validate_sha256(sha256, label=label), label)
        try:
            f = self._backend.open_read(blob_uri(sha256))
        except FileNotFoundError as err:
            raise self.missing(sha256, label=label) from err
        head = f.read(HEADER_SIZE)
        if not head.startswith(MAGIC):
            return PlainSource(f, prefix=head)
        header = parse_header(head, subject=subject)
        if self._key is None:
            f.close()
            raise InvalidInput(
                f"{subject} is stored encrypted (key id {header.key_id.hex()}); open the BlobStore with "
                "encryption_key=load_encryption_key(<key file or value>) to read it."
            )
        return DecryptingSource(f, self._key, header, subject=subject)

    def content_size(self, sha256: str, *, label: str | None = None) -> int:
        """The size of a blob's content, from its stored length alone (nothing is hashed or decrypted).

        Lets a caller refuse a wrong expected size before reading (or sending) any byte. The
        figure is what the stored bytes claim; reads still verify hash and size.

        Raises:
            NotFound: no blob at ``sha256``.
            InvalidInput: a malformed hash.
            IntegrityError: an encrypted blob whose length fits no whole number of frames.

        Example:
            >>> store = BlobStore("memory://doctest-size")
            >>> store.content_size(store.put_bytes(b"hello").sha256)
            5
        """
        subject = describe_blob(validate_sha256(sha256, label=label), label)
        try:
            f = self._backend.open_read(blob_uri(sha256))
        except FileNotFoundError as err:
            raise self.missing(sha256, label=label) from err
        with f:
            head = f.read(HEADER_SIZE)
            stored = f.seek(0, io.SEEK_END)
        if not head.startswith(MAGIC):
            return stored
        frame = parse_header(head, subject=subject).chunk_size + TAG_SIZE
        whole, rest = divmod(stored - HEADER_SIZE, frame)
        if rest == 0 and whole > 0:
            return whole * (frame - TAG_SIZE)
        if rest < TAG_SIZE:
            raise IntegrityError(
                f"{subject} is stored encrypted with a length ({stored} bytes) that fits no whole number "
                "of frames; it is truncated or was tampered with. Restore it from a backup."
            )
        return whole * (frame - TAG_SIZE) + rest - TAG_SIZE

    def _reader(self, sha256: str, *, label: str | None, size: int | None) -> VerifyingReader:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            raise InvalidInput(f"size must be an integer >= 0 or None. Got {size!r}.")
        source = self._source(sha256, label=label)
        subject = describe_blob(sha256, label)
        return VerifyingReader(source, sha256=sha256, expected_size=size, subject=subject)

    def open(self, sha256: str, *, label: str | None = None, size: int | None = None) -> BinaryIO:
        """Open a blob for reading; the reader verifies as it goes.

        Reaching the end raises :class:`~loopml.errors.IntegrityError` if the content does not
        hash to ``sha256`` (or has another ``size``, when given). ``close()`` also verifies when
        at least ``size`` bytes were read; closing part-way through does not verify the unread rest.

        Args:
            sha256: The blob's address.
            label: A name for error messages (e.g. the artifact's path).
            size: The expected size, when known.

        Raises:
            NotFound: no blob at ``sha256``.
            InvalidInput: a malformed hash, or an encrypted blob and no key.
            IntegrityError: wrong content, or a wrong key / tampered ciphertext.
        """
        return io.BufferedReader(self._reader(sha256, label=label, size=size), buffer_size=CHUNK_SIZE)

    def open_chunks(self, sha256: str, *, label: str | None = None, size: int | None = None) -> ChunkSource:
        """Open a blob for reading chunk by chunk (``read_chunk()``, then ``close()``), without copies.

        Each chunk (about :data:`CHUNK_SIZE` bytes) is hashed before it is returned; the end (``b""``)
        comes only once the content verified, as with :meth:`open` (same errors).

        Example:
            >>> store = BlobStore("memory://doctest-chunks")
            >>> source = store.open_chunks(store.put_bytes(b"hello").sha256)
            >>> source.read_chunk(), source.read_chunk()
            (b'hello', b'')
            >>> source.close()
        """
        return self._reader(sha256, label=label, size=size)

    def read_bytes(self, sha256: str, *, label: str | None = None, size: int | None = None) -> bytes:
        """The whole blob, verified (see :meth:`open` for errors)."""
        reader = self._reader(sha256, label=label, size=size)
        with reader:
            return reader.readall()

    def get_file(
        self, sha256: str, dest: str | os.PathLike[str], *, label: str | None = None, size: int | None = None
    ) -> Path:
        """Copy a blob to the local path ``dest``; ``dest`` appears only once the copy is verified.

        Returns:
            ``dest`` as a :class:`~pathlib.Path`.
        """
        target = Path(dest)
        if target.is_dir():
            raise InvalidInput(
                f"get_file dest {str(target)!r} is a directory; pass the path of the file to write."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
        try:
            with self._reader(sha256, label=label, size=size) as reader, temp.open("xb") as out:
                while chunk := reader.read(CHUNK_SIZE):
                    out.write(chunk)
                reader.drain()
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return target

    def verify(self, sha256: str, *, label: str | None = None, size: int | None = None) -> BlobRef:
        """Re-hash the stored blob.

        Returns:
            The blob's reference, with its size.

        Raises:
            NotFound: no blob at ``sha256``.
            IntegrityError: the content does not match (message names expected and actual hash).
        """
        with self._reader(sha256, label=label, size=size) as reader:
            actual_size = reader.drain()
        return BlobRef(sha256=sha256, size=actual_size, uri=blob_uri(sha256))

    # -- references and housekeeping -----------------------------------------------------------

    def reference(self, url: str, *, label: str | None = None) -> BlobRef:
        """Register data that lives elsewhere: hash it once, record size and ETag/mtime; copy nothing."""
        return register_reference(url, label=label)

    def verify_reference(self, ref: BlobRef, *, label: str | None = None) -> None:
        """Check a reference still matches (size first, then hash); stored blobs are verified in place.

        Raises:
            NotFound: the data is gone.
            IntegrityError: it changed since registration.
        """
        if not ref.is_reference:
            self.verify(ref.sha256, label=label, size=ref.size)
            return
        check_reference(ref, label=label)

    def gc_temp(self, older_than_s: float = _DEFAULT_TEMP_AGE_S) -> int:
        """Delete temp files left by killed writers; returns how many were removed.

        Args:
            older_than_s: Only files at least this old (seconds) go, so running writes survive.
        """
        if isinstance(older_than_s, bool) or not isinstance(older_than_s, int | float) or older_than_s < 0:
            raise InvalidInput(f"older_than_s must be a number >= 0. Got {older_than_s!r}.")
        now, removed = time.time(), 0
        for rel, mtime in self._backend.list_temp():
            if now - mtime >= older_than_s:
                with contextlib.suppress(FileNotFoundError):
                    self._backend.remove(rel)
                    removed += 1
        return removed

    @property
    def encryption_key_id(self) -> str | None:
        """Public fingerprint of the encryption key (16 hex chars), or None without encryption."""
        return None if self._key is None else encryption_key_id(self._key)
