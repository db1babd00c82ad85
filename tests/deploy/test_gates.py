"""Release gates: each verdict, with its evidence, from hand-built observations."""

from __future__ import annotations

import numpy as np
import pytest

from loopml.deploy.gates import (
    Verdict,
    analyze_canary,
    atypical_inputs_gate,
    compare_shadow,
    error_rate_gate,
    online_metric_gate,
    p99_latency_gate,
    prediction_shift_gate,
)
from loopml.deploy.observations import Observations, Outcome, RouteObservations, Window
from loopml.deploy.policy import GateThresholds, OnlineMetric
from loopml.errors import InvalidInput

W = Window(start_ms=1_000, end_ms=61_000)
T = GateThresholds()


def obs(primary: RouteObservations, canary: RouteObservations, **shadows: RouteObservations) -> Observations:
    return Observations(window=W, routes={"primary": primary, "canary": canary, **shadows})


def test_error_rate_verdicts_carry_value_threshold_samples_and_window() -> None:
    bad = error_rate_gate(
        obs(RouteObservations(requests=5000, errors=10), RouteObservations(requests=1000, errors=50)), T
    )
    assert bad.verdict is Verdict.FAIL
    assert (bad.threshold, bad.primary_n, bad.canary_n, bad.window) == (0.01, 5000, 1000, W)
    assert bad.value == pytest.approx(0.048)
    assert bad.p_value is not None and bad.p_value < 1e-6
    good = error_rate_gate(
        obs(RouteObservations(requests=5000, errors=10), RouteObservations(requests=1000, errors=2)), T
    )
    assert good.verdict is Verdict.PASS
    few = error_rate_gate(obs(RouteObservations(requests=5000), RouteObservations(requests=20, errors=20)), T)
    assert (few.verdict, few.value) == (Verdict.NO_DATA, None)
    unsure = error_rate_gate(
        obs(RouteObservations(requests=5000, errors=10), RouteObservations(requests=300, errors=3)), T
    )
    assert unsure.verdict is Verdict.INCONCLUSIVE


def test_latency_gate_fails_on_added_latency_and_passes_the_same_distribution() -> None:
    rng = np.random.default_rng(0)
    base = tuple(10 + rng.lognormal(2, 0.5, 5000))
    same = tuple(10 + rng.lognormal(2, 0.5, 2000))
    slow = tuple(60 + rng.lognormal(2, 0.5, 2000))
    assert (
        p99_latency_gate(
            obs(RouteObservations(latencies_ms=base), RouteObservations(latencies_ms=same)), T
        ).verdict
        is Verdict.PASS
    )
    slow_result = p99_latency_gate(
        obs(RouteObservations(latencies_ms=base), RouteObservations(latencies_ms=slow)), T
    )
    assert slow_result.verdict is Verdict.FAIL and slow_result.value == pytest.approx(50, abs=8)


def test_prediction_shift_uses_the_drift_detector_for_scores_and_classes() -> None:
    rng = np.random.default_rng(1)
    p = tuple(rng.beta(2, 5, 3000))
    assert (
        prediction_shift_gate(
            obs(RouteObservations(predictions=p), RouteObservations(predictions=tuple(rng.beta(2, 5, 1000)))),
            T,
        ).verdict
        is Verdict.PASS
    )
    shifted = tuple(np.clip(rng.beta(2, 5, 1000) + 0.2, 0, 1))
    result = prediction_shift_gate(
        obs(RouteObservations(predictions=p), RouteObservations(predictions=shifted)), T
    )
    assert result.verdict is Verdict.FAIL and result.value is not None and result.value > result.threshold
    labels = tuple(rng.choice(["a", "b"], 1000, p=[0.5, 0.5]))
    other = tuple(rng.choice(["a", "b"], 1000, p=[0.9, 0.1]))
    assert (
        prediction_shift_gate(
            obs(RouteObservations(predictions=labels), RouteObservations(predictions=other)), T
        ).verdict
        is Verdict.FAIL
    )


def test_atypical_flags_gate() -> None:
    result = atypical_inputs_gate(
        obs(
            RouteObservations(requests=5000, atypical_flags=50),
            RouteObservations(requests=1000, atypical_flags=100),
        ),
        T,
    )
    assert result.verdict is Verdict.FAIL


