"""Statistics of a dataset version found downstream through derived datasets; per-split documents."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from loopml.artifacts import BlobStore
from loopml.data.derived import (
    DIRECTORY_FORMAT,
    LAYOUT_DIRECTORY,
    LAYOUT_PROPERTY,
    DerivedStatistics,
    SplitRequired,
)
from loopml.data.versions import DatasetVersion, DatasetVersions
from loopml.errors import InvalidInput, NotFound
from loopml.pipeline import artifact_types
from loopml.store import Store
from loopml.store.entities import Artifact, EventType
from loopml.store.sql import open_store
from tests.data.conftest import make_frame


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def version(store: Store, blobs: BlobStore, tmp_path: Path) -> DatasetVersion:
    path = tmp_path / "people.csv"
    make_frame(50).to_csv(path, index=False)
    return DatasetVersions(store, blobs).add("people", path)


def _document(blobs: BlobStore, store: Store, type_: str, name: str, body: bytes) -> Artifact:
    ref = blobs.put_bytes(body)
    return store.artifacts.create(type=type_, name=name, uri=ref.uri, sha256=ref.sha256, size=ref.size)


def _folder(blobs: BlobStore, store: Store, name: str, files: Mapping[str, bytes]) -> Artifact:
    """A folder artifact laid out as the pipeline runner stores one (a manifest of blobs)."""
    listing = {path: blobs.put_bytes(body).sha256 for path, body in files.items()}
    manifest = blobs.put_bytes(json.dumps({"format": DIRECTORY_FORMAT, "files": listing}).encode())
    return store.artifacts.create(
        type="Statistics",
        name=name,
        uri=manifest.uri,
        sha256=manifest.sha256,
        size=sum(len(b) for b in files.values()),
        properties={LAYOUT_PROPERTY: LAYOUT_DIRECTORY},
    )


def _execution(store: Store, reads: list[Artifact | str], writes: list[Artifact]) -> str:
    execution = store.lineage.create_execution(type="component", name="step")
    events = [(a if isinstance(a, str) else a.artifact_id, EventType.INPUT, "in") for a in reads]
    events += [(a.artifact_id, EventType.OUTPUT, "out") for a in writes]
    store.lineage.add_events(execution.execution_id, events)
    return execution.execution_id


def test_layout_constants_match_the_pipeline_runner() -> None:
    assert LAYOUT_PROPERTY == artifact_types.LAYOUT_PROPERTY
    assert LAYOUT_DIRECTORY == artifact_types.LAYOUT_DIRECTORY


def test_statistics_recorded_on_the_version_are_one_hop_away(
    store: Store, blobs: BlobStore, version: DatasetVersion, tmp_path: Path
) -> None:
    stats = tmp_path / "stats.json"
    stats.write_text('{"datasets": []}')
    DatasetVersions(store, blobs).record(
        version, {"statistics": ("Statistics", stats)}, execution_type="ComputeStatistics"
    )
    [found] = DerivedStatistics(store, blobs).list(version)
    assert (found.hops, found.splits, found.computed_from) == (1, (), version.artifact_id)
    doc = DerivedStatistics(store, blobs).document(found)
    assert blobs.read_bytes(doc.sha256) == stats.read_bytes() and doc.split is None


def test_pipeline_statistics_are_found_through_derived_examples(
    store: Store, blobs: BlobStore, version: DatasetVersion
) -> None:
    examples = _document(blobs, store, "Dataset", "run.ingest.dataset", b"examples")
    _execution(store, [version.artifact_id], [examples])
    folder = _folder(blobs, store, "run.statistics", {"train.json": b'{"t": 1}', "eval.json": b'{"e": 2}'})
    _execution(store, [examples], [folder])
    _execution(store, [examples], [folder])  # a cached re-run lists the same artifact once
    finder = DerivedStatistics(store, blobs)
    [found] = finder.list(version)
    assert found.artifact_id == folder.artifact_id
    assert (found.splits, found.hops, found.computed_from) == (("eval", "train"), 2, examples.artifact_id)
    assert blobs.read_bytes(finder.document(found, split="train").sha256) == b'{"t": 1}'
    assert blobs.read_bytes(finder.document(found, split="eval").sha256) == b'{"e": 2}'
    assert finder.get(version, folder.artifact_id) == found


def test_the_walk_is_bounded_and_only_passes_through_datasets(
    store: Store, blobs: BlobStore, version: DatasetVersion
) -> None:
    examples = _document(blobs, store, "Dataset", "examples", b"e")
    _execution(store, [version.artifact_id], [examples])
    model = _document(blobs, store, "Model", "model", b"m")
    _execution(store, [examples], [model])
    behind_model = _document(blobs, store, "Statistics", "of-predictions", b"{}")
    _execution(store, [model], [behind_model])
    transformed = _document(blobs, store, "Dataset", "transformed", b"t")
    _execution(store, [examples], [transformed])
    far = _document(blobs, store, "Statistics", "of-transformed", b"{}")
    _execution(store, [transformed], [far])
    assert [s.artifact.name for s in DerivedStatistics(store, blobs).list(version)] == ["of-transformed"]
    assert DerivedStatistics(store, blobs, max_hops=2).list(version) == []
    with pytest.raises(InvalidInput, match="max_hops"):
        DerivedStatistics(store, blobs, max_hops=0)


def test_statistics_of_another_version_are_not_listed(
    store: Store, blobs: BlobStore, version: DatasetVersion, tmp_path: Path
) -> None:
    path = tmp_path / "other.csv"
    make_frame(20, seed=4).to_csv(path, index=False)
    other = DatasetVersions(store, blobs).add("people", path)
    stats = _document(blobs, store, "Statistics", "people", b"{}")
    _execution(store, [other.artifact_id], [stats])
    finder = DerivedStatistics(store, blobs)
    assert finder.list(version) == [] and len(finder.list(other)) == 1
    with pytest.raises(NotFound, match="loopml data show people@1"):
        finder.get(version, stats.artifact_id)


def test_reading_documents_names_the_splits(store: Store, blobs: BlobStore, version: DatasetVersion) -> None:
    folder = _folder(blobs, store, "s", {"train.json": b"{}", "eval.json": b"{}", "notes/readme.txt": b"x"})
    single = _document(blobs, store, "Statistics", "single", b"{}")
    _execution(store, [version.artifact_id], [folder, single])
    finder = DerivedStatistics(store, blobs)
    split_folder = finder.get(version, folder.artifact_id)
    assert split_folder.splits == ("eval", "train")
    with pytest.raises(SplitRequired, match="eval, train") as raised:
        finder.document(split_folder)
    assert raised.value.splits == ("eval", "train") and raised.value.artifact_id == folder.artifact_id
    with pytest.raises(NotFound, match="no split 'test'; its splits are: eval, train"):
        finder.document(split_folder, split="test")
    with pytest.raises(NotFound, match="no split 'notes/readme'"):
        finder.document(split_folder, split="notes/readme")
    with pytest.raises(InvalidInput, match="one document, not split"):
        finder.document(finder.get(version, single.artifact_id), split="train")


def test_pipeline_made_datasets_are_not_versions(
    store: Store, blobs: BlobStore, version: DatasetVersion
) -> None:
    _document(blobs, store, "Dataset", "run.ingest.dataset", b"examples")
    versions = DatasetVersions(store, blobs)
    assert [a.name for a in versions.list()] == ["people"]
    with pytest.raises(NotFound, match="written by a pipeline step"):
        versions.get("run.ingest.dataset")
