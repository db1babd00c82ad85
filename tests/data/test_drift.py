"""L-infinity matches TFDV's definition; the default JSD does not alarm on noise and does on shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from loopml.data import compute_statistics
from loopml.data.drift import Comparator, ComparatorType, compare, jensen_shannon, l_infinity
from loopml.data.schema import infer_schema
from loopml.data.statistics import RankBucket, StringStatistics
from loopml.data.validation import validate
from tests.data.conftest import make_frame


def _cat(counts: dict[str, float]) -> StringStatistics:
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    rh = tuple(
        RankBucket(low_rank=i, high_rank=i, label=v, sample_count=c) for i, (v, c) in enumerate(ordered)
    )
    return StringStatistics(unique=len(rh), top_values=(), rank_histogram=rh, avg_length=1.0)


def test_l_infinity_hand_checked() -> None:
    # a: 0.5, b: 0.3, c: 0.2  vs  a: 0.4, b: 0.4, d: 0.2  -> |c| = |d| = 0.2 is the max; tie -> 'c'
    value, arg = l_infinity(_cat({"a": 5, "b": 3, "c": 2}), _cat({"a": 4, "b": 4, "d": 2}))
    assert value == pytest.approx(0.2) and arg == "c"
    assert l_infinity(_cat({"x": 1}), _cat({"x": 7})) == (0.0, None)


def test_l_infinity_uses_each_sides_top_1000_total() -> None:
    # 1,500 categories: only the top 1,000 of each side enter, each normalised by its own top-1,000 total.
    counts = {f"v{i:04d}": 1000.0 - i * 0.5 for i in range(1500)}
    stats = compute_statistics(pa.table({"c": np.repeat(list(counts), [int(c) for c in counts.values()])}))
    s = stats.get_feature("c").string_stats
    assert s is not None and len(s.rank_histogram) == 1000
    # ties at the cut-off: TFDV keeps the larger value
    ranked = sorted(((k, int(v)) for k, v in counts.items()), key=lambda kv: (kv[1], kv[0]), reverse=True)
    top = dict(ranked[:1000])
    other = _cat({"v0000": 500.0, **{k: v for k, v in top.items() if k != "v0000"}})
    total_a, total_b = sum(top.values()), sum(other.frequencies().values())
    expected = abs(top["v0000"] / total_a - 500 / total_b)
    for k in top:
        if k != "v0000":
            expected = max(expected, abs(top[k] / total_a - top[k] / total_b))
    value, _arg = l_infinity(s, other)
    assert value == pytest.approx(expected, rel=1e-9)


def test_type_change_is_maximal_distance() -> None:
    a = compute_statistics(pa.table({"x": ["1", "2"] * 100})).get_feature("x")
    b = compute_statistics(pa.table({"x": [1, 2] * 100})).get_feature("x")
    info = compare(a, b, Comparator(type=ComparatorType.L_INFINITY, threshold=0.1), comparison="skew")
    assert info.value == 1.0 and info.is_anomalous and "type changed" in info.note


@pytest.mark.slow
def test_default_method_no_alarm_on_same_distribution_and_tfdv_floor() -> None:
    tfdv_values = []
    for seed in range(20):
        a = compute_statistics(make_frame(20_000, seed=100 + 2 * seed))
        b = compute_statistics(make_frame(20_000, seed=101 + 2 * seed))
        result = validate(a, infer_schema(b), previous=b, training=b)
        assert not result.has_anomalies, result.anomalies
        assert len(result.drift_skew) == 2 * len(a.features)
        tfdv_values.append(jensen_shannon(a.get_feature("skewed"), b.get_feature("skewed"), method="tfdv"))
    # TFDV's equal-width method has a high floor on skewed features: above the usual 0.01
    assert min(tfdv_values) > 0.01


def test_covariate_shift_flags_exactly_the_shifted_features() -> None:
    base = make_frame(20_000, seed=7)
    cur = make_frame(20_000, seed=8)
    cur["normal"] = cur["normal"] + 1.0  # half a standard deviation
    cur["color"] = np.where(np.random.default_rng(0).random(len(cur)) < 0.15, "blue", cur["color"])
    a, b = compute_statistics(cur), compute_statistics(base)
    result = validate(a, infer_schema(b), previous=b)
    flagged = {x.feature for x in result.anomalies}
    assert flagged == {"normal", "color"}
    kinds = {x.feature: x.kind for x in result.anomalies}
    assert kinds == {
        "normal": "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH",
        "color": "COMPARATOR_L_INFTY_HIGH",
    }
    color = next(d for d in result.drift_skew if d.feature == "color")
    assert color.arg_max == "blue" and color.comparison == "drift"


@pytest.mark.parametrize("kind", ["psi", "ks", "wasserstein"])
def test_other_distances_separate_shift_from_noise(kind: str) -> None:
    rng = np.random.default_rng(3)
    same = [compute_statistics(pd.DataFrame({"x": rng.normal(0, 1, 20_000)})).features[0] for _ in range(2)]
    shifted = compute_statistics(pd.DataFrame({"x": rng.normal(0.5, 1, 20_000)})).features[0]
    comp = Comparator(type=ComparatorType(kind), threshold=0.0)
    noise = compare(same[0], same[1], comp, comparison="drift").value
    shift = compare(shifted, same[1], comp, comparison="drift").value
    assert shift > 5 * noise
    if kind == "ks":
        assert shift == pytest.approx(0.197, abs=0.03)  # 2·Φ(0.25) - 1
    if kind == "wasserstein":
        assert shift == pytest.approx(0.5, abs=0.05)
