"""Where blobs physically live: a fast local-path backend and a generic fsspec backend."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs
from fsspec.implementations.local import LocalFileSystem

from loopml.errors import InvalidInput, MissingDependency

__all__ = ["TEMP_DIR", "Backend", "FsspecBackend", "LocalBackend", "open_backend", "resolve_fs"]

TEMP_DIR = "tmp"
_S3_PROTOCOLS = {"s3", "s3a"}


def resolve_fs(url: str, *, what: str) -> tuple[AbstractFileSystem, str]:
    """Split ``url`` into an fsspec filesystem and a path, with loopml errors.

    Args:
        url: A local path or fsspec URL.
        what: What the URL is for, in words (``"Artifact root"``), for messages.

    Raises:
        InvalidInput: empty URL or an unknown protocol.
        MissingDependency: a known protocol whose fsspec implementation is not installed.
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            f"{what} must be a local path or fsspec URL (file://, s3://, memory:// ...). Got {url!r}."
        )
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    try:
        fs, path = url_to_fs(url)
    except ImportError as err:
        command = "pip install 'loopml[s3]'" if protocol in _S3_PROTOCOLS else f"install it ({err})"
        raise MissingDependency(
            f"{what} {url!r} uses protocol '{protocol}', whose filesystem package is not installed: {command}"
        ) from err
    except ValueError as err:
        raise InvalidInput(
            f"{what} {url!r} has an unknown protocol '{protocol}' ({err}). "
            "Use a local path or an fsspec URL such as file://, s3:// or memory://."
        ) from err
    return cast(AbstractFileSystem, fs), cast(str, path)


class Backend(Protocol):
    """Low-level file operations under a store root; paths are ``/``-separated and root-relative."""

    url: str

    def exists(self, rel: str) -> bool: ...
    def open_read(self, rel: str) -> BinaryIO: ...
    def open_temp(self) -> tuple[str, BinaryIO]: ...
    def close_durably(self, fileobj: BinaryIO) -> None: ...
    def commit(self, temp_rel: str, rel: str) -> bool: ...
    def remove(self, rel: str) -> None: ...
    def list_temp(self) -> list[tuple[str, float]]: ...
    def list_blobs(self) -> list[str]: ...


def _temp_name() -> str:
    return f"{TEMP_DIR}/{uuid.uuid4().hex}.part"


class LocalBackend:
    """Plain ``os``/``pathlib`` operations; ``fsync`` then ``os.replace`` makes writes atomic and durable."""

    def __init__(self, root: Path, *, url: str) -> None:
        self.root = root
        self.url = url

    def _path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def open_read(self, rel: str) -> BinaryIO:
        return self._path(rel).open("rb")

    def open_temp(self) -> tuple[str, BinaryIO]:
        rel = _temp_name()
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        return rel, path.open("xb")

    def close_durably(self, fileobj: BinaryIO) -> None:
        fileobj.flush()
        os.fsync(fileobj.fileno())
        fileobj.close()

    def commit(self, temp_rel: str, rel: str) -> bool:
        temp, target = self._path(temp_rel), self._path(rel)
        if target.is_file():
            temp.unlink(missing_ok=True)
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        self._fsync_dir(target.parent)
        return True

    @staticmethod
    def _fsync_dir(path: Path) -> None:
        with contextlib.suppress(OSError):  # not supported everywhere (e.g. some network filesystems)
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def remove(self, rel: str) -> None:
        self._path(rel).unlink(missing_ok=True)

    def list_temp(self) -> list[tuple[str, float]]:
        folder = self._path(TEMP_DIR)
        if not folder.is_dir():
            return []
        found = []
        for entry in os.scandir(folder):
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file():
                    found.append((f"{TEMP_DIR}/{entry.name}", entry.stat().st_mtime))
        return found

    def list_blobs(self) -> list[str]:
        folder = self._path("sha256")
        if not folder.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())


class FsspecBackend:
    """Any fsspec filesystem (``memory://``, ``s3://`` ...); ``fs.mv`` into place once the hash is known."""

    def __init__(self, fs: AbstractFileSystem, root: str, *, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.url = url

    def _path(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def exists(self, rel: str) -> bool:
        return bool(self.fs.isfile(self._path(rel)))

    def open_read(self, rel: str) -> BinaryIO:
        return cast(BinaryIO, self.fs.open(self._path(rel), "rb"))

    def open_temp(self) -> tuple[str, BinaryIO]:
        rel = _temp_name()
        self.fs.makedirs(self._path(TEMP_DIR), exist_ok=True)
        return rel, cast(BinaryIO, self.fs.open(self._path(rel), "wb"))

    def close_durably(self, fileobj: BinaryIO) -> None:
        fileobj.close()  # remote writers upload on close; durability is the filesystem's

    def commit(self, temp_rel: str, rel: str) -> bool:
        if self.fs.isfile(self._path(rel)):
            self.fs.rm(self._path(temp_rel))
            return False
        self.fs.makedirs(self._path(rel).rsplit("/", 1)[0], exist_ok=True)
        self.fs.mv(self._path(temp_rel), self._path(rel))
        return True

    def remove(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(rel))

    def list_temp(self) -> list[tuple[str, float]]:
        folder = self._path(TEMP_DIR)
        if not self.fs.isdir(folder):
            return []
        found = []
        for info in self.fs.ls(folder, detail=True):
            if info.get("type") == "file":
                name = str(info["name"]).rstrip("/").rsplit("/", 1)[-1]
                found.append((f"{TEMP_DIR}/{name}", _modified(info)))
        return found

    def list_blobs(self) -> list[str]:
        folder = self._path("sha256")
        if not self.fs.isdir(folder):
            return []
        prefix = self.root.lstrip("/") + "/"
        return sorted(str(p).lstrip("/").removeprefix(prefix) for p in self.fs.find(folder))


def _modified(info: dict[str, Any]) -> float:
    """Best-effort modification time (epoch seconds) from an fsspec info dict; now when unknown."""
    for key in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(key)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, int | float):
            return float(value)
    return time.time()


def open_backend(root_url: str | os.PathLike[str]) -> Backend:
    """The backend for a store root: :class:`LocalBackend` for local paths, else :class:`FsspecBackend`."""
    url = os.fspath(root_url) if isinstance(root_url, os.PathLike) else root_url
    fs, path = resolve_fs(url, what="Artifact root")
    if isinstance(fs, LocalFileSystem):
        return LocalBackend(Path(path), url=url)
    return FsspecBackend(fs, path, url=url)
