"""The calibrated drift / skew test: a magnitude, and its significance at the two sample sizes.

Both sides are cut into the same cells and compared with Pearson's chi-square test of homogeneity
(a 2-by-cells contingency table; ``scipy.stats.chi2`` gives the p-value):

- numeric features: about ten bins at the deciles of the *pooled* sample (read from both quantile
  summaries), so under the null each side's bin counts are a random split of the pooled counts
  whatever the distribution (skewed, discrete, constant). Fewer bins when a side is small, so every
  bin expects at least :data:`MIN_EXPECTED` values per side. The magnitude is the Jensen-Shannon
  divergence (base 2) over those bins.
- categorical features: one cell per value whose count is known on both sides (a value missing
  from a side's top-1,000 ``rank_histogram`` is known to be 0 only when that side lists all its
  values), plus one cell for everything else. Values expected fewer than :data:`MIN_EXPECTED`
  times on the smaller side are pooled into that last cell, so 10,000+ categories do not break the
  chi-square approximation. The magnitude is the L-infinity distance over those cells.

Sketch error: statistics of large windows are sketches (a deterministic quantile summary past
100,000 distinct numeric values, frequent items beyond a million distinct strings), whose masses can
be off by up to the summary's guaranteed (numeric) or the sketch's 99 %-confidence (strings) error
bound ``ε``. Each cell's difference is shrunk by ``ε_current + ε_baseline`` before the test,
so sketch noise alone is not significant at any window size: the test is conservative by at most
that bound. The alarm rule (``p < alpha`` **and** magnitude ``> effect floor``) lives in
:mod:`loopml.data.drift`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from loopml.data._quantiles import QuantileSummary
from loopml.data.statistics import StringStatistics

__all__ = ["MIN_EXPECTED", "Significance", "categorical_test", "jsd", "numeric_test"]

MIN_EXPECTED = 5.0
"""Smallest expected count per side of a cell (the usual rule for the chi-square approximation)."""
NUMERIC_BINS = 10
_CANDIDATE_RANKS = 401


@dataclass(frozen=True, slots=True, kw_only=True)
class Significance:
    """One calibrated comparison: magnitude, chi-square statistic, p-value and what they came from."""

    magnitude: float
    statistic: float
    p_value: float
    dof: int
    cells: int
    n_current: int
    n_baseline: int
    sketch_error: float


def _pool_small(p: np.ndarray, q: np.ndarray, smaller: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool cells expected fewer than MIN_EXPECTED times on the smaller side; keep their flags.

    Returns the cells' ``p``, ``q`` and a mask of the cells kept as they were (False for the pool).
    """
    pooled = (p + q) / 2
    small = pooled * smaller < MIN_EXPECTED
    if not small.any():
        return p, q, np.ones(len(p), dtype=bool)
    keep_p, keep_q = p[~small], q[~small]
    rest_p, rest_q = float(p[small].sum()), float(q[small].sum())
    if (rest_p + rest_q) / 2 * smaller < MIN_EXPECTED and keep_p.size:
        # the pool is itself too small: fold it into the smallest kept cell
        i = int(np.argmin(keep_p + keep_q))
        keep_p, keep_q = keep_p.copy(), keep_q.copy()
        keep_p[i] += rest_p
        keep_q[i] += rest_q
        flags = np.ones(len(keep_p), dtype=bool)
        flags[i] = False
        return keep_p, keep_q, flags
    return (
        np.append(keep_p, rest_p),
        np.append(keep_q, rest_q),
        np.append(np.ones(len(keep_p), dtype=bool), False),
    )


def _chi_square(p: np.ndarray, q: np.ndarray, n: int, m: int, shrink: np.ndarray) -> tuple[float, int]:
    pooled = (n * p + m * q) / (n + m)
    live = pooled > 0
    if live.sum() < 2:
        return 0.0, 0
    diff = np.maximum(np.abs(p - q) - shrink, 0.0)[live]
    statistic = float(np.sum(diff * diff / pooled[live]) / (1 / n + 1 / m))
    return statistic, int(live.sum()) - 1


def _p_value(statistic: float, dof: int) -> float:
    return float(sps.chi2.sf(statistic, dof)) if dof > 0 else 1.0