@pytest.mark.parametrize("metric", list(OnlineMetric))
def test_online_metric_gate_detects_a_worse_model(metric: OnlineMetric) -> None:
    rng = np.random.default_rng(2)
    t = GateThresholds(metric=metric)

    def outcomes(noise: float, n: int) -> tuple[Outcome, ...]:
        y = rng.integers(0, 2, n)
        if metric is OnlineMetric.RMSE:
            return tuple(Outcome(prediction=float(v + rng.normal(0, noise)), label=float(v)) for v in y)
        score = np.clip(y * 0.6 + 0.2 + rng.normal(0, noise, n), 0, 1)
        pred = (score >= 0.5).astype(int) if metric is OnlineMetric.ACCURACY else score
        return tuple(Outcome(prediction=p.item(), label=int(v)) for p, v in zip(pred, y, strict=True))

    good = online_metric_gate(
        obs(RouteObservations(outcomes=outcomes(0.2, 3000)), RouteObservations(outcomes=outcomes(0.2, 2000))),
        t,
    )
    bad = online_metric_gate(
        obs(RouteObservations(outcomes=outcomes(0.2, 3000)), RouteObservations(outcomes=outcomes(0.6, 2000))),
        t,
    )
    few = online_metric_gate(
        obs(RouteObservations(outcomes=outcomes(0.2, 3000)), RouteObservations(outcomes=outcomes(0.2, 10))), t
    )
    assert good is not None and bad is not None and few is not None
    assert (good.verdict, bad.verdict, few.verdict) == (Verdict.PASS, Verdict.FAIL, Verdict.NO_DATA)
    assert online_metric_gate(obs(RouteObservations(), RouteObservations()), T) is None  # no metric: no gate


def test_analysis_verdict_is_the_worst_gate_and_never_a_silent_pass() -> None:
    empty = analyze_canary(obs(RouteObservations(), RouteObservations()), T)
    assert empty.verdict is Verdict.NO_DATA
    assert {g.gate for g in empty.gates} == {
        "error_rate",
        "p99_latency",
        "prediction_shift",
        "atypical_inputs",
    }
    failing = analyze_canary(
        obs(RouteObservations(requests=5000, errors=10), RouteObservations(requests=1000, errors=90)), T
    )
    assert failing.verdict is Verdict.FAIL and [g.gate for g in failing.failed()] == ["error_rate"]


def test_shadow_agreement_and_output_drift() -> None:
    rng = np.random.default_rng(4)
    primary = rng.beta(2, 5, 1000)
    agreeing = RouteObservations(mirrored=tuple(zip(primary.tolist(), primary.tolist(), strict=True)))
    report = compare_shadow(obs(RouteObservations(), RouteObservations(), s=agreeing), "s", T)
    assert [(g.gate, g.verdict) for g in report.gates] == [
        ("agreement", Verdict.PASS),
        ("output_drift", Verdict.PASS),
    ]
    differing = RouteObservations(
        mirrored=tuple(zip(primary.tolist(), np.clip(primary + 0.3, 0, 1).tolist(), strict=True))
    )
    report = compare_shadow(obs(RouteObservations(), RouteObservations(), s=differing), "s", T)
    assert [g.verdict for g in report.gates] == [Verdict.FAIL, Verdict.FAIL]
    assert report.gates[0].value == 0.0


BOUNDS = (
    5.0,
    10.0,
    15.0,
    20.0,
    25.0,
    30.0,
    40.0,
    50.0,
    75.0,
    100.0,
    150.0,
    200.0,
    300.0,
    500.0,
    float("inf"),
)


def histogram(latencies: np.ndarray) -> tuple[tuple[float, int], ...]:
    return tuple((b, int((latencies <= b).sum())) for b in BOUNDS)


def test_latency_gate_reads_prometheus_style_histograms() -> None:
    rng = np.random.default_rng(5)
    base = histogram(10 + rng.lognormal(2, 0.5, 20_000))
    same = histogram(10 + rng.lognormal(2, 0.5, 3_000))
    slow = histogram(60 + rng.lognormal(2, 0.5, 3_000))
    ok = p99_latency_gate(
        obs(RouteObservations(latency_histogram=base), RouteObservations(latency_histogram=same)), T
    )
    assert ok.verdict is Verdict.PASS and "histograms" in ok.detail and ok.canary_n == 3000
    bad = p99_latency_gate(
        obs(RouteObservations(latency_histogram=base), RouteObservations(latency_histogram=slow)), T
    )
    assert bad.verdict is Verdict.FAIL and bad.value is not None and bad.value > 30
    with pytest.raises(InvalidInput, match="cumulative"):
        RouteObservations(latency_histogram=((10.0, 5), (5.0, 6)))


