"""What was computed from a dataset version: statistics found by walking lineage downstream.

A version's statistics are rarely one hop away. ``loopml data stats --dataset`` records them
directly (version → execution → Statistics), but a pipeline first derives examples from the
version (version → ``ingest`` → examples) and computes statistics of those (examples →
``statistics`` → Statistics). :class:`DerivedStatistics` walks INPUT/OUTPUT events downstream
from the version's artifact, through derived ``Dataset`` artifacts only, for a bounded number of
executions, and collects every ``Statistics`` artifact it meets.

A Statistics artifact is one JSON document, or a folder (stored as a directory manifest) with
one ``<split>.json`` per split; :meth:`DerivedStatistics.document` finds the blob of one split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from loopml.artifacts import Blobs
from loopml.data.versions import DATASET_TYPE, DatasetVersion
from loopml.errors import InvalidInput, NotFound
from loopml.store.entities import Artifact, EventType
from loopml.store.repositories import Store

__all__ = [
    "DEFAULT_MAX_HOPS",
    "DIRECTORY_FORMAT",
    "LAYOUT_DIRECTORY",
    "LAYOUT_PROPERTY",
    "MAX_HOPS",
    "STATISTICS_TYPE",
    "DerivedStatistics",
    "SplitRequired",
    "StatisticsArtifact",
    "StatisticsDocument",
]

STATISTICS_TYPE = "Statistics"
DEFAULT_MAX_HOPS = 3
"""Executions walked from the version: ingest, a transform of the examples, then statistics."""
MAX_HOPS = 8

LAYOUT_PROPERTY = "loopml.layout"
"""Artifact property naming how the bytes are laid out (written by the pipeline runner)."""
LAYOUT_DIRECTORY = "directory"
DIRECTORY_FORMAT = "loopml-directory/1"
"""Format of a folder artifact's manifest blob: ``{"format": ..., "files": {path: sha256}}``."""
_DOCUMENT_SUFFIX = ".json"


class SplitRequired(InvalidInput):
    """A per-split statistics artifact was read without naming one of its splits."""

    code = "split_required"
    fields = ("artifact_id", "splits")

    def __init__(self, message: str, *, artifact_id: str, splits: tuple[str, ...]) -> None:
        super().__init__(message)
        self.artifact_id = artifact_id
        self.splits = splits


@dataclass(frozen=True, slots=True, kw_only=True)
class StatisticsArtifact:
    """A Statistics artifact computed from a dataset version (directly or from derived data).

    Attributes:
        artifact: The Statistics artifact.
        splits: Split names when it is a folder of ``<split>.json`` documents; empty for one document.
        computed_from: The ``Dataset`` artifact its execution read: the version's, or derived examples.
        hops: Executions between the version and this artifact (1: computed from the version itself).
    """

    artifact: Artifact
    splits: tuple[str, ...]
    computed_from: str
    hops: int

    @property
    def artifact_id(self) -> str:
        return self.artifact.artifact_id

    @property
    def is_split(self) -> bool:
        return bool(self.splits)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatisticsDocument:
    """Where one statistics JSON document lives in the blob store."""

    sha256: str
    size: int | None
    split: str | None
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class _Reached:
    artifact: Artifact
    computed_from: str
    hops: int


