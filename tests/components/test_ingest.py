"""ingest: dataset version registered and linked, deterministic hash and time splits, clear errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from loopml.components import ingest
from loopml.data import DatasetVersions
from loopml.pipeline import StepState
from loopml.store import EventType

from ._harness import Harness


def _splits(h: Harness, result) -> tuple[pd.DataFrame, pd.DataFrame]:  # type: ignore[no-untyped-def]
    folder = h.export(result, "ingest", "dataset")
    return pd.read_parquet(folder / "train.parquet"), pd.read_parquet(folder / "eval.parquet")


def test_hash_split_is_deterministic_disjoint_and_complete(harness: Harness, data_file: Path) -> None:
    step = ingest(source=str(data_file), dataset_name="people", key="id", eval_percent=25)
    first = harness.run(step)
    again = harness.run(step, no_cache=True)
    train, evals = _splits(harness, first)
    assert set(train["id"]).isdisjoint(evals["id"])
    assert len(train) + len(evals) == 800
    assert 0.18 < len(evals) / 800 < 0.32
    assert first.step("ingest").outputs["dataset"] != again.step("ingest").outputs["dataset"]
    train2, evals2 = _splits(harness, again)
    assert list(evals2["id"]) == list(evals["id"]) and list(train2["id"]) == list(train["id"])


def test_registers_one_version_and_records_it_as_input(harness: Harness, data_file: Path) -> None:
    step = ingest(source=str(data_file), dataset_name="people", key="id")
    result = harness.run(step)
    harness.run(step, no_cache=True)  # same bytes: the version is reused
    versions = DatasetVersions(harness.store, harness.blobs)
    assert len(versions.list("people")) == 1
    version = versions.get("people")
    events = harness.store.lineage.list_events(execution_id=result.step("ingest").execution_id)
    assert (version.artifact_id, EventType.INPUT, "source") in {
        (e.artifact_id, e.type, e.role) for e in events
    }
    props = harness.props(result, "ingest", "dataset")
    assert props["dataset"] == "people" and props["dataset_version"] == 1
    assert props["rows"]["train"] + props["rows"]["eval"] == 800


def test_time_split_puts_later_span_in_eval(harness: Harness, data_file: Path) -> None:
    result = harness.run(
        ingest(
            source=str(data_file), dataset_name="people", split="time", time_column="year", eval_since=2022
        )
    )
    train, evals = _splits(harness, result)
    assert set(evals["year"]) == {2022} and set(train["year"]) == {2020, 2021}


def test_stratified_subsample_keeps_label_shares(harness: Harness, data_file: Path) -> None:
    result = harness.run(
        ingest(source=str(data_file), dataset_name="people", key="id", max_train_rows=200, stratify="label")
    )
    train, _ = _splits(harness, result)
    full = pd.read_parquet(data_file)
    assert abs(len(train) - 200) <= 2
    assert abs(train["label"].mean() - full["label"].mean()) < 0.05


def test_unknown_key_column_fails_naming_it(harness: Harness, data_file: Path) -> None:
    result = harness.run(ingest(source=str(data_file), dataset_name="people", key="customer"))
    step = result.step("ingest")
    assert step.state is StepState.FAILED
    assert "customer" in (step.error or "")


def test_missing_source_fails_clearly(harness: Harness, tmp_path: Path) -> None:
    result = harness.run(ingest(source=str(tmp_path / "nope.parquet"), dataset_name="people"))
    assert result.step("ingest").state is StepState.FAILED
    assert "does not exist" in (result.step("ingest").error or "")
