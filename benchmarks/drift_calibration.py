"""Calibration of the default (``calibrated``) drift comparator: false alarms and recall by window size.

Two windows of ``n`` rows each are drawn from one distribution (false alarms) or from a distribution
and a shifted copy (recall), many seeds per cell. Statistics are built the way ``compute_statistics``
builds them (the numeric accumulator and its KLL sketch; exact category counts, top 1,000 kept), and
the comparator of an inferred schema decides. Features:

- ``normal``: N(0, 1), shifted in location; ``skewed``: lognormal(0, 1.5), shifted in scale;
  ``discrete``: Poisson(3), shifted in rate;
- ``cat50`` / ``cat10k``: Zipf-like categories (50 / 10,000 values), exponentially tilted;
- ``label``: a 0/1 label with positive rate 10 %, doubled (a x2 prior shift).

Each shift is sized to a target Jensen-Shannon divergence on the baseline's deciles (numeric) or on
the category probabilities; the printed table lists the L-infinity distance that comes with it.

Usage:
    python benchmarks/drift_calibration.py                 # the table in benchmarks/README.md
    python benchmarks/drift_calibration.py --quick         # fewer seeds and sizes
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from scipy import optimize
from scipy import stats as sps

from loopml.data._calibrated import jsd
from loopml.data._categorical import NUM_RANK_BUCKETS
from loopml.data._numeric import NumericAccumulator
from loopml.data.drift import (
    CATEGORICAL_EFFECT_FLOOR,
    NUMERIC_EFFECT_FLOOR,
    Comparator,
    ComparatorType,
    compare,
)
from loopml.data.statistics import FeatureStatistics, FeatureType, RankBucket, StringStatistics

Sampler = Callable[[np.random.Generator, int, float], FeatureStatistics]


def numeric_stats(values: np.ndarray, ftype: FeatureType = FeatureType.FLOAT) -> FeatureStatistics:
    """Statistics of one numeric column, as the local engine computes them."""
    acc = NumericAccumulator()
    for start in range(0, len(values), 1 << 20):
        acc.update(pa.array(values[start : start + (1 << 20)]))
    return FeatureStatistics(
        name="x", type=ftype, num_non_missing=len(values), num_missing=0, num_stats=acc.result()
    )


def categorical_stats(counts: np.ndarray, labels: list[str]) -> FeatureStatistics:
    """Statistics of one categorical column from exact value counts (top 1,000 kept, as computed)."""
    order = sorted(
        ((labels[i], int(c)) for i, c in enumerate(counts) if c > 0), key=lambda kv: (-kv[1], kv[0])
    )
    rh = tuple(
        RankBucket(low_rank=i, high_rank=i, label=v, sample_count=float(c))
        for i, (v, c) in enumerate(order[:NUM_RANK_BUCKETS])
    )
    s = StringStatistics(unique=len(order), top_values=(), rank_histogram=rh, avg_length=4.0)
    return FeatureStatistics(
        name="x", type=FeatureType.STRING, num_non_missing=int(counts.sum()), num_missing=0, string_stats=s
    )


def zipf_probabilities(k: int) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** 1.1
    return p / p.sum()


def tilted(p: np.ndarray, t: float) -> np.ndarray:
    """``p`` exponentially tilted along a fixed pseudo-random direction by ``t``."""
    z = np.random.default_rng(12345).standard_normal(len(p))
    q = p * np.exp(t * z)
    return q / q.sum()


def _decile_jsd(
    base: sps.rv_continuous | sps.rv_discrete, shifted: sps.rv_continuous | sps.rv_discrete
) -> float:
    edges = np.unique(base.ppf(np.linspace(0.1, 0.9, 9)))
    p = np.diff(np.concatenate([[0.0], base.cdf(edges), [1.0]]))
    q = np.diff(np.concatenate([[0.0], shifted.cdf(edges), [1.0]]))
    return jsd(p, q)


def solve(target: float, distance: Callable[[float], float], hi: float) -> float:
    """The shift parameter at which ``distance`` equals ``target`` (0 for target 0)."""
    if target == 0:
        return 0.0
    return float(optimize.brentq(lambda s: distance(s) - target, 1e-9, hi))


def make_features(target: float) -> dict[str, tuple[Sampler, float]]:
    """Sampler per feature for a shift of JSD ``target`` (0 = no shift), with the shift's L-infinity."""
    d = solve(target, lambda s: _decile_jsd(sps.norm(), sps.norm(s)), 3.0)
    scale = solve(target, lambda s: _decile_jsd(sps.lognorm(1.5), sps.lognorm(1.5, scale=1 + s)), 5.0)
    rate = solve(target, lambda s: _decile_jsd(sps.poisson(3.0), sps.poisson(3.0 * (1 + s))), 5.0)
    p50, p10k = zipf_probabilities(50), zipf_probabilities(10_000)
    t50 = solve(target, lambda t: jsd(p50, tilted(p50, t)), 5.0)
    t10k = solve(target, lambda t: jsd(p10k, tilted(p10k, t)), 5.0)
    labels50 = [f"c{i}" for i in range(50)]
    labels10k = [f"c{i}" for i in range(10_000)]

    def num(draw: Callable[[np.random.Generator, int, float], np.ndarray], ftype: FeatureType) -> Sampler:
        return lambda rng, n, s: numeric_stats(draw(rng, n, s), ftype)

    def cat(p: np.ndarray, t: float, labels: list[str]) -> Sampler:
        return lambda rng, n, s: categorical_stats(rng.multinomial(n, tilted(p, t * s)), labels)

    def linf(p: np.ndarray, q: np.ndarray) -> float:
        return float(np.max(np.abs(p - q)))

    return {
        "normal": (
            num(lambda r, n, s: r.normal(d * s, 1.0, n), FeatureType.FLOAT),
            2 * sps.norm.cdf(d / 2) - 1,
        ),
        "skewed": (
            num(lambda r, n, s: r.lognormal(0.0, 1.5, n) * (1 + scale * s), FeatureType.FLOAT),
            float(
                np.max(
                    np.abs(
                        sps.lognorm(1.5).cdf(np.geomspace(1e-3, 1e3, 2000))
                        - sps.lognorm(1.5, scale=1 + scale).cdf(np.geomspace(1e-3, 1e3, 2000))
                    )
                )
            ),
        ),
        "discrete": (
            num(lambda r, n, s: r.poisson(3.0 * (1 + rate * s), n).astype(np.float64), FeatureType.INT),
            float(
                np.max(
                    np.abs(
                        sps.poisson(3.0).cdf(np.arange(30)) - sps.poisson(3.0 * (1 + rate)).cdf(np.arange(30))
                    )
                )
            ),
        ),
        "cat50": (cat(p50, t50, labels50), linf(p50, tilted(p50, t50))),
        "cat10k": (cat(p10k, t10k, labels10k), linf(p10k, tilted(p10k, t10k))),
    }