def jsd(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (base 2) of two mass vectors (each normalised first)."""
    p = p / p.sum() if p.sum() > 0 else p
    q = q / q.sum() if q.sum() > 0 else q
    mid = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / mid[mask])))

    return max(0.0, (kl(p) + kl(q)) / 2)


def _summary_error(sk: QuantileSummary) -> float:
    return sk.rank_error


def _pooled_edges(cur: QuantileSummary, base: QuantileSummary, bins: int) -> list[float]:
    """Inner edges at the pooled sample's quantiles ``1/bins … (bins-1)/bins`` (deterministic)."""
    grid = list(np.linspace(0.0, 1.0, _CANDIDATE_RANKS))
    candidates = np.unique(np.concatenate([cur.quantiles(grid), base.quantiles(grid)]))
    n, m = cur.n, base.n
    cdf = (n * cur.cdf(candidates) + m * base.cdf(candidates)) / (n + m)
    edges: list[float] = []
    for r in np.arange(1, bins) / bins:
        i = min(int(np.searchsorted(cdf, r - 1e-12, side="left")), len(candidates) - 1)
        value = float(candidates[i])
        if not edges or value > edges[-1]:
            edges.append(value)
    if edges and edges[-1] >= float(candidates[-1]):
        edges.pop()  # an edge at the maximum leaves an empty last bin
    return edges


def _masses(sk: QuantileSummary, edges: list[float]) -> np.ndarray:
    if not edges:
        return np.array([1.0])
    cdf = np.append(sk.cdf(edges), 1.0)
    return np.clip(np.diff(cdf, prepend=0.0), 0.0, None)


def numeric_test(cur: QuantileSummary, base: QuantileSummary) -> Significance:
    """Chi-square test over pooled-quantile bins of two quantile summaries (both non-empty)."""
    n, m = int(cur.n), int(base.n)
    bins = int(max(1, min(NUMERIC_BINS, min(n, m) // MIN_EXPECTED)))
    edges = _pooled_edges(cur, base, bins) if bins > 1 else []
    p, q = _masses(cur, edges), _masses(base, edges)
    p, q, _kept = _pool_small(p, q, min(n, m))
    error = _summary_error(cur) + _summary_error(base)
    statistic, dof = _chi_square(p, q, n, m, np.full(len(p), error))
    return Significance(
        magnitude=jsd(p, q),
        statistic=statistic,
        p_value=_p_value(statistic, dof),
        dof=dof,
        cells=len(p),
        n_current=n,
        n_baseline=m,
        sketch_error=error,
    )


def _complete(s: StringStatistics) -> bool:
    return s.is_exact and len(s.rank_histogram) >= s.unique


def categorical_test(
    cur: StringStatistics, base: StringStatistics, n: int, m: int, *, sketch_epsilon: float
) -> Significance:
    """Chi-square test over the values known on both sides plus one cell for the rest.

    ``n`` and ``m`` are the sides' non-missing counts; ``sketch_epsilon`` is the frequent-items
    sketch's error per value (a fraction of the count) used for sides that are not exact.
    """
    fa, fb = cur.frequencies(), base.frequencies()
    ca, cb = _complete(cur), _complete(base)
    keys = sorted(k for k in fa.keys() | fb.keys() if (k in fa or ca) and (k in fb or cb))
    p = np.array([fa.get(k, 0.0) / n for k in keys] + [0.0])
    q = np.array([fb.get(k, 0.0) / m for k in keys] + [0.0])
    p[-1] = max(0.0, 1.0 - float(p[:-1].sum()))
    q[-1] = max(0.0, 1.0 - float(q[:-1].sum()))
    p, q, kept = _pool_small(p, q, min(n, m))
    eps = (0.0 if cur.is_exact else sketch_epsilon) + (0.0 if base.is_exact else sketch_epsilon)
    # a pooled cell sums many values' estimates: its error can add up over them
    shrink = np.where(kept, eps, min(1.0, eps * max(1, len(keys))))
    statistic, dof = _chi_square(p, q, n, m, shrink)
    return Significance(
        magnitude=float(np.max(np.abs(p - q))) if len(p) else 0.0,
        statistic=statistic,
        p_value=_p_value(statistic, dof),
        dof=dof,
        cells=len(p),
        n_current=n,
        n_baseline=m,
        sketch_error=eps,
    )
