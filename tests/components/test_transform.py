"""transform: fitted on the train split only, per schema type and options, saved with skops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from loopml.components import ingest, schema, statistics, transform
from loopml.pipeline import StepState
from loopml.registry.flavors.sklearn import load_skops

from ._harness import Harness


def _run(harness: Harness, data_file: Path, **options: object):  # type: ignore[no-untyped-def]
    examples = ingest(source=str(data_file), dataset_name="people", key="id", eval_percent=30)
    spec = schema(statistics=statistics(examples=examples.output).output)
    return harness.run(transform(examples=examples.output, schema=spec.output, **options))


def test_fitted_on_training_rows_only(harness: Harness, data_file: Path) -> None:
    result = _run(harness, data_file, label="label", exclude=["id", "year"])
    folder = harness.export(result, "transform", "transform")
    fitted = load_skops(folder / "transform.skops")
    facts = json.loads((folder / "transform.json").read_text())
    train = pd.read_parquet(harness.export(result, "ingest", "dataset") / "train.parquet")
    scaler = fitted.named_transformers_["numeric"].named_steps["scale"]
    assert facts["plan"]["numeric"] == ["age", "group"] and facts["plan"]["categorical"] == ["color"]
    assert scaler.mean_[0] == pytest.approx(train["age"].mean())
    assert facts["fitted_rows"] == len(train) < 800
    assert "label" not in facts["features"] and "id" not in facts["features"]


def test_options_pick_encodings(harness: Harness, data_file: Path) -> None:
    result = _run(
        harness,
        data_file,
        label="label",
        exclude=["id", "year"],
        categorical=["group"],
        ordinal=["color"],
        bucketize={"age": 4},
    )
    folder = harness.export(result, "transform", "transform")
    fitted = load_skops(folder / "transform.skops")
    frame = pd.DataFrame({"age": [20.0, 70.0], "color": ["red", "purple"], "group": [1, 9]})
    out = fitted.transform(frame)
    names = list(fitted.get_feature_names_out())
    assert sum(n.startswith("bucketize_age") for n in names) == 4
    assert out[1, names.index("ordinal__color")] == -1  # unseen value → unknown code
    assert np.all(out[1, [i for i, n in enumerate(names) if n.startswith("vocabulary__group")]] == 0)


def test_unknown_column_in_options_fails_naming_it(harness: Harness, data_file: Path) -> None:
    result = _run(harness, data_file, label="label", categorical=["colour"])
    step = result.step("transform")
    assert step.state is StepState.FAILED and "colour" in (step.error or "")
