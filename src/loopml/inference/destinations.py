"""Where batch predictions go: a local folder, or any fsspec URL through a local staging folder.

A local output (a path or ``file://`` URL) is built beside its final place and renamed into it
(see :func:`~loopml.inference.batch_run.publish_output`). Any other URL (``s3://``,
``gs://``, ``memory://`` ...) is built in a local staging folder, uploaded complete under a
temporary name beside the destination, and only then moved to the destination name; a run that
fails before that leaves nothing at the destination.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["Destination", "resolve_destination"]


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
        """Upload a remote output (temporary name, then moved into place) and drop the staging folder.

        Raises:
            InvalidInput: the destination appeared meanwhile and ``overwrite`` is off, or the upload failed.
        """
        if self.url is None:
            return
        fs, path = _filesystem(self.url)
        path = path.rstrip("/")
        staging = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
        try:
            fs.put(str(self.local), staging, recursive=True)
            if fs.exists(path):
                if not overwrite:
                    raise InvalidInput(f"Output {self.url!r} already exists; pass --overwrite to replace it.")
                fs.rm(path, recursive=True)
            fs.mv(staging, path, recursive=True)
        except OSError as err:
            raise InvalidInput(f"Cannot write the output to {self.url!r}: {err}") from err
        finally:
            if fs.exists(staging):
                fs.rm(staging, recursive=True)
            self.discard()

    def discard(self) -> None:
        """Remove the staging folder of a remote output (nothing for a local one)."""
        if self.url is not None:
            shutil.rmtree(self.local.parent, ignore_errors=True)


def _filesystem(url: str) -> tuple[Any, str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as err:
        raise InvalidInput(f"Cannot open the output URL {url!r}: {err}") from err
    return fs, str(path)


def resolve_destination(out: str | os.PathLike[str], *, overwrite: bool) -> Destination:
    """The destination of ``out``: a path, a ``file://`` URL or another fsspec URL.

    Raises:
        InvalidInput: the output exists and ``overwrite`` is off, or the URL's filesystem is unknown.
    """
    text = os.fspath(out)
    if "://" in text:
        fs, path = _filesystem(text)
        if "file" in fs.protocol or "local" in fs.protocol:
            text = path
        else:
            if fs.exists(path) and not overwrite:
                raise InvalidInput(f"Output {text!r} already exists; pass --overwrite to replace it.")
            staging = Path(tempfile.mkdtemp(prefix="loopml-predict-out-")) / "out"
            return Destination(local=staging, url=text)
    local = Path(text).expanduser().absolute()
    if local.exists() and not overwrite:
        raise InvalidInput(f"Output {str(local)!r} already exists; pass --overwrite to replace it.")
    return Destination(local=local)
