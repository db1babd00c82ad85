from __future__ import annotations

import numpy as np
import pytest

from loopml.analysis import BootstrapConfig, evaluate
from loopml.analysis.bootstrap import resample_weights
from loopml.errors import InvalidInput

from .conftest import make_binary


def _width(n: int) -> float:
    data = make_binary(n=n, seed=3)
    m = evaluate(data.y_true, y_score=data.good_score, task="binary", metrics=["accuracy"]).overall.metrics[
        "accuracy"
    ]
    assert m.lower is not None and m.upper is not None and m.value is not None
    assert m.lower <= m.value <= m.upper
    return m.upper - m.lower


def test_interval_contains_point_estimate_and_shrinks_with_n() -> None:
    small, large = _width(300), _width(6000)
    assert large < small / 2  # ~ 1/sqrt(n): sqrt(20) ≈ 4.5


def test_every_metric_gets_an_interval_around_its_value() -> None:
    data = make_binary(n=800, seed=5)
    result = evaluate(data.y_true, y_score=data.good_score, task="binary", bootstrap=BootstrapConfig(n=100))
    for name, m in result.overall.metrics.items():
        assert m.lower is not None and m.upper is not None, name
        assert m.lower - 1e-12 <= m.value <= m.upper + 1e-12, name  # type: ignore[operator]


def test_seeded_and_reproducible() -> None:
    data = make_binary(n=500, seed=1)
    runs = [
        evaluate(data.y_true, y_score=data.good_score, task="binary", bootstrap=BootstrapConfig(n=50, seed=s))
        for s in (1, 1, 2)
    ]
    assert runs[0].overall.metrics == runs[1].overall.metrics
    assert runs[0].overall.metrics["roc_auc"] != runs[2].overall.metrics["roc_auc"]


def test_resample_weights_are_poisson_1_in_chunks() -> None:
    chunks = list(resample_weights(400_000, BootstrapConfig(n=5)))
    assert [c.shape for c in chunks] == [(2, 400_000), (2, 400_000), (1, 400_000)]
    weights = np.concatenate(chunks)
    assert weights.mean() == pytest.approx(1.0, abs=0.01) and weights.var() == pytest.approx(1.0, abs=0.01)
    assert (weights == 0).mean() == pytest.approx(np.exp(-1), abs=0.01)  # P(Poisson(1) = 0)


def test_higher_confidence_gives_wider_interval() -> None:
    data = make_binary(n=1000, seed=2)
    widths = []
    for confidence in (0.8, 0.99):
        m = evaluate(
            data.y_true, y_score=data.good_score, task="binary", metrics=["f1"],
            bootstrap=BootstrapConfig(confidence=confidence),
        ).overall.metrics["f1"]  # fmt: skip
        widths.append((m.upper or 0) - (m.lower or 0))
    assert widths[0] < widths[1]


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"n": 1}, "at least 2"), ({"confidence": 1.0}, r"in \(0, 1\)")]
)
def test_bad_config(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BootstrapConfig(**kwargs)  # type: ignore[arg-type]
