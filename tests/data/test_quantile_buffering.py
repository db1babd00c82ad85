"""How a quantile summary buffers values before counting them: bounded, exact, views released."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from loopml.data import _quantiles
from loopml.data._quantiles import QuantileSummary


def _all_bytes(summary: QuantileSummary) -> tuple[bytes, bytes, int]:
    values, cum = summary._view()
    return values.tobytes(), cum.tobytes(), summary.n


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_values_buffered_in_a_narrow_dtype_count_as_their_float64_copies(dtype: type) -> None:
    rng = np.random.default_rng(4)
    values = rng.integers(-100, 100, 3_000).astype(dtype)
    if np.dtype(dtype).kind == "f":
        values = values / dtype(4)  # quarters: exact in float32
    narrow, wide = QuantileSummary(), QuantileSummary()
    for part in np.array_split(values, 7):
        narrow.extend(part)
        wide.update(part.astype(np.float64))
    assert _all_bytes(narrow) == _all_bytes(wide)
    assert narrow.to_bytes() == wide.to_bytes()


def test_buffered_values_are_counted_once_the_pending_bound_is_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_quantiles, "PENDING_VALUES", 1_000)
    summary = QuantileSummary()
    block = np.arange(20 * 128, dtype=np.int16).reshape(20, 128)
    for row in block:
        summary.extend(row)
        assert summary._pending_size < 1_000  # never more than the bound stays buffered
    assert summary.n == block.size
    assert summary._values.size > 0  # counted along the way, not only at the first query


def test_a_shared_block_is_freed_once_every_summary_counted_or_copied_its_row() -> None:
    block = np.arange(3 * 64, dtype=np.float64).reshape(3, 64).copy()  # owns its memory
    alive = weakref.ref(block)
    summaries = [QuantileSummary() for _ in range(3)]
    for summary, row in zip(summaries, block, strict=True):
        summary.extend(row)
    del block, row
    summaries[0].flush()
    summaries[1].release_blocks()
    gc.collect()
    assert alive() is not None  # the third summary still buffers a view of it
    summaries[2].release_blocks()
    gc.collect()
    assert alive() is None
    assert [s.quantiles([0.0, 1.0]).tolist() for s in summaries] == [
        [0.0, 63.0],
        [64.0, 127.0],
        [128.0, 191.0],
    ]


def test_releasing_copies_each_view_once() -> None:
    summary = QuantileSummary()
    summary.extend(np.arange(10, dtype=np.int8))
    summary.release_blocks()
    summary.update(np.array([2.5]))
    summary.release_blocks()  # nothing borrowed any more: no copy of what is owned already
    assert len(summary._pending) == 2
    assert summary.quantiles([0.5]).tolist() == [4.0]
