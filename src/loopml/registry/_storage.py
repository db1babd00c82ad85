"""Store a package folder in the blob store as one blob per file plus an index blob, and rebuild it.

The index (``loopml-package-index/1``, canonical JSON) maps every relative path of the package
folder (``checksums.json`` and ``model.sig`` included) to the SHA-256 and size of its content;
its own SHA-256 identifies the stored package. Blobs are addressed by the hash of their plaintext,
so they verify the same whether or not the blob store encrypts them at rest.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from loopml.artifacts import BlobRef, BlobStore
from loopml.errors import IntegrityError
from loopml.registry.package._manifest import FileDigest, check_relative_path, list_package_files

__all__ = ["INDEX_FORMAT", "StoredPackage", "fetch_package", "store_package"]

INDEX_FORMAT = "loopml-package-index/1"
_META_FILES = ("checksums.json", "model.sig")


class StoredPackage:
    """The index blob of a stored package and its file digests."""

    def __init__(self, ref: BlobRef, files: dict[str, FileDigest]) -> None:
        self.ref = ref
        self.files = files


def store_package(blobs: BlobStore, root: Path, *, label: str) -> StoredPackage:
    """Upload every file of ``root`` and an index blob; ``label`` prefixes names in error messages."""
    files: dict[str, FileDigest] = {}
    for rel in list_package_files(root):
        ref = blobs.put_file(root / rel, label=f"{label}: {rel}")
        files[rel] = FileDigest(sha256=ref.sha256, size=ref.size)
    doc = {
        "files": {p: {"sha256": d.sha256, "size": d.size} for p, d in sorted(files.items())},
        "format": INDEX_FORMAT,
    }
    index = json.dumps(doc, indent=2, sort_keys=True).encode("utf-8") + b"\n"
    return StoredPackage(blobs.put_bytes(index, label=f"{label}: package index"), files)


def _read_index(blobs: BlobStore, sha256: str, *, label: str) -> dict[str, FileDigest]:
    raw = blobs.read_bytes(sha256, label=f"{label}: package index")
    try:
        doc = json.loads(raw)
        if doc.get("format") != INDEX_FORMAT:
            raise ValueError(f"format {doc.get('format')!r}")
        return {
            check_relative_path(p) if p not in _META_FILES else p: FileDigest(
                sha256=str(e["sha256"]), size=int(e["size"])
            )
            for p, e in doc["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise IntegrityError(
            f"The package index of {label} (blob {sha256}) is not a {INDEX_FORMAT} document: {err}."
        ) from err


def fetch_package(blobs: BlobStore, sha256: str, dest: Path, *, label: str) -> Path:
    """Rebuild the package folder at ``dest`` (which must not exist); every blob is verified.

    The folder is written next to ``dest`` and renamed into place only when complete.

    Raises:
        IntegrityError: a blob does not match its hash (the file is named).
        NotFound: a blob is missing.
    """
    files = _read_index(blobs, sha256, label=label)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"))
    try:
        for rel, digest in sorted(files.items()):
            blobs.get_file(digest.sha256, tmp / rel, label=f"{label}: {rel}", size=digest.size)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
