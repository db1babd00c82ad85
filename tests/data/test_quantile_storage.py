"""The stored form of a quantile summary: narrow types, bit-exact values, older forms still read."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from loopml.data._quantiles import STORED_ITEMS, QuantileSummary, read_summary


def _summary(values: np.ndarray) -> QuantileSummary:
    summary = QuantileSummary()
    summary.update(values)
    return summary


def _items(summary: QuantileSummary) -> tuple[np.ndarray, np.ndarray]:
    values, cum = summary._view()
    return values.copy(), cum.copy()


@pytest.mark.parametrize(
    ("values", "largest_bytes"),
    [
        (np.arange(-100.0, 100.0), 200 * 2),  # int8 values, uint8 counts
        (np.repeat(np.arange(0.0, 1000.0), 3), 1000 * 3),  # int16 values, uint8 counts
        (np.arange(0.0, 1000.0) * 70_000.0, 1000 * 5),  # int32 values
        (np.arange(0.0, 1000.0) / 4.0, 1000 * 5),  # float32 is exact for quarters
        (np.random.default_rng(0).normal(size=1000), 1000 * 9),  # float64
        (np.array([-0.0, 1.5, 1e300, -1e-300]), 4 * 9),  # -0.0 and values float32 cannot hold
    ],
)
def test_values_and_counts_come_back_bit_for_bit_in_the_narrowest_types(
    values: np.ndarray, largest_bytes: int
) -> None:
    summary = _summary(values)
    raw = summary.to_bytes()
    assert len(raw) - 30 <= largest_bytes  # 30-byte header
    back_values, back_cum = _items(read_summary(raw))
    want_values, want_cum = _items(summary)
    assert back_values.view(np.int64).tolist() == want_values.view(np.int64).tolist()
    assert back_cum.tolist() == want_cum.tolist()
    assert read_summary(raw).to_bytes() == raw


def test_a_reduced_summary_keeps_its_error_and_total() -> None:
    values = np.random.default_rng(1).normal(size=50_000)
    summary = _summary(values)
    stored = read_summary(summary.to_bytes())
    assert stored.n == 50_000
    assert stored._view()[0].size <= STORED_ITEMS
    assert stored.rank_error >= 1 / STORED_ITEMS
    assert abs(stored.quantiles([0.5])[0] - np.median(values)) < 0.01


def test_summaries_stored_before_the_compact_form_still_read() -> None:
    values = np.array([1.0, 2.0, 2.0, 5.0])
    v1 = struct.pack("<4sqqq", b"LQS1", 4, 0, 3)
    v1 += np.array([1.0, 2.0, 5.0], "<f8").tobytes() + np.array([1, 3, 4], "<i8").tobytes()
    old = read_summary(v1)
    assert old.n == 4 and old.is_exact
    assert old.quantiles([0.0, 0.5, 1.0]).tolist() == [1.0, 2.0, 5.0]
    assert old.to_bytes() == _summary(values).to_bytes()


@pytest.mark.parametrize(
    "raw",
    [
        b"LQS2" + b"\x00" * 10,
        struct.pack("<4sqqqcc", b"LQS2", 1, 0, 1, b"x", b"B") + b"\x00" * 9,
        struct.pack("<4sqqqcc", b"LQS2", 1, 0, 2, b"d", b"B") + b"\x00" * 9,
    ],
)
def test_damaged_summaries_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="quantile summary"):
        QuantileSummary.from_bytes(raw)