def scored_outcomes(
    rng: np.random.Generator, n: int, *, worse_ranks: bool, labels: tuple[str, str] = ("no", "yes")
) -> tuple[Outcome, ...]:
    """A binary classifier's labelled rows: hard labels from ``score >= 0.5``, scores in ``(0, 1)``.

    ``worse_ranks`` keeps every hard label but shuffles the scores within each predicted class,
    so the ordering (what AUC measures) degrades while the labels (what accuracy sees) do not.
    """
    y = rng.integers(0, 2, n)
    score = np.clip(y * 0.5 + 0.25 + rng.normal(0, 0.15, n), 0.001, 0.999)
    hard = score >= 0.5
    if worse_ranks:
        for side in (hard, ~hard):
            score[side] = rng.permutation(score[side])
    return tuple(
        Outcome(prediction=labels[int(h)], label=labels[int(v)], score=float(s), positive=labels[1])
        for h, v, s in zip(hard, y, score, strict=True)
    )


def test_auc_ranks_the_scores_and_sees_a_worse_ordering_with_the_same_hard_labels() -> None:
    auc, accuracy = GateThresholds(metric=OnlineMetric.AUC), GateThresholds(metric=OnlineMetric.ACCURACY)
    primary = RouteObservations(outcomes=scored_outcomes(np.random.default_rng(1), 3000, worse_ranks=False))
    equal = RouteObservations(outcomes=scored_outcomes(np.random.default_rng(2), 2000, worse_ranks=False))
    shuffled = RouteObservations(outcomes=scored_outcomes(np.random.default_rng(2), 2000, worse_ranks=True))
    assert [o.prediction for o in equal.outcomes] == [o.prediction for o in shuffled.outcomes]  # same labels

    passed = online_metric_gate(obs(primary, equal), auc)
    failed = online_metric_gate(obs(primary, shuffled), auc)
    assert passed is not None and passed.verdict is Verdict.PASS, passed
    assert failed is not None and failed.verdict is Verdict.FAIL, failed
    assert failed.value is not None and failed.value > auc.max_metric_degradation  # beyond the tolerance
    # the hard labels cannot tell the two canaries apart: accuracy passes both
    blind = online_metric_gate(obs(primary, shuffled), accuracy)
    assert blind is not None and blind.verdict is Verdict.PASS
    # nor could AUC on the hard labels: both canaries give the very same value
    unscored = [
        RouteObservations(
            outcomes=tuple(
                Outcome(prediction=float(o.prediction == "yes"), label=float(o.label == "yes"))
                for o in r.outcomes
            )
        )
        for r in (primary, equal, shuffled)
    ]
    hard_equal = online_metric_gate(obs(unscored[0], unscored[1]), auc)
    hard_shuffled = online_metric_gate(obs(unscored[0], unscored[2]), auc)
    assert hard_equal is not None and hard_shuffled is not None
    assert hard_equal.value == hard_shuffled.value


def test_auc_is_refused_with_a_reason_for_multiclass_unscored_or_mixed_routes() -> None:
    auc = GateThresholds(metric=OnlineMetric.AUC)
    rng = np.random.default_rng(3)
    three = tuple(Outcome(prediction=str(c), label=str(c)) for c in rng.integers(0, 3, 200))
    multiclass = online_metric_gate(
        obs(RouteObservations(outcomes=three), RouteObservations(outcomes=three)), auc
    )
    assert multiclass is not None and multiclass.verdict is Verdict.INCONCLUSIVE
    assert "3 classes" in multiclass.detail and "accuracy" in multiclass.detail

    scored = RouteObservations(outcomes=scored_outcomes(rng, 200, worse_ranks=False))
    unscored = RouteObservations(
        outcomes=tuple(Outcome(prediction=o.prediction, label=o.label) for o in scored.outcomes)
    )
    mixed = online_metric_gate(obs(scored, unscored), auc)
    assert mixed is not None and mixed.verdict is Verdict.INCONCLUSIVE
    assert "the canary's model gives no positive-class probability" in mixed.detail
    classes_only = online_metric_gate(obs(unscored, unscored), auc)
    assert classes_only is not None and classes_only.verdict is Verdict.INCONCLUSIVE
    assert "auc needs scores" in classes_only.detail
