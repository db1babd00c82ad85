"""Per-slice drift with a multiple-testing correction over the window's (slice, feature) comparisons.

A window sliced by a few columns compares every feature of every slice with the same slice of a
reference window: with 16 features and 20 slices that is 320 tests a window and comparison. Each
test of the calibrated detector (:mod:`loopml.data.drift`) alarms on stationary data at its own rate
(``DEFAULT_ALPHA`` = 0.002), so uncorrected, about half of all stationary windows would show a
drifted slice somewhere.

The p-values of one window and one comparison (``drift`` against the previous window,
``baseline_drift`` against the fixed baseline) are therefore adjusted together by **Holm's step-down
method**, and a (slice, feature) pair is drifted when its adjusted p-value is below
:data:`FAMILY_ALPHA` and its magnitude over the detector's effect floor. Holm, not Benjamini-Hochberg,
because:

- it bounds the chance of *any* false alarm in the window (the family-wise error rate), which is
  what an alert rule reading "a slice drifted" needs: on stationary data at most
  ``FAMILY_ALPHA`` of the windows alarm, whatever the number of slices; BH bounds the expected
  share of false alarms among the alarms, which equals that only when nothing drifts at all;
- it holds under any dependence between the tests, and these are dependent: the features of one
  slice are correlated, and every slice is compared with the same reference window (BH needs
  independence or positive regression dependence);
- it costs little power where it matters: a slice that really moved has a p-value orders of
  magnitude below ``FAMILY_ALPHA / m`` (a two-standard-deviation shift of one feature in a slice of
  90 rows: p ≈ 1e-14 to 1e-19, against 0.005 / 48 in ``tests/monitor/test_slice_drift.py``). Small
  shifts in small slices are what it gives up; they rarely stand out from the sampling noise anyway.

:data:`FAMILY_ALPHA` is 0.005 per comparison, so a rule reading both comparisons still sees at most
one stationary window in 100 alarm. Comparisons without a p-value (a slice empty on one side, a
type change) keep the detector's own verdict and are left out of the family.

Example:
    >>> holm([0.001, 0.04, 0.03, 0.5])
    [0.004, 0.09, 0.09, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from loopml.data.drift import DriftSkewInfo
from loopml.data.statistics import DatasetStatistics, FeatureStatistics

__all__ = ["FAMILY_ALPHA", "Detector", "SliceVerdict", "holm", "slice_verdicts"]

FAMILY_ALPHA = 0.005
"""The family-wise false-alarm rate of one window and comparison over all its (slice, feature) pairs."""

Detector = Callable[[FeatureStatistics, FeatureStatistics, str], DriftSkewInfo]
"""The calibrated detector on one feature: (current, reference, comparison) -> its verdict."""


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (each ≥ its raw p-value, at most 1)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceVerdict:
    """One (slice, feature) comparison of a window with its reference.

    Attributes:
        slice: ``"<column>=<value>"``.
        feature: The input feature compared.
        magnitude: The calibrated detector's magnitude (JSD over pooled deciles, or L-infinity).
        p_value: The detector's own p-value (None where the comparison has none).
        adjusted_p_value: Holm's adjusted p-value over the window's family (None likewise).
        drifted: Adjusted p-value below :data:`FAMILY_ALPHA` and the magnitude over the effect floor
            (without a p-value: the detector's own verdict).
    """

    slice: str
    feature: str
    magnitude: float
    p_value: float | None
    adjusted_p_value: float | None
    drifted: bool


def slice_verdicts(
    slices: Mapping[str, DatasetStatistics],
    reference: Mapping[str, DatasetStatistics],
    compare: Detector,
    *,
    comparison: str,
) -> list[SliceVerdict]:
    """Every (slice, feature) comparison of ``slices`` with the same slices of ``reference``, corrected.

    Args:
        slices: Each slice's input statistics in the window.
        reference: The reference window's slices (a slice missing there is not compared).
        compare: Runs the calibrated detector on one feature (current, reference, comparison).
        comparison: ``drift`` or ``baseline_drift``.
    """
    infos: list[tuple[str, DriftSkewInfo]] = []
    for key, current in slices.items():
        ref = reference.get(key)
        if ref is None or current.num_examples == 0 or ref.num_examples == 0:
            continue
        for feature in current.features:
            other = ref.feature(feature.name)
            if other is not None:
                infos.append((key, compare(feature, other, comparison)))
    tested = [i for i, (_, info) in enumerate(infos) if info.p_value is not None]
    adjusted = dict(zip(tested, holm([infos[i][1].p_value or 0.0 for i in tested]), strict=True))
    out = []
    for i, (key, info) in enumerate(infos):
        q = adjusted.get(i)
        drifted = info.is_anomalous if q is None else q < FAMILY_ALPHA and info.value > info.threshold
        out.append(
            SliceVerdict(
                slice=key,
                feature=info.feature,
                magnitude=float(info.value),
                p_value=info.p_value,
                adjusted_p_value=q,
                drifted=bool(drifted),
            )
        )
    return out