class DerivedStatistics:
    """Finds the statistics computed from a dataset version and reads their documents.

    Example:
        >>> from loopml.artifacts import BlobStore
        >>> from loopml.store.sql import open_store
        >>> import tempfile
        >>> root = tempfile.mkdtemp()
        >>> with open_store(f"sqlite:///{root}/store.db") as store:
        ...     finder = DerivedStatistics(store, BlobStore(root + "/blobs"))
        ...     finder.max_hops
        3
    """

    def __init__(self, store: Store, blobs: Blobs, *, max_hops: int = DEFAULT_MAX_HOPS) -> None:
        if not 1 <= max_hops <= MAX_HOPS:
            raise InvalidInput(f"`max_hops` must be between 1 and {MAX_HOPS}. Got {max_hops}.")
        self._store, self._blobs, self.max_hops = store, blobs, max_hops

    def list(self, version: DatasetVersion) -> list[StatisticsArtifact]:
        """The Statistics artifacts computed from ``version`` or data derived from it, oldest first."""
        found = [
            StatisticsArtifact(
                artifact=r.artifact,
                splits=self._splits_of(r.artifact),
                computed_from=r.computed_from,
                hops=r.hops,
            )
            for r in self._downstream(version.artifact_id)
            if r.artifact.type == STATISTICS_TYPE
        ]
        return sorted(found, key=lambda s: (s.artifact.created_at, s.artifact_id))

    def get(self, version: DatasetVersion, artifact_id: str) -> StatisticsArtifact:
        """One Statistics artifact of ``version``.

        Raises:
            NotFound: ``artifact_id`` is not a statistics artifact computed from this version.
        """
        for found in self.list(version):
            if found.artifact_id == artifact_id:
                return found
        ref = f"{version.name}@{version.version}"
        raise NotFound(
            f"Dataset {ref!r} has no statistics artifact {artifact_id!r}; "
            f"`loopml data show {ref}` lists the statistics computed from it."
        )

    def document(self, found: StatisticsArtifact, *, split: str | None = None) -> StatisticsDocument:
        """The blob holding the statistics JSON of ``found`` (of ``split`` for a per-split folder).

        Raises:
            SplitRequired: ``found`` holds one document per split and ``split`` is None.
            InvalidInput: ``split`` is given for a single-document artifact.
            NotFound: no such split, or the artifact's content is not in the blob store.
        """
        artifact = found.artifact
        if artifact.sha256 is None or artifact.is_reference:
            raise NotFound(
                f"Statistics artifact {artifact.artifact_id!r} has no content in the artifact store; "
                "recompute it with `loopml data stats --dataset NAME@VERSION`."
            )
        label = f"statistics {artifact.artifact_id}"
        if not found.is_split:
            if split is not None:
                raise InvalidInput(
                    f"Statistics artifact {artifact.artifact_id!r} is one document, not split; "
                    f"drop the split ({split!r}) to read it."
                )
            return StatisticsDocument(sha256=artifact.sha256, size=artifact.size, split=None, label=label)
        if split is None:
            raise SplitRequired(
                f"Statistics artifact {artifact.artifact_id!r} holds one document per split; "
                f"name one of its splits: {', '.join(found.splits)}.",
                artifact_id=artifact.artifact_id,
                splits=found.splits,
            )
        files = self._manifest(artifact)
        sha256 = files.get(split + _DOCUMENT_SUFFIX) if split in found.splits else None
        if sha256 is None:
            raise NotFound(
                f"Statistics artifact {artifact.artifact_id!r} has no split {split!r}; "
                f"its splits are: {', '.join(found.splits)}."
            )
        return StatisticsDocument(sha256=sha256, size=None, split=split, label=f"{label} split {split}")

    def _downstream(self, root_id: str) -> Iterator[_Reached]:
        """Artifacts written by executions that read ``root_id`` or a Dataset derived from it."""
        seen_artifacts, seen_executions = {root_id}, set[str]()
        frontier = [root_id]
        for hops in range(1, self.max_hops + 1):
            following: list[str] = []
            for source_id in frontier:
                for execution_id in self._readers_of(source_id) - seen_executions:
                    seen_executions.add(execution_id)
                    for event in self._store.lineage.list_events(execution_id=execution_id):
                        if event.type is not EventType.OUTPUT or event.artifact_id in seen_artifacts:
                            continue
                        seen_artifacts.add(event.artifact_id)
                        artifact = self._store.artifacts.get(event.artifact_id)
                        yield _Reached(artifact=artifact, computed_from=source_id, hops=hops)
                        if artifact.type == DATASET_TYPE:
                            following.append(artifact.artifact_id)
            frontier = following

    def _readers_of(self, artifact_id: str) -> set[str]:
        return {
            e.execution_id
            for e in self._store.lineage.list_events(artifact_id=artifact_id)
            if e.type is EventType.INPUT
        }

    def _splits_of(self, artifact: Artifact) -> tuple[str, ...]:
        if artifact.properties.get(LAYOUT_PROPERTY) != LAYOUT_DIRECTORY:
            return ()
        files = self._manifest(artifact)
        return tuple(
            sorted(
                p.removesuffix(_DOCUMENT_SUFFIX)
                for p in files
                if p.endswith(_DOCUMENT_SUFFIX) and "/" not in p
            )
        )

    def _manifest(self, artifact: Artifact) -> Mapping[str, str]:
        """The folder manifest of ``artifact``: relative path → sha256."""
        if artifact.sha256 is None:
            raise NotFound(f"Statistics artifact {artifact.artifact_id!r} has no content hash.")
        raw = self._blobs.read_bytes(artifact.sha256, label=f"statistics {artifact.artifact_id} manifest")
        try:
            manifest = json.loads(raw)
        except ValueError as err:
            raise InvalidInput(
                f"Statistics artifact {artifact.artifact_id!r} is marked as a folder but its manifest "
                f"is not JSON: {err}."
            ) from err
        if not isinstance(manifest, dict) or manifest.get("format") != DIRECTORY_FORMAT:
            raise InvalidInput(
                f"Statistics artifact {artifact.artifact_id!r} is marked as a folder but its manifest "
                f"is not a {DIRECTORY_FORMAT!r} manifest."
            )
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise InvalidInput(f"The folder manifest of {artifact.artifact_id!r} lists no files.")
        return {str(k): str(v) for k, v in files.items()}
