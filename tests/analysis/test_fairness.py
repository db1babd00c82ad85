from __future__ import annotations

import pandas as pd
import pytest

from loopml.analysis import (
    disparate_impact,
    equal_opportunity_difference,
    evaluate,
    fairness_gap,
    fairness_gaps,
)
from loopml.errors import InvalidInput


def _hand_made():  # type: ignore[no-untyped-def]
    # group a: 4 positives (3 predicted positive), 4 negatives (1 predicted positive)
    # group b: 4 positives (1 predicted positive), 4 negatives (0 predicted positive)
    y_true = [1, 1, 1, 1, 0, 0, 0, 0] * 2
    y_pred = [*[1, 1, 1, 0, 1, 0, 0, 0], *[1, 0, 0, 0, 0, 0, 0, 0]]
    features = pd.DataFrame({"G": ["a"] * 8 + ["b"] * 8})
    return evaluate(
        y_true,
        y_pred=y_pred,
        task="binary",
        features=features,
        slices=["G"],
        min_slice_size=1,
        bootstrap=None,
    )


def test_gap_values_on_hand_made_data() -> None:
    r = _hand_made()
    recall = fairness_gap(r, "G", "recall")
    assert (recall.max_slice, recall.max_value, recall.min_slice, recall.min_value) == (
        "G=a",
        0.75,
        "G=b",
        0.25,
    )
    assert recall.difference == pytest.approx(0.5)
    assert equal_opportunity_difference(r, "G") == pytest.approx(0.5)
    # positive rate: a = 4/8, b = 1/8 -> disparate impact 0.25
    assert disparate_impact(r, "G") == pytest.approx(0.25)
    fpr = fairness_gap(r, "G", "false_positive_rate")
    assert fpr.difference == pytest.approx(0.25) and fpr.ratio == pytest.approx(0.0)


def test_gaps_are_stored_on_the_result_and_round_trip() -> None:
    r = _hand_made()
    stored = {(g.spec, g.metric): g for g in r.fairness}
    assert stored[("G", "positive_rate")].ratio == pytest.approx(0.25)
    assert fairness_gaps(r) == r.fairness
    assert type(r).from_dict(r.to_dict()).fairness == r.fairness


def test_unknown_spec_or_metric() -> None:
    r = _hand_made()
    with pytest.raises(InvalidInput, match=r"No slices of 'SEX'.*sliced by: G"):
        fairness_gap(r, "SEX", "recall")
    with pytest.raises(InvalidInput, match="'roc_auc' was not computed"):
        fairness_gap(r, "G", "roc_auc")
