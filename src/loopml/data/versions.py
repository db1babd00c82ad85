"""Dataset versions: immutable, content-hashed registrations of files, and their lineage.

A version is a ``Dataset`` artifact (versioned per name) whose content is a JSON manifest stored in
the blob store: every file's relative path, SHA-256, size and URI (copied into the store, or
referenced in place with ``by_reference=True``), plus row count, Arrow schema and source.
Registering records an execution (``DatasetAdd``) with the version as OUTPUT; statistics, schemas
and anomalies computed for a version are recorded with :meth:`DatasetVersions.record`.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds

from loopml.artifacts import CHUNK_SIZE, Blobs, StoredBlob, register_reference, resolve_fs
from loopml.data.sources import _format_of, _resolve_paths
from loopml.errors import IntegrityError, InvalidInput, NotFound
from loopml.store.entities import Artifact, EventType, ExecutionState, every_item
from loopml.store.missing import missing_dataset
from loopml.store.repositories import Store

__all__ = [
    "DATASET_TYPE",
    "DatasetDiff",
    "DatasetFile",
    "DatasetVersion",
    "DatasetVersions",
    "is_registered",
    "parse_ref",
]

DATASET_TYPE = "Dataset"


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetFile:
    """One file of a dataset version."""

    path: str
    sha256: str
    size: int
    uri: str
    is_reference: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetVersion:
    """A registered, immutable dataset version."""

    name: str
    version: int
    artifact_id: str
    files: tuple[DatasetFile, ...]
    num_rows: int
    arrow_schema: str
    file_format: str
    source: str
    created_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetDiff:
    """What changed between two versions."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    rows_before: int
    rows_after: int
    schema_changed: bool


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` → (name, version or None).

    Raises:
        InvalidInput: the version is not a positive integer.
    """
    name, _, version = ref.partition("@")
    if not version:
        return name, None
    if not version.isdigit() or int(version) < 1:
        raise InvalidInput(f"Dataset version must be a positive integer, as in {name}@3. Got {version!r}.")
    return name, int(version)


class DatasetVersions:
    """Registers and reads dataset versions in a metadata store and a blob store."""

    def __init__(self, store: Store, blobs: Blobs) -> None:
        self._store, self._blobs = store, blobs

    def add(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        by_reference: bool = False,
        execution_type: str = "DatasetAdd",
        inputs: Sequence[tuple[str, str]] = (),
        properties: Mapping[str, Any] | None = None,
    ) -> DatasetVersion:
        """Register the file or folder at ``path`` as the next version of ``name``.

        Args:
            name: The dataset's name.
            path: A data file, or a folder of them (files whose names start with ``.`` or ``_``
                are left out), local or at an fsspec URL (``s3://bucket/prefix``: hashed there).
            by_reference: Hash the files where they are instead of copying them into the store.
            execution_type: The type of the execution recorded as the version's producer.
            inputs: ``(artifact_id, role)`` of artifacts that produced the data, linked as that
                execution's INPUT (a model version that answered the requests of a prediction log).
            properties: Extra properties of the version (the built-in ones cannot be replaced).

        Raises:
            InvalidInput: bad name, or missing / empty / unknown-format files.

        .. versionchanged:: ``execution_type``, ``inputs`` and ``properties``.
        .. versionchanged:: ``path`` may be an fsspec URL.
        """
        if not name or "@" in name or "/" in name:
            raise InvalidInput(f"Dataset name must be non-empty without '@' or '/'. Got {name!r}.")
        text = os.fspath(path)
        if "://" in text and not text.startswith("file://"):
            entries, dataset, fmt, source = self._remote_files(text, by_reference=by_reference)
        else:
            local = Path(text.removeprefix("file://"))
            entries, dataset, fmt, source = self._local_files(local, by_reference=by_reference)
        num_rows = dataset.count_rows()
        manifest = {
            "files": [vars_of(e) for e in entries],
            "num_rows": num_rows,
            "arrow_schema": str(dataset.schema),
            "file_format": fmt,
            "source": source,
        }
        blob = self._blobs.put_bytes(json.dumps(manifest, sort_keys=True).encode(), label=f"dataset {name}")
        execution = self._store.lineage.create_execution(type=execution_type, name=f"add {name}")
        artifact = self._store.artifacts.create(
            type=DATASET_TYPE,
            name=name,
            uri=blob.uri,
            sha256=blob.sha256,
            size=blob.size,
            versioned=True,
            properties={
                **(properties or {}),
                "num_rows": num_rows,
                "files": len(entries),
                "bytes": sum(e.size for e in entries),
                "file_format": fmt,
                "source": manifest["source"],
                "by_reference": by_reference,
                "execution_id": execution.execution_id,
            },
        )
        self._store.lineage.add_events(
            execution.execution_id,
            [
                *((artifact_id, EventType.INPUT, role) for artifact_id, role in inputs),
                (artifact.artifact_id, EventType.OUTPUT, "dataset"),
            ],
        )
        self._store.lineage.finish_execution(execution.execution_id, ExecutionState.COMPLETE)
        return self._version(artifact)

    def _local_files(
        self, root: Path, *, by_reference: bool
    ) -> tuple[list[DatasetFile], ds.Dataset, str, str]:
        files, fmt = _resolve_paths([root], None)
        dataset = ds.dataset(str(root), format=fmt, partitioning="hive" if root.is_dir() else None)
        entries = []
        for f in files:
            rel = os.path.relpath(f, root) if root.is_dir() else Path(f).name
            ref = register_reference(str(Path(f).absolute())) if by_reference else self._blobs.put_file(f)
            entries.append(_entry(rel, ref))
        return entries, dataset, fmt, str(root.absolute())

    def _remote_files(
        self, url: str, *, by_reference: bool
    ) -> tuple[list[DatasetFile], ds.Dataset, str, str]:
        """The data files at an fsspec URL (a file or a folder; ``.``/``_`` names left out), hashed there."""
        fs, path = resolve_fs(url, what="Dataset URL")
        path = path.rstrip("/")
        if not fs.exists(path):
            raise InvalidInput(f"No file or folder at {url!r}. Check the URL.")
        is_dir = fs.isdir(path)
        base = path + "/"
        found = sorted(
            f
            for f in (fs.find(path) if is_dir else [path])
            if not is_dir or not any(part.startswith((".", "_")) for part in f.removeprefix(base).split("/"))
        )
        if not found:
            raise InvalidInput(f"Folder {url!r} holds no data files. Point at CSV or Parquet files.")
        fmt = _format_of(Path(found[0]))
        entries = []
        for f in found:
            rel = f.removeprefix(base) if is_dir else posixpath.basename(f)
            ref: StoredBlob
            if by_reference:
                ref = register_reference(fs.unstrip_protocol(f))
            else:
                with tempfile.TemporaryDirectory(prefix="loopml-dataset-") as tmp:
                    fs.get_file(f, f"{tmp}/data")
                    ref = self._blobs.put_file(f"{tmp}/data", label=f"dataset file {rel}")
            entries.append(_entry(rel, ref))
        dataset = ds.dataset(path, format=fmt, filesystem=fs, partitioning="hive" if is_dir else None)
        return entries, dataset, fmt, url

    def _version(self, artifact: Artifact) -> DatasetVersion:
        if not is_registered(artifact):
            raise NotFound(
                f"Dataset artifact {artifact.name!r} (id {artifact.artifact_id}) was written by a pipeline "
                "step, not registered as a version; `loopml lineage ID` shows where it came from and "
                "`loopml data list` shows the registered versions."
            )
        if artifact.sha256 is None:
            raise InvalidInput(f"Dataset artifact {artifact.artifact_id} has no manifest hash.")
        manifest = json.loads(self._blobs.read_bytes(artifact.sha256, label=f"dataset {artifact.name}"))
        return DatasetVersion(
            name=artifact.name,
            version=artifact.version or 0,
            artifact_id=artifact.artifact_id,
            files=tuple(DatasetFile(**f) for f in manifest["files"]),
            num_rows=int(manifest["num_rows"]),
            arrow_schema=manifest["arrow_schema"],
            file_format=manifest["file_format"],
            source=manifest["source"],
            created_at=artifact.created_at,
        )

    def get(self, ref: str) -> DatasetVersion:
        """The version ``NAME@N`` (or the latest of ``NAME``).

        Raises:
            NotFound: no such dataset or version.
        """
        name, version = parse_ref(ref)
        artifact = self._store.artifacts.find_version(DATASET_TYPE, name, version)
        if artifact is None:
            raise missing_dataset(ref)
        return self._version(artifact)

    def list(self, name: str | None = None) -> list[Artifact]:
        """The registered dataset versions (all names, or one), newest last.

        Dataset artifacts written by pipeline steps (split examples, transformed data) are not
        versions and are left out.
        """
        found = every_item(
            lambda token: self._store.artifacts.list(type=DATASET_TYPE, name=name, page_token=token)
        )
        return [a for a in found if is_registered(a)]

    def diff(self, before: str, after: str) -> DatasetDiff:
        """Files added, removed and changed (by hash) between two versions, and row counts."""
        a, b = self.get(before), self.get(after)
        fa, fb = {f.path: f.sha256 for f in a.files}, {f.path: f.sha256 for f in b.files}
        return DatasetDiff(
            added=tuple(sorted(fb.keys() - fa.keys())),
            removed=tuple(sorted(fa.keys() - fb.keys())),
            changed=tuple(sorted(k for k in fa.keys() & fb.keys() if fa[k] != fb[k])),
            rows_before=a.num_rows,
            rows_after=b.num_rows,
            schema_changed=a.arrow_schema != b.arrow_schema,
        )

    @contextmanager
    def materialize(self, version: DatasetVersion) -> Iterator[Path]:
        """A local folder (or file) holding the version's files, verified; temporary for copies."""
        is_local = "://" not in version.source
        if all(f.is_reference for f in version.files) and is_local and Path(version.source).exists():
            yield Path(version.source)
            return
        with tempfile.TemporaryDirectory(prefix="loopml-dataset-") as tmp:
            for f in version.files:
                dest = Path(tmp) / f.path
                dest.parent.mkdir(parents=True, exist_ok=True)
                label = f"{version.name}@{version.version}:{f.path}"
                if f.is_reference and "://" in f.uri:
                    _download_reference(f, dest, label=label)
                else:
                    self._blobs.get_file(f.sha256, dest, label=label)
            single = len(version.files) == 1 and "/" not in version.files[0].path
            yield Path(tmp) / version.files[0].path if single else Path(tmp)

    def record(
        self, version: DatasetVersion | None, outputs: Mapping[str, tuple[str, Path]], *, execution_type: str
    ) -> str:
        """Record an execution with ``version`` as INPUT and each output file (role → (type, path))
        stored as an artifact and linked as OUTPUT; returns the execution id."""
        execution = self._store.lineage.create_execution(type=execution_type, name=execution_type)
        events: list[tuple[str, EventType, str]] = []
        if version is not None:
            events.append((version.artifact_id, EventType.INPUT, "dataset"))
        for role, (atype, path) in outputs.items():
            ref = self._blobs.put_file(path, label=f"{atype} {path.name}")
            name = version.name if version is not None else path.stem
            art = self._store.artifacts.create(
                type=atype, name=name, uri=ref.uri, sha256=ref.sha256, size=ref.size, versioned=True
            )
            events.append((art.artifact_id, EventType.OUTPUT, role))
        self._store.lineage.add_events(execution.execution_id, events)
        self._store.lineage.finish_execution(execution.execution_id, ExecutionState.COMPLETE)
        return execution.execution_id


def _download_reference(entry: DatasetFile, dest: Path, *, label: str) -> None:
    """Copy a file registered by reference at a URL to ``dest``, checking its registered hash.

    Raises:
        IntegrityError: the file changed since it was registered.
    """
    fs, path = resolve_fs(entry.uri, what="Dataset file URL")
    fs.get_file(path, str(dest))
    digest = hashlib.sha256()
    with dest.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    if digest.hexdigest() != entry.sha256:
        raise IntegrityError(
            f"Dataset file {label} ({entry.uri}) changed since it was registered: sha256 "
            f"{digest.hexdigest()}, registered {entry.sha256}. Register the new data as a new version."
        )


def _entry(rel: str, ref: StoredBlob) -> DatasetFile:
    return DatasetFile(path=rel, sha256=ref.sha256, size=ref.size, uri=ref.uri, is_reference=ref.is_reference)


def is_registered(artifact: Artifact) -> bool:
    """Whether a Dataset artifact is a registered version (written by :meth:`DatasetVersions.add`)."""
    return artifact.type == DATASET_TYPE and {"file_format", "num_rows"} <= artifact.properties.keys()


def vars_of(entry: DatasetFile) -> dict[str, object]:
    """A dataset file as a JSON-ready mapping."""
    return {
        "path": entry.path,
        "sha256": entry.sha256,
        "size": entry.size,
        "uri": entry.uri,
        "is_reference": entry.is_reference,
    }
