"""Atypical-input scoring against the training statistics a package carries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.errors import InvalidInput
from loopml.inference.atypical import AtypicalCheck, AtypicalPolicy, AtypicalScorer
from loopml.inference.inputs import from_columns
from loopml.inference.schema import InputSchema
from loopml.registry import ColumnSpec, ModelSignature
from loopml.registry.package.training_stats import compute_training_stats

SCHEMA = InputSchema.from_signature(
    ModelSignature(
        inputs=(ColumnSpec(name="age", type="double"), ColumnSpec(name="city", type="string")),
    )
)


@pytest.fixture(scope="module")
def scorer() -> AtypicalScorer:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.normal(40, 5, size=500), "city": rng.choice(["lyon", "nice"], size=500)})
    return AtypicalScorer(SCHEMA, compute_training_stats(frame), max_distance=3.0)


def test_typical_rows_have_no_reasons(scorer: AtypicalScorer) -> None:
    rows = from_columns(SCHEMA, {"age": [40.0, 42.0], "city": ["lyon", "nice"]}, as_matrix=False)
    report = scorer.score(rows)
    assert not report.is_atypical and report.flags() == ()
    assert report.distances.tolist() == pytest.approx([0.0, 0.4], abs=0.1)


def test_each_reason_is_named_per_row(scorer: AtypicalScorer) -> None:
    rows = from_columns(
        SCHEMA,
        {"age": [40.0, 400.0, float("nan"), 41.0], "city": ["lyon", "nice", "lyon", "paris"]},
        as_matrix=False,
    )
    report = scorer.score(rows)
    assert report.reasons[0] == ()
    assert report.reasons[1] == ("out_of_range:age", "distance")
    assert report.reasons[2] == ("missing:age",)
    assert report.reasons[3] == ("unseen:city",)
    assert report.atypical_rows == [1, 2, 3]
    assert report.reason_counts() == {"out_of_range": 1, "distance": 1, "missing": 1, "unseen": 1}
    assert report.flags()[0] == "row 1: out_of_range:age, distance"


def test_without_statistics_only_missing_values_count() -> None:
    scorer = AtypicalScorer(SCHEMA, None)
    assert not scorer.has_statistics
    rows = from_columns(SCHEMA, {"age": [1e9, float("nan")], "city": ["x", "y"]}, as_matrix=False)
    assert scorer.score(rows).reasons == ((), ("missing:age",))


def test_check_parsing_names_bad_values() -> None:
    assert AtypicalCheck.from_mapping({"policy": "reject"}, where="w") == AtypicalCheck(
        policy=AtypicalPolicy.REJECT
    )
    assert AtypicalCheck.from_mapping(None, where="w") is None
    with pytest.raises(InvalidInput, match=r"w.policy must be log, flag or reject; got 'drop'"):
        AtypicalCheck.from_mapping({"policy": "drop"}, where="w")
    with pytest.raises(InvalidInput, match="max_distance must be > 0"):
        AtypicalCheck.from_mapping({"max_distance": 0}, where="w")
