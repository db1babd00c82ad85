"""Multipart uploads in flight: parts staged on the server's disk until the upload completes or is aborted.

An upload is a folder ``<root>/<upload_id>/`` holding ``upload.json`` (the run, the artifact name,
the number of parts) and one file per received part, written atomically (temp + rename) with its
SHA-256 beside it. Completing reads the parts back in order through :class:`StagedParts`, which
checks each against the hash recorded when it arrived and the one the client names; whatever
stores the result (scan, blob store, artifact record) sees one stream. Aborting, completing or
being left for :data:`STALE_AFTER_S` removes the folder: nothing of an upload outlives it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from loopml.artifacts import CHUNK_SIZE
from loopml.errors import IntegrityError, InvalidInput, NotFound

__all__ = ["STALE_AFTER_S", "PartStaging", "StagedParts", "Upload"]

#: An upload neither completed nor aborted for this long is removed (at the next upload's start).
STALE_AFTER_S = 24 * 3600
#: Most parts in one upload (S3's limit too).
MAX_PARTS = 10_000
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_META = "upload.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class Upload:
    """One multipart upload in flight.

    Attributes:
        upload_id: Its id (32 hex digits, unguessable).
        run_id: The run the artifact is for.
        name: The artifact path it completes into.
        num_parts: How many parts the client announced.
    """

    upload_id: str
    run_id: str
    name: str
    num_parts: int


class StagedParts(io.RawIOBase):
    """The parts of an upload read back as one stream, each checked against its recorded hash."""

    def __init__(self, files: Sequence[tuple[Path, str]]) -> None:
        super().__init__()
        self._files = list(files)
        self._current: BinaryIO | None = None
        self._digest = hashlib.sha256()
        self._expected = ""

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        if self._current is not None:
            self._current.close()
            if self._digest.hexdigest() != self._expected:
                raise IntegrityError(
                    f"A staged part of the upload changed on the server's disk ({self._expected[:12]}… "
                    "expected); abort the upload and send it again."
                )
        if not self._files:
            self._current = None
            return False
        path, self._expected = self._files.pop(0)
        self._current, self._digest = path.open("rb"), hashlib.sha256()
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        while self._current is not None or self._next():
            current = self._current
            count = current.readinto(buffer) if current is not None else 0  # type: ignore[attr-defined]
            if count:
                self._digest.update(memoryview(buffer)[:count])
                return int(count)
            if not self._next():
                break
        return 0

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
        super().close()


class PartStaging:
    """The folder where multipart uploads wait for their parts (one per server home)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, upload_id: str) -> Path:
        if not _UPLOAD_ID.fullmatch(upload_id):
            raise NotFound(f"No multipart upload {upload_id!r:.60}; start one with mpu/create.")
        return self.root / upload_id

    def begin(self, *, run_id: str, name: str, num_parts: int) -> Upload:
        """Start an upload of ``num_parts`` parts into artifact ``name`` of ``run_id``."""
        if not 1 <= num_parts <= MAX_PARTS:
            raise InvalidInput(f"num_parts must be in 1..{MAX_PARTS}; got {num_parts}.")
        self.sweep()
        upload = Upload(upload_id=secrets.token_hex(16), run_id=run_id, name=name, num_parts=num_parts)
        folder = self._folder(upload.upload_id)
        folder.mkdir(parents=True)
        meta = {"run_id": run_id, "name": name, "num_parts": num_parts}
        (folder / _META).write_text(json.dumps(meta))
        return upload

    def get(self, upload_id: str, *, run_id: str) -> Upload:
        """The upload ``upload_id`` of ``run_id``.

        Raises:
            NotFound: no such upload in flight for that run (completed, aborted, or never begun).
        """
        try:
            meta = json.loads((self._folder(upload_id) / _META).read_text())
        except FileNotFoundError:
            meta = None
        if meta is None or meta["run_id"] != run_id:
            raise NotFound(
                f"No multipart upload {upload_id!r} for run {run_id}: it was completed, aborted or "
                "never started; start one with mpu/create."
            )
        return Upload(upload_id=upload_id, run_id=run_id, name=meta["name"], num_parts=meta["num_parts"])

    def put(self, upload: Upload, number: int, body: BinaryIO, *, limit: int) -> str:
        """Stage part ``number`` (1-based) from ``body``; its SHA-256 (the part's ETag).

        Raises:
            InvalidInput: the part number is outside the upload, or the parts so far exceed ``limit`` bytes.
        """
        if not 1 <= number <= upload.num_parts:
            raise InvalidInput(f"Part number must be in 1..{upload.num_parts}; got {number}.")
        folder = self._folder(upload.upload_id)
        staged = sum(p.stat().st_size for p in folder.glob("part-*[0-9]") if p.name != f"part-{number:05d}")
        digest, temp = hashlib.sha256(), folder / f"part-{number:05d}.{secrets.token_hex(4)}.tmp"
        received = 0
        try:
            with temp.open("xb") as out:
                while chunk := body.read(CHUNK_SIZE):
                    received += len(chunk)
                    if staged + received > limit:
                        raise InvalidInput(
                            f"The upload's parts exceed the server's artifact limit of {limit} bytes."
                        )
                    digest.update(chunk)
                    out.write(chunk)
            (folder / f"part-{number:05d}.sha256").write_text(digest.hexdigest())
            temp.replace(folder / f"part-{number:05d}")
        finally:
            temp.unlink(missing_ok=True)
        return digest.hexdigest()

    def parts(self, upload: Upload, listed: Sequence[tuple[int, str]]) -> StagedParts:
        """The parts ``(number, etag)`` the client lists, in its order, as one checked stream.

        Raises:
            InvalidInput: a part is missing, listed twice, or its ETag is not the one it was stored with.
        """
        folder, files, seen = self._folder(upload.upload_id), [], set()
        if not listed:
            raise InvalidInput("Completing an upload needs its parts: list each part_number with its etag.")
        for number, etag in listed:
            part = folder / f"part-{number:05d}"
            if number in seen or not part.is_file():
                raise InvalidInput(f"Part {number} of upload {upload.upload_id} is missing or listed twice.")
            seen.add(number)
            recorded = (folder / f"part-{number:05d}.sha256").read_text()
            if etag.strip('"') not in ("", recorded):
                raise InvalidInput(
                    f"Part {number} was stored with ETag {recorded!r}, not {etag!r}; send the ETag "
                    "its upload answered."
                )
            files.append((part, recorded))
        return StagedParts(files)

    def discard(self, upload: Upload) -> None:
        """Remove the upload and every part of it."""
        shutil.rmtree(self._folder(upload.upload_id), ignore_errors=True)

    def sweep(self, *, now: float | None = None) -> None:
        """Remove the uploads untouched for :data:`STALE_AFTER_S`."""
        cutoff = (time.time() if now is None else now) - STALE_AFTER_S
        for folder in self.root.glob("*") if self.root.is_dir() else ():
            if _UPLOAD_ID.fullmatch(folder.name) and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
