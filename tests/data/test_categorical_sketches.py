"""Categorical accumulator beyond the exact cap: batched sketch feeding and merges across modes."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from loopml.data import _categorical
from loopml.data._categorical import CategoricalAccumulator


@pytest.fixture()
def small_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_categorical, "EXACT_DISTINCT_CAP", 250)
    monkeypatch.setattr(_categorical, "COMPACT_ROWS", 5_000)


def _batches(n_batches: int, rows: int, distinct: int, seed: int) -> list[pa.Array]:
    rng = np.random.default_rng(seed)
    return [pa.array(np.char.add("v", rng.integers(0, distinct, rows).astype(str))) for _ in range(n_batches)]


@pytest.mark.usefixtures("small_caps")
def test_sketch_mode_feeds_each_distinct_value_once_per_window(monkeypatch: pytest.MonkeyPatch) -> None:
    fed: list[int] = []
    real = _categorical._as_strings

    def counting(values: pa.Array) -> list[str]:
        out = real(values)
        fed.append(len(out))
        return out

    monkeypatch.setattr(_categorical, "_as_strings", counting)
    batches = _batches(200, 100, 300, seed=4)
    acc = CategoricalAccumulator()
    for b in batches:
        acc.update(b)
    result = acc.result()

    assert not acc.is_exact()
    per_batch_calls = sum(len(pa.compute.unique(b)) for b in batches)
    assert sum(fed) < per_batch_calls / 4, (sum(fed), per_batch_calls)
    exact = Counter(v for b in batches for v in b.to_pylist())
    # 300 values fit the frequent-items map: its counts are exact here
    assert {v.value: v.frequency for v in result.top_values} == {
        v: float(c) for v, c in sorted(exact.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    }
    assert abs(result.unique - 300) <= 0.05 * 300


@pytest.mark.usefixtures("small_caps")
def test_merge_of_exact_partition_that_crosses_the_cap_on_compaction() -> None:
    a = CategoricalAccumulator()
    a.update(pa.array([f"a{i}" for i in range(200)]))
    a.update(pa.array([f"b{i}" for i in range(200)]))  # 400 distinct, still pending (exact mode)
    b = CategoricalAccumulator()
    b.update(pa.array(["x", "y", "x"]))
    b.merge(a)
    result = b.result()
    assert not b.is_exact()
    assert b.non_missing == 403
    assert abs(result.unique - 402) <= 0.05 * 402
    assert result.top_values[0].value == "x" and result.top_values[0].frequency == 2.0


@pytest.mark.usefixtures("small_caps")
def test_sketched_partitions_merge_with_pending_counts() -> None:
    parts = [_batches(60, 100, 300, seed=s) for s in range(3)]
    accs = []
    for batches in parts:
        acc = CategoricalAccumulator()
        for b in batches:
            acc.update(b)
        accs.append(acc)
    total = accs[0]
    for other in accs[1:]:
        total.merge(other)
    exact = Counter(v for batches in parts for b in batches for v in b.to_pylist())
    result = total.result()
    assert total.non_missing == sum(exact.values())
    top = {v.value: v.frequency for v in result.top_values}
    assert all(top[v] == float(exact[v]) for v in top)


def test_chunked_columns_are_counted_as_their_chunks() -> None:
    """Table columns arrive as ChunkedArrays (a log partition's files); they count as their values."""
    rng = np.random.default_rng(5)
    words = np.array([f"w{i}" for i in range(3000)], dtype=object)
    chunks = [pa.array(words[rng.integers(0, 3000, size=20_000)]) for _ in range(8)]
    chunked, whole = CategoricalAccumulator(), CategoricalAccumulator()
    for k in range(0, 8, 2):
        chunked.update(pa.chunked_array(chunks[k : k + 2]))
        whole.update(pa.concat_arrays(chunks[k : k + 2]))
    expected = Counter(v for c in chunks for v in c.to_pylist())
    assert chunked.result() == whole.result()
    assert chunked.result().unique == len(expected)
    assert {v.value: v.frequency for v in chunked.result().top_values[:3]} == dict(expected.most_common(3))
