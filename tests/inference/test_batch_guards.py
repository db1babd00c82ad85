"""Batch scoring's guards: atypical-input scoring, input restoration and outputs to fsspec URLs."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.errors import InvalidInput
from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy
from loopml.inference.inputs import from_columns
from loopml.inference.predict import predict
from loopml.inference.restoration import InputRestoration, InputRestorer
from loopml.inference.schema import InputSchema
from loopml.registry import ColumnSpec, ModelSignature
from loopml.registry.package.training_stats import compute_training_stats
from tests.inference.conftest import Models

_ROWS = pd.DataFrame(
    {
        "age": np.array([30, 200, 50, 45], dtype=np.int64),  # 200: out of the training range 18-79
        "income": [50.0, 52.0, 48.0, 51.0],
        "city": ["paris", "lyon", "rome", "nice"],  # rome: never seen in training
    }
)


def _input(tmp_path: Path) -> Path:
    src = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pandas(_ROWS, preserve_index=False), src)
    return src


def _expected(models: Models, frame: pd.DataFrame) -> list[str]:
    return list(models.mixed.predict(models.mixed_transform.transform(frame)))


def test_flag_policy_adds_the_flag_and_reason_columns(models: Models, tmp_path: Path) -> None:
    report = predict(
        "models:/mixed@champion",
        _input(tmp_path),
        out=tmp_path / "o",
        registry=models.registry,
        atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG),
    )
    out = pq.read_table(tmp_path / "o" / "rows.parquet")
    assert out.column("atypical").to_pylist() == [False, True, True, False]
    reasons = out.column("atypical_reasons").to_pylist()
    assert reasons[0] == "" and "out_of_range:age" in reasons[1] and reasons[2] == "unseen:city"
    assert out.column("prediction").to_pylist() == _expected(models, _ROWS)  # flagged, still scored
    assert (
        report.rows_atypical == 2 and report.atypical["out_of_range"] == 1 and report.atypical["unseen"] == 1
    )
    summary = json.loads((tmp_path / "o" / "_predict.json").read_text())
    assert summary["rows_atypical"] == 2


def test_log_policy_counts_without_columns_and_reject_sets_rows_aside(models: Models, tmp_path: Path) -> None:
    logged = predict(
        "models:/mixed@champion",
        _input(tmp_path),
        out=tmp_path / "log",
        registry=models.registry,
        atypical=AtypicalCheck(policy=AtypicalPolicy.LOG),
    )
    assert logged.rows_atypical == 2 and logged.rows_scored == 4
    assert "atypical" not in pq.read_table(tmp_path / "log" / "rows.parquet").column_names
    rejected = predict(
        "models:/mixed@champion",
        _input(tmp_path),
        out=tmp_path / "reject",
        registry=models.registry,
        atypical=AtypicalCheck(policy=AtypicalPolicy.REJECT),
    )
    assert (rejected.rows_scored, rejected.rows_rejected) == (2, 2)
    aside = pq.read_table(tmp_path / "reject" / "_rejected" / "rows.parquet").to_pylist()
    assert [r["row"] for r in aside] == [1, 2]
    assert all("atypical input (policy reject)" in r["reason"] for r in aside)
    assert "unseen:city" in aside[1]["reason"]
    kept = pq.read_table(tmp_path / "reject" / "rows.parquet")
    assert kept.column("prediction").to_pylist() == _expected(models, _ROWS.iloc[[0, 3]])


def test_restoration_clips_and_falls_back_and_counts(models: Models, tmp_path: Path) -> None:
    report = predict(
        "models:/mixed@champion",
        _input(tmp_path),
        out=tmp_path / "o",
        registry=models.registry,
        restoration=InputRestoration(clip=True, fallbacks=(("city", "paris"),)),
    )
    assert report.restored == {"clipped:age": 1, "fallback:city": 1}
    restored = _ROWS.copy()
    restored.loc[1, "age"] = models.mixed_frame["age"].max()
    restored.loc[2, "city"] = "paris"
    out = pq.read_table(tmp_path / "o" / "rows.parquet")
    assert out.column("prediction").to_pylist() == _expected(models, restored)
    assert out.column("age").to_pylist() == [30, 200, 50, 45]  # kept columns are the input as read
    plain = predict("models:/mixed@champion", _input(tmp_path), out=tmp_path / "p", registry=models.registry)
    assert plain.restored == {}


def test_a_fallback_outside_the_training_categories_is_refused(models: Models, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"Fallback category 'rome' for 'city' was never seen in training"):
        predict(
            "models:/mixed@champion",
            _input(tmp_path),
            out=tmp_path / "o",
            registry=models.registry,
            restoration=InputRestoration(fallbacks=(("city", "rome"),)),
        )
    assert not (tmp_path / "o").exists()


def test_restorer_clips_a_matrix_without_touching_the_caller_rows() -> None:
    schema = InputSchema.from_signature(
        ModelSignature(inputs=(ColumnSpec(name="x", type="double"), ColumnSpec(name="y", type="double")))
    )
    stats = compute_training_stats(pd.DataFrame({"x": [0.0, 1.0], "y": [-5.0, 5.0]}))
    rows = from_columns(schema, {"x": [2.0, 0.5, float("nan")], "y": [0.0, -9.0, 1.0]}, as_matrix=True)
    restored, counts = InputRestorer(schema, stats, InputRestoration(clip=True)).restore(rows)
    assert counts == {"clipped:x": 1, "clipped:y": 1}
    assert restored.matrix is not None and rows.matrix is not None
    np.testing.assert_array_equal(restored.matrix, [[1.0, 0.0], [0.5, -5.0], [np.nan, 1.0]])
    assert rows.matrix[0, 0] == 2.0


def test_restoration_policy_is_parsed_with_clear_errors() -> None:
    assert InputRestoration.from_mapping(None, where="restore") is None
    with pytest.raises(InvalidInput, match="restore must be a mapping with keys clip"):
        InputRestoration.from_mapping({"clamp": True}, where="restore")
    with pytest.raises(InvalidInput, match=r"restore\.clip must be true or false"):
        InputRestoration.from_mapping({"clip": "yes"}, where="restore")


def test_output_to_an_fsspec_url(models: Models, numeric_input: Path) -> None:
    url = "memory://loopml-batch-test/scored"
    fs = fsspec.filesystem("memory")
    try:
        report = predict(
            "models:/numeric@champion", numeric_input, out=url, registry=models.registry, max_workers=1
        )
        assert report.output == url and report.rows_scored == 198
        files = sorted(f.removeprefix("/loopml-batch-test/scored/") for f in fs.find("/loopml-batch-test"))
        assert "year=2015/part-0.parquet" in files and "_predict.json" in files
        assert not [f for f in fs.ls("/loopml-batch-test", detail=False) if ".tmp-" in f]
        with fs.open("/loopml-batch-test/scored/year=2016/part-0.parquet", "rb") as fh:
            assert pq.read_table(fh).num_rows == 100 - 1
        with pytest.raises(InvalidInput, match="already exists; pass --overwrite"):
            predict("models:/numeric@champion", numeric_input, out=url, registry=models.registry)
        predict("models:/numeric@champion", numeric_input, out=url, registry=models.registry, overwrite=True)
    finally:
        fs.rm("/loopml-batch-test", recursive=True)


def test_output_to_a_file_url(models: Models, numeric_input: Path, tmp_path: Path) -> None:
    report = predict(
        "models:/numeric@champion", numeric_input, out=f"file://{tmp_path}/scored", registry=models.registry
    )
    assert report.output == tmp_path / "scored"
    assert (tmp_path / "scored" / "year=2015" / "part-0.parquet").exists()


def test_in_memory_scoring_takes_the_same_guards(models: Models) -> None:
    from loopml.inference.predict import score_table

    table = pa.Table.from_pandas(_ROWS, preserve_index=False)
    scored, rejected = score_table(
        "models:/mixed@champion",
        table,
        registry=models.registry,
        atypical=AtypicalCheck(policy=AtypicalPolicy.FLAG),
        restoration=InputRestoration(fallbacks=(("city", "lyon"),)),
    )
    assert rejected.num_rows == 0
    assert scored.column("atypical").to_pylist() == [False, True, True, False]
    repaired = _ROWS.assign(city=["paris", "lyon", "lyon", "nice"])
    assert scored.column("prediction").to_pylist() == _expected(models, repaired)
