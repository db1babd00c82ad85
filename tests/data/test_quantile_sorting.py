"""Sorting in a narrower type, or not at all, gives a quantile summary the same bits as a float64 sort."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from loopml.data import _quantiles
from loopml.data._quantiles import EXACT_DISTINCT, QuantileSummary, _narrowed, _ordered

F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).smallest_subnormal)


def _build(batches: list[np.ndarray], *, parts: int = 1) -> QuantileSummary:
    """Batches dealt to ``parts`` summaries in turn, then merged in order."""
    summaries = [QuantileSummary() for _ in range(parts)]
    for i, batch in enumerate(batches):
        summaries[i % parts].update(batch)
    total = summaries[0]
    for other in summaries[1:]:
        total.merge(other)
    return total


def _state(summary: QuantileSummary) -> tuple[bytes, int, float, list[int], list[int]]:
    values, cum = summary._view()
    return summary.to_bytes(), summary.n, summary.rank_error, values.view(np.int64).tolist(), cum.tolist()


def _plain_float64_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    """The summary as it was: every run sorted in float64, never checked for order first."""
    monkeypatch.setattr(_quantiles, "_integer_keys", lambda values: None)
    monkeypatch.setattr(_quantiles, "_float32_keys", lambda values: None)
    monkeypatch.setattr(_quantiles, "_is_sorted", lambda values: False)


def _int16_edges(rng: np.random.Generator) -> list[np.ndarray]:
    edges = np.array([-32768.0, 32767.0, 0.0, -0.0, 1.0, -1.0])
    return [np.concatenate([edges, rng.integers(-32768, 32768, 9_000).astype(np.float64)]) for _ in range(4)]


def _beyond_int16(rng: np.random.Generator) -> list[np.ndarray]:
    # integers one past int16's range: float32 holds them, int16 does not
    return [np.concatenate([[32768.0, -32769.0], rng.integers(-100, 100, 5_000).astype(np.float64)])]


def _mixed(rng: np.random.Generator) -> list[np.ndarray]:
    # batches of small integers, quarters, full-precision floats and negative zeros, in turn
    return [
        rng.integers(-50, 50, 3_000).astype(np.float64),
        rng.integers(-400, 400, 3_000) / 4.0,
        rng.normal(size=3_000),
        np.array([-0.0] * 10 + [0.0] * 10 + [1.0]),
        rng.integers(0, 120, 70_000).astype(np.float64),  # a long batch: hashing or radix
    ] * 3


def _float32_edges(rng: np.random.Generator) -> list[np.ndarray]:
    exact = np.array([F32_MAX, -F32_MAX, F32_TINY, -F32_TINY, 2.0**24, 2.0**-126])
    inexact = np.array([2.0**24 + 1, 1e300, -1e-300, 0.1, float(np.nextafter(F32_MAX, np.inf))])
    body = rng.normal(size=5_000).astype(np.float32).astype(np.float64)
    return [np.concatenate([exact, body]), np.concatenate([body[:100], inexact]), body[::-1].copy()]


def _sorted_runs(rng: np.random.Generator) -> list[np.ndarray]:
    ordered = np.sort(rng.normal(size=30_000))
    late = ordered.copy()
    late[-1], late[-2] = late[-2], late[-1]  # out of order only past the first values looked at
    return [ordered, late, ordered[::-1].copy(), np.sort(rng.integers(0, 9, 20_000)).astype(np.float64)]


def _past_the_cap(rng: np.random.Generator) -> list[np.ndarray]:
    # more than EXACT_DISTINCT distinct values: compactor levels, in int16, float32 and float64 batches
    ints = rng.integers(-(2**23), 2**23, 3 * EXACT_DISTINCT).astype(np.float64)  # float32-exact
    return [
        *np.array_split(ints, 5),
        rng.integers(-30_000, 30_000, 40_000).astype(np.float64),
        rng.normal(size=60_000),
        np.sort(rng.uniform(size=50_000)),
    ]


@pytest.mark.parametrize(
    "draw", [_int16_edges, _beyond_int16, _mixed, _float32_edges, _sorted_runs, _past_the_cap]
)
@pytest.mark.parametrize("parts", [1, 3])
def test_same_bits_as_a_plain_float64_sort(
    draw: Callable[[np.random.Generator], list[np.ndarray]], parts: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches = draw(np.random.default_rng(5))
    fast = _state(_build([b.copy() for b in batches], parts=parts))
    flushed = QuantileSummary()  # counted after every batch (batch scoring does)
    for batch in batches:
        flushed.update(batch.copy())
        flushed.flush()
    with monkeypatch.context() as patched:
        _plain_float64_sort(patched)
        plain = _state(_build([b.copy() for b in batches], parts=parts))
        plain_flushed = QuantileSummary()
        for batch in batches:
            plain_flushed.update(batch.copy())
            plain_flushed.flush()
        plain_flushed_state = _state(plain_flushed)
    assert fast == plain
    assert _state(flushed) == plain_flushed_state


@pytest.mark.parametrize(
    ("values", "dtype"),
    [
        (np.array([3.0, -32768.0, 32767.0, 0.0, 7.0]), np.uint16),  # a span of 2**16 - 1: radix sort
        (np.array([1e6 + 3, 1e6 + 65_535, 1e6, 1e6 + 7]), np.uint16),  # the span counts, not the range
        (np.array([3.0, 65_536.0, 0.0]), np.uint32),  # a span of 2**16
        (np.array([1.7e12 + 3, 1.7e12 + 86_400_000, 1.7e12]), np.uint32),  # a day of timestamps in ms
        (np.array([3.0, 2.0 - 2.0**53, 0.0]), None),  # integers spanning more than 2**32, float32 rounds
        (np.array([3.0, 2.0**40, 0.0]), np.float32),  # ... unless float32 holds them
        (np.array([3.0, 0.5, -2.0]), np.float32),  # not integers, exact in float32
        (np.array([3.0, F32_MAX, -F32_TINY]), np.float32),  # float32's edges
        (np.array([3.0, 2.0**24 + 1.5, 0.0]), None),
        (np.array([3.0, 1e300, 0.0]), None),  # beyond float32's range
        (np.array([3.0, 0.1, 0.0]), None),
        (np.array([1.0] * 100 + [0.5]), np.float32),  # integers in the first values only
        (np.array([1.0] * 100 + [0.1]), None),
        (np.array([-3.0] + [5.0] * 70 + [1e-300]), None),  # the offset must not absorb a tiny value
    ],
)
def test_runs_are_sorted_in_the_narrowest_exact_type(values: np.ndarray, dtype: type | None) -> None:
    narrow = _narrowed(values)
    assert (narrow[0].dtype if narrow is not None else None) == dtype
    ordered = _ordered(values.copy())
    assert ordered.dtype == np.float64
    assert ordered.view(np.int64).tolist() == np.sort(values).view(np.int64).tolist()


def test_a_sorted_run_is_not_sorted_again() -> None:
    ordered = np.sort(np.random.default_rng(2).normal(size=1_000))
    assert _ordered(ordered) is ordered
    late = ordered.copy()
    late[-2:] = late[-2:][::-1]  # the disorder is past the first values looked at
    assert _ordered(late).tolist() == ordered.tolist()


def test_negative_zero_among_small_integers_counts_as_zero() -> None:
    a, b = QuantileSummary(), QuantileSummary()
    a.update(np.array([-0.0, 1.0, -0.0, 5.0] * 10_000))
    b.update(np.array([0.0, 1.0, 0.0, 5.0] * 10_000))
    assert a.to_bytes() == b.to_bytes()
    values, cum = a._view()
    assert values.view(np.int64).tolist() == np.array([0.0, 1.0, 5.0]).view(np.int64).tolist()
    assert cum.tolist() == [20_000, 30_000, 40_000]
