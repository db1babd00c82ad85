"""Drift (span vs previous span) and skew (serving vs training) distances between two statistics.

Comparators:

- ``calibrated`` (the default of inferred schemas) — a magnitude and its significance at the two
  sample sizes (:mod:`loopml.data._calibrated`: Pearson chi-square over pooled-quantile bins for
  numeric features, over values for categorical ones, with sketch error accounted for). It alarms
  when ``p_value < alpha`` **and** the magnitude exceeds ``threshold``, the effect floor: L-infinity
  over the test's cells for categorical features (default floor :data:`CATEGORICAL_EFFECT_FLOOR`),
  Jensen-Shannon divergence over the pooled deciles for numeric ones (default
  :data:`NUMERIC_EFFECT_FLOOR`). With ``alpha`` = :data:`DEFAULT_ALPHA`, two samples of one
  distribution alarm on at most ``alpha`` of comparisons at any window size (``benchmarks/
  drift_calibration.py`` prints the measured rates).
- ``l_infinity`` — TFDV's L-infinity (Chebyshev) distance for categorical features: each side's
  ``rank_histogram`` (its top 1,000 values) is normalised by that side's own top-1,000 total; the
  distance is the largest absolute difference of normalised frequencies over the union of values
  (a value absent on one side counts 0 there). Ties go to the lexicographically smallest value.
  On two numeric features it is 0, as in TFDV. The default method (``quantile``) compares it with
  ``max(threshold, NOISE_SAFETY·sqrt(p(1-p)(1/n+1/m)))``; ``method: tfdv`` (and schemas imported
  from TFDV) with the threshold alone, as TFDV does.
- ``jensen_shannon`` — Jensen-Shannon divergence, log base 2 (0 = identical, 1 = disjoint).
  The effective threshold is ``max(threshold, NOISE_SAFETY·sqrt(p(1-p)(1/n+1/m)))``, so sampling
  noise between two samples of one distribution does not alarm; the reported value is TFDV's.
  ``method: tfdv`` follows TFDV: both sides' STANDARD equal-width histograms re-bucketed (mass spread
  uniformly within a bucket) onto the union of their edges. The default method (``quantile``)
  instead bins both sides on the baseline's deciles, read from the baseline's quantile summary, with
  each side's mass per bin taken from its own sketch's CDF; and it compares against an *effective
  threshold* ``max(threshold, noise floor)``. The floor is the expected JSD of two samples of sizes
  ``n`` and ``m`` from one distribution over ``k`` bins, ``(k-1)(1/n+1/m)/(8 ln 2)``, plus the
  summary rank-error term, times :data:`NOISE_SAFETY`. Skewed or discrete features thus do not alarm on
  identical distributions (bins follow the mass), and small samples do not alarm on noise.
- ``psi`` — population stability index on the same bins (natural log, ε-smoothed).
- ``ks`` — Kolmogorov-Smirnov statistic ``max |F_a - F_b|`` from the two summaries' CDFs.
- ``wasserstein`` — first Wasserstein distance from the summaries' quantile functions, divided by the
  baseline's standard deviation.

Example:
    >>> from loopml.data.statistics import StringStatistics, RankBucket
    >>> def cat(counts):
    ...     rh = tuple(RankBucket(low_rank=i, high_rank=i, label=v, sample_count=c)
    ...                for i, (v, c) in enumerate(counts.items()))
    ...     return StringStatistics(unique=len(rh), top_values=(), rank_histogram=rh, avg_length=1.0)
    >>> l_infinity(cat({"a": 3, "b": 1}), cat({"a": 1, "b": 1}))
    (0.25, 'a')
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from loopml.data._calibrated import Significance, categorical_test, jsd, numeric_test
from loopml.data._categorical import FREQ_EPSILON
from loopml.data._quantiles import QuantileSummary, read_summary
from loopml.data.statistics import (
    Bucket,
    FeatureStatistics,
    HistogramType,
    NumericStatistics,
    StringStatistics,
)
from loopml.errors import InvalidInput

__all__ = [
    "CATEGORICAL_EFFECT_FLOOR",
    "DEFAULT_ALPHA",
    "NOISE_SAFETY",
    "NUMERIC_EFFECT_FLOOR",
    "Comparator",
    "ComparatorType",
    "DriftSkewInfo",
    "compare",
    "jensen_shannon",
    "l_infinity",
]

NOISE_SAFETY = 4.0
DEFAULT_ALPHA = 0.002
"""False-alarm rate of the calibrated comparator per feature and comparison (two-sided)."""
CATEGORICAL_EFFECT_FLOOR = 0.01
"""Smallest L-infinity shift of a categorical feature the calibrated comparator reports."""
NUMERIC_EFFECT_FLOOR = 0.001
"""Smallest Jensen-Shannon divergence (pooled deciles) of a numeric feature it reports."""
QUANTILE_BINS = 10
_EPS = 1e-6


class ComparatorType(enum.StrEnum):
    """Distance used by a comparator (schema spelling)."""

    CALIBRATED = "calibrated"
    L_INFINITY = "l_infinity"
    JENSEN_SHANNON = "jensen_shannon"
    PSI = "psi"
    KS = "ks"
    WASSERSTEIN = "wasserstein"

    @property
    def report_name(self) -> str:
        """The name in ``drift_skew`` entries (TFDV spelling where TFDV has one)."""
        return _REPORT_NAMES[self]

    @property
    def anomaly_kind(self) -> str:
        """The anomaly kind raised when the distance is too high."""
        return f"COMPARATOR_{_REPORT_NAMES[self]}_HIGH"


_REPORT_NAMES = {
    ComparatorType.CALIBRATED: "CALIBRATED",
    ComparatorType.L_INFINITY: "L_INFTY",
    ComparatorType.JENSEN_SHANNON: "JENSEN_SHANNON_DIVERGENCE",
    ComparatorType.PSI: "PSI",
    ComparatorType.KS: "KS",
    ComparatorType.WASSERSTEIN: "NORMALIZED_WASSERSTEIN",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparator:
    """A drift or skew check of one feature: distance type, threshold, and JSD method.

    For ``calibrated``, ``threshold`` is the effect floor and ``alpha`` the false-alarm rate.
    """

    type: ComparatorType
    threshold: float
    method: str = "quantile"
    alpha: float = DEFAULT_ALPHA

    def __post_init__(self) -> None:
        if not (self.threshold >= 0 and math.isfinite(self.threshold)):
            raise InvalidInput(f"comparator threshold must be a finite number >= 0. Got {self.threshold!r}.")
        if not 0 < self.alpha < 1:
            raise InvalidInput(f"comparator alpha must be in (0, 1), e.g. 0.005. Got {self.alpha!r}.")
        if self.method not in ("quantile", "tfdv"):
            raise InvalidInput(f"comparator method must be 'quantile' or 'tfdv'. Got {self.method!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftSkewInfo:
    """One comparator run (fired or not), as in TFDV's ``DriftSkewInfo``, plus why it decided so.

    ``value`` is the magnitude (distance ``type``) and ``threshold`` the schema's threshold (the
    effect floor for ``calibrated``); ``effective_threshold`` is what ``value`` was compared with.
    ``p_value`` and ``alpha`` are set by the calibrated comparator (None otherwise); ``n_current``
    and ``n_baseline`` are the sample sizes compared; ``method`` says how the value was computed.
    """

    feature: str
    comparison: str
    type: str
    value: float
    threshold: float
    effective_threshold: float
    is_anomalous: bool
    method: str = ""
    arg_max: str | None = None
    note: str = ""
    p_value: float | None = None
    alpha: float | None = None
    n_current: int = 0
    n_baseline: int = 0


# --- categorical -----------------------------------------------------------------------------


def _normalised(stats: StringStatistics) -> dict[str, float]:
    freqs = stats.frequencies()
    total = sum(freqs.values())
    return {k: v / total for k, v in freqs.items()} if total else {}


def l_infinity(current: StringStatistics, baseline: StringStatistics) -> tuple[float, str | None]:
    """TFDV's L-infinity distance and the value where it is reached."""
    a, b = _normalised(current), _normalised(baseline)
    best, arg = 0.0, None
    for value in sorted(a.keys() | b.keys()):
        diff = abs(a.get(value, 0.0) - b.get(value, 0.0))
        if diff > best:
            best, arg = diff, value
    return best, arg