def label_sampler(rng: np.random.Generator, n: int, s: float) -> FeatureStatistics:
    """A 0/1 label with positive rate 10 % (``s`` = 0) or 20 % (``s`` = 1)."""
    return numeric_stats((rng.random(n) < 0.1 * (1 + s)).astype(np.float64), FeatureType.INT)


def comparator_for(stats: FeatureStatistics) -> Comparator:
    floor = CATEGORICAL_EFFECT_FLOOR if stats.string_stats is not None else NUMERIC_EFFECT_FLOOR
    return Comparator(type=ComparatorType.CALIBRATED, threshold=floor)


def alarm_rate(sampler: Sampler, n: int, shifted: bool, seeds: int, first_seed: int = 0) -> float:
    """Share of ``seeds`` comparisons of two ``n``-row windows that alarm."""
    alarms = 0
    for seed in range(first_seed, first_seed + seeds):
        rng = np.random.default_rng(seed)
        base = sampler(rng, n, 0.0)
        cur = sampler(rng, n, 1.0 if shifted else 0.0)
        alarms += compare(cur, base, comparator_for(base), comparison="drift").is_anomalous
    return alarms / seeds


def seeds_for(n: int, quick: bool) -> int:
    full = {100: 400, 1_000: 400, 10_000: 200, 100_000: 100, 1_000_000: 20, 10_000_000: 5}
    return max(2, full[n] // (4 if quick else 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the seeds, windows up to 1M rows")
    args = parser.parse_args()
    sizes = [100, 1_000, 10_000, 100_000, 1_000_000] + ([] if args.quick else [10_000_000])
    start = time.perf_counter()
    null = make_features(0.0)
    print("False-alarm rate (two windows of one distribution; alpha = 0.002 per comparison)")
    print(f"{'feature':>10} " + " ".join(f"{n:>10,}" for n in sizes))
    for name, (sampler, _) in [*null.items(), ("label", (label_sampler, 0.0))]:
        rates = [alarm_rate(sampler, n, False, seeds_for(n, args.quick)) for n in sizes]
        print(f"{name:>10} " + " ".join(f"{r:>10.2%}" for r in rates), flush=True)
    print("seeds per size: " + ", ".join(f"{n:,}: {seeds_for(n, args.quick)}" for n in sizes))
    print()
    rec_sizes = [1_000, 2_000, 5_000, 20_000, 100_000]
    for target in (0.005, 0.011, 0.018):
        features = make_features(target)
        print(f"Recall at JSD {target} (L-inf of each shift in brackets), rows per side:")
        print(f"{'feature':>20} " + " ".join(f"{n:>8,}" for n in rec_sizes))
        for name, (sampler, linf) in features.items():
            seeds = 50 if args.quick else 200
            rates = [alarm_rate(sampler, n, True, seeds, first_seed=10_000) for n in rec_sizes]
            print(f"{name + f' [{linf:.3f}]':>20} " + " ".join(f"{r:>8.1%}" for r in rates), flush=True)
        print()
    print("Recall of a x2 prior shift of a 0/1 label (10% -> 20% positives):")
    print(
        " ".join(
            f"{n:,}: {alarm_rate(label_sampler, n, True, 100, 10_000):.0%}" for n in [100, 300, 1_000, 5_000]
        )
    )
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
