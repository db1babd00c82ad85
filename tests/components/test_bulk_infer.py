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