_jsd = jsd


def _noise_floor(bins: int, n: float, m: float, rank_error: float = 0.0) -> float:
    if n <= 0 or m <= 0:
        return 0.0
    sampling = (bins - 1) * (1 / n + 1 / m) / (8 * math.log(2))
    sketch = (bins - 1) * bins * rank_error**2 / (8 * math.log(2))
    return NOISE_SAFETY * (sampling + sketch)


def _l_infinity_floor(current: StringStatistics, baseline: StringStatistics) -> float:
    # Each frequency difference has standard deviation sqrt(p(1-p)(1/n+1/m)); NOISE_SAFETY of them.
    n = sum(current.frequencies().values())
    m = sum(baseline.frequencies().values())
    if n <= 0 or m <= 0:
        return 0.0
    a, b = _normalised(current), _normalised(baseline)
    p = max((a.get(k, 0.0) + b.get(k, 0.0)) / 2 for k in a.keys() | b.keys())
    return NOISE_SAFETY * math.sqrt(min(p, 0.5) * (1 - min(p, 0.5)) * (1 / n + 1 / m))


def _categorical_jsd(current: StringStatistics, baseline: StringStatistics) -> tuple[float, int]:
    a, b = current.frequencies(), baseline.frequencies()
    keys = sorted(a.keys() | b.keys())
    p = np.array([a.get(k, 0.0) for k in keys])
    q = np.array([b.get(k, 0.0) for k in keys])
    return _jsd(p, q), len(keys)


