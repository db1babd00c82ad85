"""Probing detection: near-identical rows from one caller within a sliding window."""

from __future__ import annotations

import pytest

from loopml.errors import InvalidInput
from loopml.inference.extraction import ExtractionCheck, ProbeDetector
from loopml.inference.inputs import ModelInput, from_columns
from loopml.inference.schema import InputSchema
from loopml.registry import ColumnSpec, ModelSignature

SCHEMA = InputSchema.from_signature(
    ModelSignature(inputs=tuple(ColumnSpec(name=n, type="double") for n in ("a", "b", "c")))
)


MATRIX = {0: True}


def _row(a: float, b: float, c: float) -> ModelInput:
    return from_columns(SCHEMA, {"a": [a], "b": [b], "c": [c]}, as_matrix=MATRIX[0])


@pytest.mark.parametrize("as_matrix", [True, False], ids=["matrix", "columns"])
def test_small_steps_in_one_feature_are_refused_then_the_window_moves_on(
    as_matrix: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MATRIX, 0, as_matrix)
    now = [0.0]
    detector = ProbeDetector(
        SCHEMA, ExtractionCheck(window_s=10, max_probes=5, step=0.1), clock=lambda: now[0]
    )
    decisions = [detector.observe("tok", _row(1.0 + 0.01 * i, 2.0, 3.0)) for i in range(6)]
    assert [d.allowed for d in decisions] == [True] * 6 and decisions[-1].probes == 5
    refused = detector.observe("tok", _row(1.5, 2.0, 3.0))
    assert not refused.allowed and 0 < refused.retry_after_s <= 10
    assert detector.observe("other", _row(1.0, 2.0, 3.0)).allowed  # per caller
    now[0] = 11.0
    assert detector.observe("tok", _row(1.0, 2.0, 3.0)).allowed


def test_varied_inputs_are_not_probes() -> None:
    detector = ProbeDetector(SCHEMA, ExtractionCheck(max_probes=3, step=0.1))
    for i in range(50):  # two features change per request, or one by a large step
        assert detector.observe("tok", _row(float(i), float(2 * i), 3.0)).allowed
    assert detector.observe("tok", _row(100.0, 0.0, 0.0)).probes == 0


@pytest.mark.parametrize("as_matrix", [True, False], ids=["matrix", "columns"])
def test_steps_are_relative_to_the_training_spread(as_matrix: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MATRIX, 0, as_matrix)
    detector = ProbeDetector(SCHEMA, ExtractionCheck(max_probes=2, step=0.1), scales={"a": 100.0})
    for i in range(3):  # a step of 5 is small against a standard deviation of 100
        detector.observe("tok", _row(5.0 * i, 0.0, 0.0))
    assert not detector.observe("tok", _row(0.0, 0.0, 0.0)).allowed
    fresh = ProbeDetector(SCHEMA, ExtractionCheck(max_probes=2, step=0.1), scales={"a": 1.0})
    for i in range(3):  # against a standard deviation of 1 it is a large step
        fresh.observe("tok", _row(5.0 * i, 0.0, 0.0))
    assert fresh.observe("tok", _row(100.0, 0.0, 0.0)).allowed


def test_bad_settings_are_named() -> None:
    with pytest.raises(InvalidInput, match=r"extraction.max_probes must be a number > 0"):
        ExtractionCheck(max_probes=0)
    with pytest.raises(InvalidInput, match="keys window_s"):
        ExtractionCheck.from_mapping({"windows": 3}, where="x")
