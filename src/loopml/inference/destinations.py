"""Where batch predictions go: a local folder, or any fsspec URL (``s3://`` ...) published with a manifest.

A local output (a path or ``file://`` URL) is built beside its final place and renamed into it
(see :func:`~loopml.inference.batch_run.publish_output`): one rename, so readers see the old
output or the new one, never a part.

An object store has no rename, so a remote output is built in a local staging folder and then
published in three steps:

1. every file is uploaded under a temporary prefix beside the destination
   (``s3://bucket/.scored.tmp-<id>/...``, outside the output prefix);
2. the files are copied into the output prefix (server-side copies on S3: no bytes travel back);
3. :data:`MANIFEST` (``_manifest.json``: every file's path, size and SHA-256) is written **last**.

The manifest is the commit point: a single object write, which S3 makes visible all at once. An
output without it is not an output: readers (loopml's own, Spark's ``_SUCCESS`` convention)
wait for it, and read only the files it lists. A run that fails before step 2 leaves nothing under
the output prefix; one that fails during steps 2-3 removes what it copied before reporting the
error; only a process killed in the few seconds of step 2 can leave files without a manifest, which
the next run refuses to mix with its own (``--overwrite`` clears them). Replacing an output
(``--overwrite``) first deletes the old manifest, so the old output stops being complete before
any of its files change.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from loopml.artifacts import resolve_fs
from loopml.errors import InvalidInput

__all__ = ["MANIFEST", "Destination", "published_files", "resolve_destination"]

MANIFEST = "_manifest.json"
"""The file a remote output is complete with, written last (see the module docstring)."""
MANIFEST_FORMAT = "loopml.predictions/1"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Destination:
    """An output location.

    Attributes:
        local: The local folder the run publishes (the staging folder for a remote URL).
        url: The remote URL, or None for a local output.
    """

    local: Path
    url: str | None = None

    @property
    def location(self) -> str:
        """The output as the user named it (URL or absolute path)."""
        return self.url if self.url is not None else str(self.local)

    def deliver(self, *, overwrite: bool) -> None:
        """Publish a remote output (see the module docstring) and drop the staging folder.

        Raises:
            InvalidInput: the destination appeared meanwhile and ``overwrite`` is off, or writing failed
                (nothing is left under the output prefix then).
        """
        if self.url is None:
            return
        try:
            fs, path = _filesystem(self.url)
            _publish(fs, self.local, path.rstrip("/"), url=self.url, overwrite=overwrite)
        except OSError as err:
            raise InvalidInput(f"Cannot write the output to {self.url!r}: {err}") from err
        finally:
            self.discard()

    def discard(self) -> None:
        """Remove the staging folder of a remote output (nothing for a local one)."""
        if self.url is not None:
            shutil.rmtree(self.local.parent, ignore_errors=True)


def _filesystem(url: str) -> tuple[Any, str]:
    return resolve_fs(url, what="Output URL")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest(local: Path, files: list[str]) -> bytes:
    entries = [
        {"path": rel, "size": (local / rel).stat().st_size, "sha256": _sha256(local / rel)} for rel in files
    ]
    return json.dumps({"format": MANIFEST_FORMAT, "files": entries}, indent=1).encode()


def _existing(fs: Any, path: str, *, url: str, overwrite: bool) -> bool:
    """Whether anything is at ``path``; refuses it without ``overwrite``."""
    fs.invalidate_cache(path)
    if not fs.exists(path):
        return False
    if not overwrite:
        if fs.isdir(path) and not fs.exists(f"{path}/{MANIFEST}"):
            raise InvalidInput(
                f"Output {url!r} already holds files but no {MANIFEST} (other data, or an output whose "
                "run was killed while publishing); pass --overwrite to replace it."
            )
        raise InvalidInput(f"Output {url!r} already exists; pass --overwrite to replace it.")
    return True


def _split(path: str, *, url: str) -> tuple[str, str]:
    """(parent, name) of a remote output path: the temporary prefix goes into the parent.

    Raises:
        InvalidInput: the URL names a bucket (or the root) itself.
    """
    parent, name = posixpath.split(path)
    if not parent or not name:
        raise InvalidInput(
            f"Output {url!r} names a bucket or root; give a prefix under it (s3://bucket/scored)."
        )
    return parent, name


def _publish(fs: Any, local: Path, path: str, *, url: str, overwrite: bool) -> None:
    parent, name = _split(path, url=url)
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    manifest = _manifest(local, files)
    staging = f"{parent}/.{name}.tmp-{uuid.uuid4().hex[:12]}"
    touched = False  # whether anything under the output prefix may have changed
    try:
        fs.put([str(local / rel) for rel in files], [f"{staging}/{rel}" for rel in files])
        existing = _existing(fs, path, url=url, overwrite=overwrite)
        touched = True
        if existing:
            if fs.isdir(path):
                with contextlib.suppress(FileNotFoundError):
                    fs.rm_file(f"{path}/{MANIFEST}")  # the old output stops being complete first
            fs.rm(path, recursive=True)
        fs.copy([f"{staging}/{rel}" for rel in files], [f"{path}/{rel}" for rel in files])
        fs.pipe_file(f"{path}/{MANIFEST}", manifest)
    except BaseException:
        if touched:
            with contextlib.suppress(OSError):
                fs.invalidate_cache(path)
                if fs.exists(path):
                    fs.rm(path, recursive=True)
        raise
    finally:
        with contextlib.suppress(OSError):
            fs.invalidate_cache(staging)
            if fs.exists(staging):
                fs.rm(staging, recursive=True)


def published_files(fs: Any, path: str) -> list[str] | None:
    """The files a remote output's manifest lists (relative paths), or None without a manifest.

    Raises:
        InvalidInput: the manifest is not one loopml wrote.
    """
    try:
        raw = fs.cat_file(f"{path.rstrip('/')}/{MANIFEST}")
    except FileNotFoundError:
        return None
    try:
        document = json.loads(raw)
        return [str(entry["path"]) for entry in document["files"]]
    except (ValueError, KeyError, TypeError) as err:
        raise InvalidInput(
            f"{path}/{MANIFEST} is not a loopml output manifest ({err}); remove it or read the folder "
            "with another tool."
        ) from err


def resolve_destination(out: str | os.PathLike[str], *, overwrite: bool) -> Destination:
    """The destination of ``out``: a path, a ``file://`` URL or another fsspec URL.

    Raises:
        InvalidInput: the output exists and ``overwrite`` is off, or the URL's filesystem is unknown.
        MissingDependency: the URL's filesystem package is not installed (``loopml[s3]``).
    """
    text = os.fspath(out)
    if "://" in text:
        fs, path = _filesystem(text)
        if "file" in fs.protocol or "local" in fs.protocol:
            text = path
        else:
            _split(path.rstrip("/"), url=text)
            try:
                _existing(fs, path.rstrip("/"), url=text, overwrite=overwrite)
            except OSError as err:
                raise InvalidInput(f"Cannot reach the output {text!r}: {err}") from err
            staging = Path(tempfile.mkdtemp(prefix="loopml-predict-out-")) / "out"
            return Destination(local=staging, url=text)
    local = Path(text).expanduser().absolute()
    if local.exists() and not overwrite:
        raise InvalidInput(f"Output {str(local)!r} already exists; pass --overwrite to replace it.")
    return Destination(local=local)