# --- numeric -----------------------------------------------------------------------------------


def _sketch(stats: NumericStatistics) -> QuantileSummary | None:
    raw = stats.sketch_bytes()
    return read_summary(raw) if raw else None


def _rank_error(sk: QuantileSummary) -> float:
    # A guaranteed (worst-case) bound; typical errors are about a third of it.
    return sk.rank_error / 3


def _quantile_masses(cur: QuantileSummary, base: QuantileSummary) -> tuple[np.ndarray, np.ndarray]:
    ranks = list(np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1])
    edges = sorted(set(float(x) for x in base.quantiles(ranks)))
    p = np.diff(np.append(cur.cdf(edges), 1.0), prepend=0.0)
    q = np.diff(np.append(base.cdf(edges), 1.0), prepend=0.0)
    return np.clip(p, 0, None), np.clip(q, 0, None)


def _rebucket(edges: np.ndarray, buckets: list[Bucket]) -> np.ndarray:
    """Counts of ``buckets`` (finite, non-point) spread uniformly over the cells of ``edges``."""
    out = np.zeros(len(edges) - 1)
    for b in buckets:
        lo = np.clip(edges[:-1], b.low_value, b.high_value)
        hi = np.clip(edges[1:], b.low_value, b.high_value)
        out += b.sample_count * (hi - lo) / (b.high_value - b.low_value)
    return out


def _tfdv_parts(stats: NumericStatistics) -> tuple[list[Bucket], dict[float, float], float, int]:
    """TFDV's split of a STANDARD histogram: ranges, point masses, infinite mass, NaN count."""
    hist = stats.histogram(HistogramType.STANDARD)
    ranges: list[Bucket] = []
    points: dict[float, float] = {}
    infinite = 0.0
    for b in hist.buckets if hist is not None else ():
        if not (math.isfinite(b.low_value) and math.isfinite(b.high_value)):
            infinite += b.sample_count
        elif b.low_value == b.high_value:
            points[b.low_value] = points.get(b.low_value, 0.0) + b.sample_count
        else:
            ranges.append(b)
    return ranges, points, infinite, hist.num_nan if hist is not None else 0


