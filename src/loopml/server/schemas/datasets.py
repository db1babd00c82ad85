"""Wire schemas of a dataset version and of the statistics computed from it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from loopml.data.derived import StatisticsArtifact
from loopml.data.versions import DatasetVersion
from loopml.server.schemas.common import URI_PATTERN, Wire, checked_here
from loopml.server.schemas.lineage import ArtifactOut

__all__ = [
    "DatasetAdd",
    "DatasetFileOut",
    "DatasetStatisticsOut",
    "DatasetStatisticsPage",
    "DatasetVersionOut",
]


class DatasetFileOut(Wire):
    path: str
    sha256: str
    size: int
    uri: str
    is_reference: bool


class DatasetVersionOut(Wire):
    name: str
    version: int
    artifact_id: str
    files: list[DatasetFileOut]
    num_rows: int
    arrow_schema: str
    file_format: str
    source: str
    created_at: int

    @classmethod
    def of(cls, v: DatasetVersion) -> DatasetVersionOut:
        files = [
            DatasetFileOut(path=f.path, sha256=f.sha256, size=f.size, uri=f.uri, is_reference=f.is_reference)
            for f in v.files
        ]
        return cls(
            name=v.name,
            version=v.version,
            artifact_id=v.artifact_id,
            files=files,
            num_rows=v.num_rows,
            arrow_schema=v.arrow_schema,
            file_format=v.file_format,
            source=v.source,
            created_at=v.created_at,
        )


class DatasetAdd(Wire):
    """Add a version from data under the server's artifact root.

    ``uri``: a path relative to the artifact root, or an absolute path / ``file://`` URL inside it.
    ``by_reference``: record the files in place (hashes and sizes) instead of copying them.
    """

    uri: Annotated[
        str,
        StringConstraints(min_length=1, max_length=1_000),
        checked_here(URI_PATTERN, max_length=1_000),
        Field(
            description="A file or folder under the server's local artifact root (relative, absolute or "
            "`file://`); one outside it, in the blob store's folders, or not CSV/Parquet answers 400, "
            "one that names nothing 404."
        ),
    ]
    by_reference: bool = False


class DatasetStatisticsOut(ArtifactOut):
    """A Statistics artifact computed from a version, directly or from data derived from it.

    ``splits``: the split documents of a per-split folder (read one with ``?split=NAME``); empty
    when the artifact is one document. ``computed_from``: the Dataset artifact the statistics were
    computed from (the version's own, or e.g. the examples ``ingest`` split from it).
    ``hops``: executions between the version and the statistics.
    """

    splits: list[str]
    computed_from: str
    hops: int

    @classmethod
    def of_statistics(cls, found: StatisticsArtifact) -> DatasetStatisticsOut:
        return cls(
            **ArtifactOut.of(found.artifact).model_dump(),
            splits=list(found.splits),
            computed_from=found.computed_from,
            hops=found.hops,
        )


class DatasetStatisticsPage(Wire):
    artifacts: list[DatasetStatisticsOut]
