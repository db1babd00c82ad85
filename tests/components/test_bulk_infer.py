"""bulk_infer: a pushed model scores a dataset version; the output is recorded as a dataset version."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds

from loopml.components import bulk_infer
from loopml.data.versions import DatasetVersions

from ._harness import Harness
from ._pipeline import steps


def test_bulk_infer_scores_a_dataset_version_with_the_pushed_model(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    pipeline = steps(data_file, home=home)
    scored = bulk_infer(pushed_model=pipeline["push"].output, dataset="people@1", home=str(home))
    result = harness.run(scored)
    props = harness.props(result, "bulk_infer", "dataset")
    assert props["model_uri"] == "models:/people/1"
    assert props["rows_in"] == 800 and props["rows_scored"] + props["rows_rejected"] == 800
    versions = DatasetVersions(harness.store, harness.blobs)
    version = versions.get(props["output_dataset"])
    assert version.name == "people-predictions" and version.num_rows == props["rows_scored"]
    exported = harness.export(result, "bulk_infer", "dataset")
    table = ds.dataset(exported, format="parquet").to_table()
    assert "prediction" in table.column_names and table.num_rows == props["rows_scored"]


def test_training_statistics_are_found_upstream_of_the_registered_package(
    harness: Harness, data_file: Path, tmp_path: Path
) -> None:
    from loopml.components._champion import registry_for
    from loopml.data import compute_statistics
    from loopml.inference.skew import skew, training_statistics

    from ._harness import make_frame

    harness.run(steps(data_file, home=tmp_path / "home")["push"])
    registry = registry_for(harness.store, harness.blobs)
    assert registry is not None
    package = str(registry.resolve("models:/people/1").properties["package_artifact_id"])
    training = training_statistics(harness.store, harness.blobs, package)
    assert training is not None and training.name == "train" and 500 < training.num_examples < 700
    same = skew(compute_statistics(make_frame(seed=0)), training)
    shifted = skew(compute_statistics(make_frame(seed=0, shift=30.0)), training)
    assert not any(i.is_anomalous for i in same if i.feature == "age")
    assert [i.feature for i in shifted if i.is_anomalous and i.feature == "age"] == ["age"]