def _tfdv_jsd(current: NumericStatistics, baseline: NumericStatistics) -> float:
    """TFDV's JSD of two STANDARD histograms (its ``AlignHistograms``, then base-2 JSD capped at 1).

    Range buckets are re-bucketed on the union of both sides' edges (uniform within a bucket); point
    buckets are compared value by value; infinite buckets and NaN counts are added as cells that
    never match the other side (TFDV counts any ±inf or NaN mass as divergence).
    """
    r1, p1, inf1, nan1 = _tfdv_parts(current)
    r2, p2, inf2, nan2 = _tfdv_parts(baseline)
    e1 = {x for b in r1 for x in (b.low_value, b.high_value)}
    e2 = {x for b in r2 for x in (b.low_value, b.high_value)}
    if e1 == e2:
        c1 = [b.sample_count for b in r1]
        c2 = [b.sample_count for b in r2]
    else:
        grid = np.array(sorted(e1 | e2))
        c1, c2 = list(_rebucket(grid, r1)), list(_rebucket(grid, r2))
    for point in sorted(p1.keys() | p2.keys()):
        c1.append(p1.get(point, 0.0))
        c2.append(p2.get(point, 0.0))
    if inf1:
        c1.append(inf1)
        c2.append(0.0)
    if inf2:
        c1.append(0.0)
        c2.append(inf2)
    if nan1 > 0 or nan2 > 0:
        c1 += [0.0, float(nan1)]
        c2 += [float(nan2), 0.0]
    p, q = np.array(c1, dtype=np.float64), np.array(c2, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return 0.0 if p.sum() == q.sum() else 1.0
    return min(_jsd(p, q), 1.0)


def _psi(p: np.ndarray, q: np.ndarray) -> float:
    p = np.clip(p / max(p.sum(), _EPS), _EPS, None)
    q = np.clip(q / max(q.sum(), _EPS), _EPS, None)
    return float(np.sum((p - q) * np.log(p / q)))


def _ks(cur: QuantileSummary, base: QuantileSummary) -> float:
    ranks = list(np.linspace(0, 1, 201))
    points = sorted(
        set(float(x) for x in cur.quantiles(ranks)) | set(float(x) for x in base.quantiles(ranks))
    )
    fa = cur.cdf(points)
    fb = base.cdf(points)
    return float(np.max(np.abs(fa - fb)))


def _wasserstein(cur: QuantileSummary, base: QuantileSummary, scale: float) -> float:
    ranks = list((np.arange(1000) + 0.5) / 1000)
    qa = cur.quantiles(ranks)
    qb = base.quantiles(ranks)
    w = float(np.mean(np.abs(qa - qb)))
    return w / scale if scale > 0 else (0.0 if w == 0 else math.inf)


# --- dispatch ------------------------------------------------------------------------------------


def _info(
    feature: str,
    comparison: str,
    comparator: Comparator,
    value: float,
    floor: float,
    sizes: tuple[int, int],
    arg: str | None = None,
    note: str = "",
) -> DriftSkewInfo:
    effective = max(comparator.threshold, floor)
    tfdv_kinds = (ComparatorType.JENSEN_SHANNON, ComparatorType.L_INFINITY)
    method = comparator.method if comparator.type in tfdv_kinds else comparator.type.value
    return DriftSkewInfo(
        feature=feature,
        comparison=comparison,
        type=comparator.type.report_name,
        value=value,
        threshold=comparator.threshold,
        effective_threshold=effective,
        is_anomalous=value > effective,
        method=method,
        arg_max=arg,
        note=note,
        n_current=sizes[0],
        n_baseline=sizes[1],
    )


def _calibrated_info(
    feature: str,
    comparison: str,
    comparator: Comparator,
    result: Significance,
    *,
    distance: ComparatorType,
    cells: str,
    arg: str | None = None,
) -> DriftSkewInfo:
    error = f", sketch error {result.sketch_error:.2g} allowed" if result.sketch_error else ""
    return DriftSkewInfo(
        feature=feature,
        comparison=comparison,
        type=distance.report_name,
        value=result.magnitude,
        threshold=comparator.threshold,
        effective_threshold=comparator.threshold,
        is_anomalous=result.p_value < comparator.alpha and result.magnitude > comparator.threshold,
        method=f"calibrated: chi-square over {result.cells} {cells} ({result.dof} df){error}",
        arg_max=arg,
        p_value=result.p_value,
        alpha=comparator.alpha,
        n_current=result.n_current,
        n_baseline=result.n_baseline,
    )


def _largest_difference(current: StringStatistics, baseline: StringStatistics, n: int, m: int) -> str | None:
    a, b = current.frequencies(), baseline.frequencies()
    best, arg = 0.0, None
    for value in sorted(a.keys() & b.keys()):
        diff = abs(a[value] / n - b[value] / m)
        if diff > best:
            best, arg = diff, value
    return arg


def _calibrated(
    current: FeatureStatistics, baseline: FeatureStatistics, comparator: Comparator, comparison: str
) -> DriftSkewInfo:
    name = current.name
    cs, bs = current.string_stats, baseline.string_stats
    if cs is not None and bs is not None:
        n, m = current.num_non_missing, baseline.num_non_missing
        sizes = (n, m)
        if n == 0 or m == 0:
            value = 0.0 if n == m else 1.0
            return _info(name, comparison, comparator, value, 0.0, sizes, note="no values on one side")
        result = categorical_test(cs, bs, n, m, sketch_epsilon=FREQ_EPSILON)
        arg = _largest_difference(cs, bs, n, m)
        return _calibrated_info(
            name,
            comparison,
            comparator,
            result,
            distance=ComparatorType.L_INFINITY,
            cells="value cells",
            arg=arg,
        )
    cn, bn = current.num_stats, baseline.num_stats
    sizes = (current.num_non_missing, baseline.num_non_missing)
    if cn is None or bn is None:
        return _info(name, comparison, comparator, 1.0, 0.0, sizes, note="type changed: not comparable")
    cur, base = _sketch(cn), _sketch(bn)
    if cur is None or base is None:
        value = 0.0 if cur is None and base is None else 1.0
        return _info(name, comparison, comparator, value, 0.0, sizes, note="no finite values on one side")
    result = numeric_test(cur, base)
    return _calibrated_info(
        name,
        comparison,
        comparator,
        result,
        distance=ComparatorType.JENSEN_SHANNON,
        cells="pooled-quantile bins",
    )


def compare(
    current: FeatureStatistics, baseline: FeatureStatistics, comparator: Comparator, *, comparison: str
) -> DriftSkewInfo:
    """Run ``comparator`` on one feature of two statistics (``comparison`` is ``drift`` or ``skew``).

    A feature that is numeric on one side and categorical on the other is at distance 1 (the
    maximum of L-infinity and JSD) with a note; TFDV reports the type change as its own anomaly.
    """
    name, kind = current.name, comparator.type
    if kind is ComparatorType.CALIBRATED:
        return _calibrated(current, baseline, comparator, comparison)
    sizes = (current.num_non_missing, baseline.num_non_missing)
    cs, bs = current.string_stats, baseline.string_stats
    cn, bn = current.num_stats, baseline.num_stats
    if kind is ComparatorType.L_INFINITY and cn is not None and bn is not None:
        return _info(name, comparison, comparator, 0.0, 0.0, sizes)  # TFDV: L-inf of numeric features is 0
    if kind is ComparatorType.L_INFINITY or (cs is not None and bs is not None):
        if cs is None or bs is None:
            return _info(name, comparison, comparator, 1.0, 0.0, sizes, note="type changed: not comparable")
        if kind is ComparatorType.L_INFINITY:
            value, arg = l_infinity(cs, bs)
            floor = _l_infinity_floor(cs, bs) if comparator.method == "quantile" else 0.0
            return _info(name, comparison, comparator, value, floor, sizes, arg=arg)
        value, bins = _categorical_jsd(cs, bs)
        p, q = np.array(list(cs.frequencies().values())), np.array(list(bs.frequencies().values()))
        if kind is ComparatorType.PSI:
            a, b = cs.frequencies(), bs.frequencies()
            keys = sorted(a.keys() | b.keys())
            psi = _psi(np.array([a.get(k, 0.0) for k in keys]), np.array([b.get(k, 0.0) for k in keys]))
            return _info(name, comparison, comparator, psi, 0.0, sizes)
        floor = _noise_floor(bins, p.sum(), q.sum()) if comparator.method == "quantile" else 0.0
        return _info(name, comparison, comparator, value, floor, sizes)
    if cn is None or bn is None:
        return _info(name, comparison, comparator, 1.0, 0.0, sizes, note="type changed: not comparable")
    if kind is ComparatorType.JENSEN_SHANNON and comparator.method == "tfdv":
        return _info(name, comparison, comparator, _tfdv_jsd(cn, bn), 0.0, sizes)
    cur, base = _sketch(cn), _sketch(bn)
    if cur is None or base is None:
        value = 0.0 if cur is None and base is None else 1.0
        return _info(name, comparison, comparator, value, 0.0, sizes, note="no finite values on one side")
    if kind is ComparatorType.KS:
        return _info(name, comparison, comparator, _ks(cur, base), 0.0, sizes)
    if kind is ComparatorType.WASSERSTEIN:
        return _info(name, comparison, comparator, _wasserstein(cur, base, bn.std_dev), 0.0, sizes)
    p, q = _quantile_masses(cur, base)
    if kind is ComparatorType.PSI:
        return _info(name, comparison, comparator, _psi(p, q), 0.0, sizes)
    floor = _noise_floor(len(p), cur.n, base.n, max(_rank_error(cur), _rank_error(base)))
    return _info(name, comparison, comparator, _jsd(p, q), floor, sizes)


def jensen_shannon(
    current: FeatureStatistics, baseline: FeatureStatistics, *, method: str = "quantile"
) -> float:
    """Jensen-Shannon divergence (base 2) of one feature between two statistics."""
    comparator = Comparator(type=ComparatorType.JENSEN_SHANNON, threshold=0.0, method=method)
    return compare(current, baseline, comparator, comparison="drift").value
