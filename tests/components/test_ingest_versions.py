"""ingest over a registered version (``dataset=NAME@VERSION``): read from the store, linked, cached."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.components import ingest, statistics
from loopml.data import DatasetVersions
from loopml.data.derived import DerivedStatistics
from loopml.pipeline import StepState
from loopml.store import EventType

from ._harness import Harness, make_frame


def _inputs(h: Harness, execution_id: str) -> set[tuple[str, str]]:
    events = h.store.lineage.list_events(execution_id=execution_id)
    return {(e.artifact_id, e.role) for e in events if e.type is EventType.INPUT}


def test_reads_a_pinned_version_and_records_it(harness: Harness, data_file: Path, tmp_path: Path) -> None:
    versions = DatasetVersions(harness.store, harness.blobs)
    v1 = versions.add("people", data_file)
    make_frame(300, seed=5).to_parquet(data_file, index=False)  # the file moves on; v1 keeps its bytes
    versions.add("people", data_file)
    step = ingest(dataset="people@1", key="id")
    result = harness.run(step)
    ingested = result.step("ingest")
    assert ingested.state is StepState.COMPLETE, ingested.error
    assert (v1.artifact_id, "source") in _inputs(harness, ingested.execution_id)
    props = harness.props(result, "ingest", "dataset")
    assert (props["dataset"], props["dataset_version"]) == ("people", 1)
    assert props["rows"]["train"] + props["rows"]["eval"] == 800
    assert len(versions.list("people")) == 2  # nothing new registered
    again = harness.run(step)
    assert again.step("ingest").state is StepState.CACHED
    assert again.step("ingest").outputs == ingested.outputs


def test_a_csv_folder_version_is_read(harness: Harness, tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    frame = make_frame(400)
    frame.iloc[:200].to_csv(folder / "a.csv", index=False)
    frame.iloc[200:].to_csv(folder / "b.csv", index=False)
    DatasetVersions(harness.store, harness.blobs).add("csvs", folder)
    result = harness.run(ingest(dataset="csvs@1", key="id"))
    assert result.step("ingest").state is StepState.COMPLETE, result.step("ingest").error
    exported = harness.export(result, "ingest", "dataset")
    ids = pd.concat([pd.read_parquet(exported / f"{s}.parquet") for s in ("train", "eval")])["id"]
    assert sorted(ids) == list(range(400))


def test_statistics_of_the_run_are_listed_under_the_version(harness: Harness, data_file: Path) -> None:
    version = DatasetVersions(harness.store, harness.blobs).add("people", data_file)
    examples = ingest(dataset="people@1", key="id")
    stats = statistics(examples=examples.output)
    result = harness.run(examples, stats)
    [found] = DerivedStatistics(harness.store, harness.blobs).list(version)
    assert found.artifact_id == result.step("statistics").outputs["statistics"]
    assert found.splits == ("eval", "train")
    assert found.computed_from == result.step("ingest").outputs["dataset"]


def test_unpinned_or_ambiguous_inputs_fail_clearly(harness: Harness, data_file: Path) -> None:
    DatasetVersions(harness.store, harness.blobs).add("people", data_file)
    for step, words in (
        (ingest(dataset="people"), "must pin a version, as in people@3"),
        (ingest(dataset="people@1", source=str(data_file)), "not both"),
        (ingest(source=str(data_file)), "dataset_name"),
        (ingest(dataset="people@1", dataset_name="others"), "contradicts"),
        (ingest(dataset="people@7"), "loopml data list"),
    ):
        failed = harness.run(step).step("ingest")
        assert failed.state is StepState.FAILED
        assert words in (failed.error or ""), failed.error


def test_a_source_holding_a_registered_versions_bytes_lists_under_it(
    harness: Harness, data_file: Path
) -> None:
    version = DatasetVersions(harness.store, harness.blobs).add("people", data_file)
    examples = ingest(source=str(data_file), dataset_name="people", key="id")
    result = harness.run(examples, statistics(examples=examples.output))
    assert harness.props(result, "ingest", "dataset")["dataset_version"] == 1
    [found] = DerivedStatistics(harness.store, harness.blobs).list(version)
    assert found.artifact_id == result.step("statistics").outputs["statistics"]
