"""Release gates: canary vs primary over one window, each ending in pass | fail | inconclusive | no-data.

Every gate compares the canary with the primary over the *same* window, in the direction that
is worse for the canary, against a tolerance:

- ``fail`` needs evidence: one-sided tests significant at ``alpha`` that the canary is worse, and
  worse by more than the tolerance (for the latency gate: a Mann-Whitney shift and a p99 beyond it);
- ``pass`` needs evidence too: the ``confidence`` bound of the difference within the tolerance;
- ``no-data`` when a side has fewer samples than the minimum; ``inconclusive`` otherwise.

Gates: ``error_rate`` and ``p99_latency`` (software), ``prediction_shift`` (the data-validation
drift detector, its calibrated comparator: a significance test at ``alpha`` and an effect floor,
over the two prediction samples), ``atypical_inputs`` and ``online_metric``
(accuracy / AUC / RMSE from labelled outcomes). Shadows are compared with the primary by
agreement rate and output drift (:func:`compare_shadow`), reported, never acted upon.

Example:
    >>> from loopml.deploy.observations import Observations, RouteObservations, Window
    >>> obs = Observations(window=Window(start_ms=0, end_ms=1), routes={
    ...     "primary": RouteObservations(requests=5000, errors=5),
    ...     "canary": RouteObservations(requests=1000, errors=80)})
    >>> error_rate_gate(obs, GateThresholds()).verdict
    <Verdict.FAIL: 'fail'>
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy import stats

from loopml.data.compute import compute_statistics
from loopml.data.drift import Comparator, ComparatorType, compare
from loopml.deploy.observations import Observations, RouteObservations, Window
from loopml.deploy.policy import GateThresholds, OnlineMetric

__all__ = [
    "Analysis",
    "GateResult",
    "ShadowReport",
    "Verdict",
    "analyze_canary",
    "compare_shadow",
    "error_rate_gate",
]


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NO_DATA = "no-data"


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    """One gate's verdict with its evidence.

    Attributes:
        gate: ``error_rate``, ``p99_latency``, ``prediction_shift``, ``atypical_inputs``, ``online_metric``,
            ``agreement`` or ``output_drift``.
        value: The measured difference (canary worse when positive), or the distance / rate.
        threshold: What was tolerated.
        primary_n: Samples on the primary side; canary_n: on the canary (or shadow) side.
        p_value: The one-sided test's p-value, where a test applies.
        detail: One human sentence.
    """

    gate: str
    verdict: Verdict
    value: float | None
    threshold: float
    primary_n: int
    canary_n: int
    window: Window
    p_value: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Analysis:
    """All gates of one analysis; its verdict is the worst of them (fail > inconclusive > no-data > pass)."""

    window: Window
    gates: tuple[GateResult, ...]

    @property
    def verdict(self) -> Verdict:
        verdicts = {g.verdict for g in self.gates}
        for v in (Verdict.FAIL, Verdict.INCONCLUSIVE, Verdict.NO_DATA):
            if v in verdicts:
                return v
        return Verdict.PASS if verdicts else Verdict.NO_DATA

    def failed(self) -> tuple[GateResult, ...]:
        return tuple(g for g in self.gates if g.verdict is Verdict.FAIL)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShadowReport:
    """How a shadow compares with the primary: agreement rate and output drift."""

    shadow: str
    gates: tuple[GateResult, ...]


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(confidence))


def _decide(*, diff: float, se: float, p_value: float, tolerance: float, t: GateThresholds) -> Verdict:
    """Fail when worse than tolerated at ``alpha`` (H0: diff <= tolerance); pass when the bound is within."""
    beyond = float(stats.norm.sf((diff - tolerance) / se)) if se > 0 else (0.0 if diff > tolerance else 1.0)
    if p_value < t.alpha and beyond < t.alpha:
        return Verdict.FAIL
    if diff + _z(t.confidence) * se <= tolerance:
        return Verdict.PASS
    return Verdict.INCONCLUSIVE


def _proportion_gate(
    gate: str,
    *,
    bad_c: int,
    n_c: int,
    bad_p: int,
    n_p: int,
    minimum: int,
    tolerance: float,
    window: Window,
    t: GateThresholds,
) -> GateResult:
    """Canary's share of bad events minus the primary's: pooled z-test, Agresti-Caffo bound."""
    base = {"gate": gate, "threshold": tolerance, "primary_n": n_p, "canary_n": n_c, "window": window}
    if n_c < minimum or n_p < minimum:
        detail = f"needs {minimum} samples per route; got primary {n_p}, canary {n_c}"
        return GateResult(verdict=Verdict.NO_DATA, value=None, detail=detail, **base)  # type: ignore[arg-type]
    diff = bad_c / n_c - bad_p / n_p
    pooled = (bad_c + bad_p) / (n_c + n_p)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_p))
    p_value = float(stats.norm.sf(diff / se0)) if se0 > 0 else 1.0
    ac, ap = (bad_c + 1) / (n_c + 2), (bad_p + 1) / (n_p + 2)
    se = math.sqrt(ac * (1 - ac) / (n_c + 2) + ap * (1 - ap) / (n_p + 2))
    verdict = _decide(diff=ac - ap, se=se, p_value=p_value, tolerance=tolerance, t=t)
    if verdict is Verdict.FAIL:
        verdict = verdict if diff > tolerance else Verdict.INCONCLUSIVE
    detail = f"canary {bad_c}/{n_c} vs primary {bad_p}/{n_p}; increase {diff:+.4f} (tolerated {tolerance})"
    return GateResult(verdict=verdict, value=diff, p_value=p_value, detail=detail, **base)  # type: ignore[arg-type]


def error_rate_gate(obs: Observations, t: GateThresholds) -> GateResult:
    """Error rate of the canary vs the primary."""
    c, p = obs.route("canary"), obs.route("primary")
    return _proportion_gate(
        "error_rate",
        bad_c=c.errors,
        n_c=c.requests,
        bad_p=p.errors,
        n_p=p.requests,
        minimum=t.min_samples,
        tolerance=t.max_error_rate_increase,
        window=obs.window,
        t=t,
    )


def atypical_inputs_gate(obs: Observations, t: GateThresholds) -> GateResult:
    """Share of requests flagged atypical on the canary vs the primary."""
    c, p = obs.route("canary"), obs.route("primary")
    return _proportion_gate(
        "atypical_inputs",
        bad_c=c.atypical_flags,
        n_c=c.requests,
        bad_p=p.atypical_flags,
        n_p=p.requests,
        minimum=t.min_samples,
        tolerance=t.max_atypical_increase,
        window=obs.window,
        t=t,
    )


def _order_stat(sorted_values: np.ndarray, q: float, confidence: float, *, upper: bool) -> float:
    """A distribution-free confidence bound of the ``q`` quantile (binomial order statistic)."""
    n = len(sorted_values)
    level = confidence if upper else 1 - confidence
    index = int(stats.binom.ppf(level, n, q)) - (0 if upper else 1)
    return float(sorted_values[min(max(index, 0), n - 1)])


def _hist_value(hist: Sequence[tuple[float, int]], rank: float) -> float:
    """The latency at ``rank`` (0-based, fractional) of a cumulative histogram, linear within a bucket."""
    lower, below = 0.0, 0
    for bound, cumulative in hist:
        if cumulative > rank:
            if math.isinf(bound):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * (rank - below + 1) / inside if inside else bound
        lower, below = bound, cumulative
    return lower


def _p99_from_histograms(
    c: Sequence[tuple[float, int]], p: Sequence[tuple[float, int]], t: GateThresholds
) -> tuple[float, float, float, float]:
    """(canary p99, primary p99, p-value, upper bound of the difference) from two histograms."""
    n_c, n_p = c[-1][1], p[-1][1]
    p99_c, p99_p = _hist_value(c, 0.99 * n_c - 1), _hist_value(p, 0.99 * n_p - 1)
    bound = next((b for b, _ in p if b >= p99_p and not math.isinf(b)), None)
    p_value = 1.0
    if bound is not None:  # share of requests slower than the primary's p99 bucket, canary vs primary
        slow_c = n_c - max((k for b, k in c if b <= bound), default=0)
        slow_p = n_p - max((k for b, k in p if b <= bound), default=0)
        pooled = (slow_c + slow_p) / (n_c + n_p)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_p))
        p_value = float(stats.norm.sf((slow_c / n_c - slow_p / n_p) / se)) if se > 0 else 1.0
    hi = _hist_value(c, float(stats.binom.ppf(t.confidence, n_c, 0.99)))
    lo = _hist_value(p, float(stats.binom.ppf(1 - t.confidence, n_p, 0.99)) - 1)
    return p99_c, p99_p, p_value, hi - lo


def p99_latency_gate(obs: Observations, t: GateThresholds) -> GateResult:
    """p99 latency of the canary vs the primary.

    From latency samples: a Mann-Whitney test and order-statistic bounds. From histograms (when
    a route has no samples): the share of requests slower than the primary's p99 bucket, and
    the same bounds read from the cumulative counts.
    """
    rc, rp = obs.route("canary"), obs.route("primary")
    c = np.sort(np.asarray(rc.latencies_ms, dtype=float))
    p = np.sort(np.asarray(rp.latencies_ms, dtype=float))
    from_hist = (len(c) == 0 or len(p) == 0) and bool(rc.latency_histogram) and bool(rp.latency_histogram)
    n_c = rc.latency_histogram[-1][1] if from_hist else len(c)
    n_p = rp.latency_histogram[-1][1] if from_hist else len(p)
    tol = t.max_p99_increase_ms
    base = {"gate": "p99_latency", "threshold": tol, "primary_n": n_p, "canary_n": n_c, "window": obs.window}
    if n_c < t.min_samples or n_p < t.min_samples:
        detail = f"needs {t.min_samples} latencies per route; got primary {n_p}, canary {n_c}"
        return GateResult(verdict=Verdict.NO_DATA, value=None, detail=detail, **base)  # type: ignore[arg-type]
    if from_hist:
        p99_c, p99_p, p_value, upper = _p99_from_histograms(rc.latency_histogram, rp.latency_histogram, t)
    else:
        p99_c, p99_p = float(np.quantile(c, 0.99)), float(np.quantile(p, 0.99))
        p_value = float(stats.mannwhitneyu(c, p, alternative="greater").pvalue)
        upper = _order_stat(c, 0.99, t.confidence, upper=True) - _order_stat(
            p, 0.99, t.confidence, upper=False
        )
    diff = p99_c - p99_p
    if p_value < t.alpha and diff > tol:
        verdict = Verdict.FAIL
    elif upper <= tol:
        verdict = Verdict.PASS
    else:
        verdict = Verdict.INCONCLUSIVE
    detail = f"p99 canary {p99_c:.1f} ms vs primary {p99_p:.1f} ms" + (" (histograms)" if from_hist else "")
    return GateResult(verdict=verdict, value=diff, p_value=p_value, detail=detail, **base)  # type: ignore[arg-type]


def _statistics_of(values: Sequence[float | str]) -> pa.Table:
    """Numbers stay numeric (scores, values); anything else is compared as categories."""
    try:
        array = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        array = pa.array([str(v) for v in values], type=pa.string())
    if pa.types.is_integer(array.type) or pa.types.is_floating(array.type):
        array = array.cast(pa.float64())
    elif not pa.types.is_string(array.type):
        array = pa.array([str(v) for v in values], type=pa.string())
    return pa.table({"prediction": array})


def _shift_gate(
    gate: str,
    current: Sequence[float | str],
    baseline: Sequence[float | str],
    *,
    window: Window,
    t: GateThresholds,
) -> GateResult:
    """The calibrated drift comparator of data validation over two prediction samples.

    Pass means "no significant shift beyond the effect floor": the comparator's false-alarm rate
    is calibrated at ``alpha`` for any sample size, so a pass needs no separate bound.
    """
    base = {
        "gate": gate,
        "threshold": t.max_prediction_drift,
        "primary_n": len(baseline),
        "canary_n": len(current),
        "window": window,
    }
    if len(current) < t.min_samples or len(baseline) < t.min_samples:
        detail = f"needs {t.min_samples} predictions per route; got {len(baseline)} and {len(current)}"
        return GateResult(verdict=Verdict.NO_DATA, value=None, detail=detail, **base)  # type: ignore[arg-type]
    cur_table, base_table = _statistics_of(current), _statistics_of(baseline)
    if cur_table.schema != base_table.schema:
        detail = "the two routes answer different kinds of output (numbers vs labels)"
        return GateResult(verdict=Verdict.FAIL, value=1.0, detail=detail, **base)  # type: ignore[arg-type]
    cur = compute_statistics(cur_table, max_workers=1).get_feature("prediction")
    ref = compute_statistics(base_table, max_workers=1).get_feature("prediction")
    comparator = Comparator(type=ComparatorType.CALIBRATED, threshold=t.max_prediction_drift, alpha=t.alpha)
    info = compare(cur, ref, comparator, comparison="drift")
    verdict = Verdict.FAIL if info.is_anomalous else Verdict.PASS
    measure = "Jensen-Shannon" if cur.num_stats is not None else "L-infinity"
    detail = f"{measure} {info.value:.4f} (effect floor {info.effective_threshold:.4f}), p = {info.p_value}"
    base["threshold"] = info.effective_threshold
    return GateResult(verdict=verdict, value=info.value, p_value=info.p_value, detail=detail, **base)  # type: ignore[arg-type]


def prediction_shift_gate(obs: Observations, t: GateThresholds) -> GateResult:
    """Distribution of the canary's predictions vs the primary's."""
    return _shift_gate(
        "prediction_shift",
        obs.route("canary").predictions,
        obs.route("primary").predictions,
        window=obs.window,
        t=t,
    )


def _metric(route: RouteObservations, metric: OnlineMetric) -> tuple[float, float, int]:
    """(metric value, its standard error, samples); lower is better only for RMSE."""
    outcomes = route.outcomes
    n = len(outcomes)
    if metric is OnlineMetric.ACCURACY:
        acc = sum(o.prediction == o.label or str(o.prediction) == str(o.label) for o in outcomes) / n
        return acc, math.sqrt(max(acc * (1 - acc), 1 / n) / n), n
    if metric is OnlineMetric.RMSE:
        pred = np.asarray([float(o.prediction) for o in outcomes])
        sq = (pred - np.asarray([float(o.label) for o in outcomes])) ** 2
        rmse = float(math.sqrt(sq.mean()))
        se_mse = float(sq.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
        return rmse, se_mse / (2 * rmse) if rmse > 0 else se_mse, n
    if all(o.score is not None for o in outcomes):
        pred = np.asarray([o.score for o in outcomes], dtype=np.float64)
        positive = np.asarray([_same(o.label, o.positive) for o in outcomes])
    else:  # numeric predictions used as scores (a regressor-like score output, or hard 0/1 labels)
        pred = np.asarray([float(o.prediction) for o in outcomes])
        positive = np.asarray([float(o.label) > 0.5 for o in outcomes])
    pos, neg = pred[positive], pred[~positive]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan, math.inf, n
    ranks = stats.rankdata(np.concatenate([pos, neg]))
    auc = float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)  # Hanley & McNeil (1982)
    var = (auc * (1 - auc) + (len(pos) - 1) * (q1 - auc**2) + (len(neg) - 1) * (q2 - auc**2)) / (
        len(pos) * len(neg)
    )
    return auc, math.sqrt(max(var, 1e-12)), n


def _same(label: float | str, positive: float | str | None) -> bool:
    """Whether ``label`` names the ``positive`` class (``1`` and ``1.0`` and ``"1"`` alike)."""
    if positive is None:
        return False
    if label == positive or str(label) == str(positive):
        return True
    try:
        return float(label) == float(positive)
    except (TypeError, ValueError):
        return False


def _auc_refusal(c: RouteObservations, p: RouteObservations) -> str | None:
    """Why AUC cannot compare these routes' outcomes (None: it can).

    AUC ranks a binary classifier's positive-class scores. Both routes must carry scores, or
    neither (then numeric predictions are ranked as they are); more than two label classes
    (a multi-class model) or non-numeric predictions without scores have no single ranking.
    """
    routes = (("canary", c), ("primary", p))
    scored = {name: all(o.score is not None for o in r.outcomes) for name, r in routes}
    if scored["canary"] != scored["primary"]:
        unscored = next(name for name, has in scored.items() if not has)
        return (
            f"auc needs the same kind of scores on both routes: the {unscored}'s model gives no "
            "positive-class probability (a binary classifier with predict_proba gives one); "
            "use metric accuracy to compare these routes"
        )
    classes = {str(o.label) for r in (c, p) for o in r.outcomes}
    if len(classes) > 2:
        return (
            f"auc is for binary classifiers; the labels hold {len(classes)} classes: use metric "
            "accuracy for a multi-class model"
        )
    if not scored["canary"]:
        for o in (*c.outcomes, *p.outcomes):
            try:
                float(o.prediction), float(o.label)
            except (TypeError, ValueError):
                return (
                    f"auc needs scores: the routes answer class {o.prediction!r} without a "
                    "positive-class probability; use metric accuracy"
                )
    return None


def online_metric_gate(obs: Observations, t: GateThresholds) -> GateResult | None:
    """Online metric of the canary vs the primary from labelled outcomes (None when no metric is set)."""
    if t.metric is None:
        return None
    c, p = obs.route("canary"), obs.route("primary")
    tol = t.max_metric_degradation
    base = {
        "gate": "online_metric",
        "threshold": tol,
        "primary_n": len(p.outcomes),
        "canary_n": len(c.outcomes),
        "window": obs.window,
    }
    if len(c.outcomes) < t.min_labels or len(p.outcomes) < t.min_labels:
        detail = (
            f"needs {t.min_labels} labels per route; got primary {len(p.outcomes)}, canary {len(c.outcomes)}"
        )
        return GateResult(verdict=Verdict.NO_DATA, value=None, detail=detail, **base)  # type: ignore[arg-type]
    if t.metric is OnlineMetric.AUC and (refusal := _auc_refusal(c, p)) is not None:
        return GateResult(verdict=Verdict.INCONCLUSIVE, value=None, detail=refusal, **base)  # type: ignore[arg-type]
    mc, sc, _ = _metric(c, t.metric)
    mp, sp, _ = _metric(p, t.metric)
    if math.isnan(mc) or math.isnan(mp):
        detail = f"{t.metric.value} needs both classes among the labels"
        return GateResult(verdict=Verdict.INCONCLUSIVE, value=None, detail=detail, **base)  # type: ignore[arg-type]
    diff = (mc - mp) if t.metric is OnlineMetric.RMSE else (mp - mc)  # degradation of the canary
    se = math.sqrt(sc**2 + sp**2)
    p_value = float(stats.norm.sf(diff / se)) if se > 0 else (0.0 if diff > 0 else 1.0)
    verdict = _decide(diff=diff, se=se, p_value=p_value, tolerance=tol, t=t)
    half = _z(t.confidence) * se
    detail = f"{t.metric.value} canary {mc:.4f} vs primary {mp:.4f}; degradation {diff:+.4f} ± {half:.4f}"
    return GateResult(verdict=verdict, value=diff, p_value=p_value, detail=detail, **base)  # type: ignore[arg-type]


def analyze_canary(obs: Observations, thresholds: GateThresholds) -> Analysis:
    """Run every gate on the canary vs the primary over ``obs.window``."""
    gates = [
        error_rate_gate(obs, thresholds),
        p99_latency_gate(obs, thresholds),
        prediction_shift_gate(obs, thresholds),
        atypical_inputs_gate(obs, thresholds),
    ]
    metric = online_metric_gate(obs, thresholds)
    if metric is not None:
        gates.append(metric)
    return Analysis(window=obs.window, gates=tuple(gates))


def _agree(a: float | str, b: float | str, tolerance: float) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return abs(float(a) - float(b)) <= tolerance


def compare_shadow(
    obs: Observations, shadow: str, thresholds: GateThresholds, *, tolerance: float = 1e-6
) -> ShadowReport:
    """Agreement rate (outputs equal within ``tolerance``) and output drift of a shadow vs the primary."""
    route = obs.route(shadow)
    pairs = route.mirrored
    base = {
        "gate": "agreement",
        "threshold": thresholds.min_shadow_agreement,
        "primary_n": len(pairs),
        "canary_n": len(pairs),
        "window": obs.window,
    }
    if len(pairs) < thresholds.min_samples:
        detail = f"needs {thresholds.min_samples} mirrored requests; got {len(pairs)}"
        agreement = GateResult(verdict=Verdict.NO_DATA, value=None, detail=detail, **base)  # type: ignore[arg-type]
    else:
        rate = sum(_agree(a, b, tolerance) for a, b in pairs) / len(pairs)
        ok = rate >= thresholds.min_shadow_agreement
        agreement = GateResult(
            verdict=Verdict.PASS if ok else Verdict.FAIL,
            value=rate,
            detail=f"agrees with the primary on {rate:.2%} of {len(pairs)} mirrored requests",
            **base,  # type: ignore[arg-type]
        )
    drift = _shift_gate(
        "output_drift", [b for _, b in pairs], [a for a, _ in pairs], window=obs.window, t=thresholds
    )
    return ShadowReport(shadow=shadow, gates=(agreement, drift))
