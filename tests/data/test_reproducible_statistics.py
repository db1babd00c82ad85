"""Statistics are byte-identical on every run and worker count; quantiles exact or within their bound."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loopml.data import compute_statistics
from loopml.data._quantiles import (
    CAPACITY,
    EXACT_DISTINCT,
    MAX_RANK_ERROR,
    STORED_ITEMS,
    QuantileSummary,
    read_summary,
)


def _files(root: Path, *, parts: int = 4, rows: int = 40_000) -> list[Path]:
    """Parquet files whose ``wide`` column has more than 100,000 distinct values in all."""
    rng = np.random.default_rng(11)
    paths = []
    for i in range(parts):
        table = pa.table(
            {
                "wide": rng.lognormal(3.0, 1.0, rows),  # continuous: the compactor takes over
                "count": rng.poisson(4.0, rows),  # few distinct: exact
                "price": np.round(rng.normal(100, 15, rows), 2),  # low precision: exact
                "color": rng.choice(["red", "green", "blue"], rows),
            }
        )
        path = root / f"part{i}.parquet"
        pq.write_table(table, path, row_group_size=15_000)
        paths.append(path)
    return paths


def test_same_bytes_on_every_run_and_worker_count(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    first = compute_statistics(paths, max_workers=1).to_json()
    again = compute_statistics(paths, max_workers=1).to_json()
    two = compute_statistics(paths, max_workers=2).to_json()
    three = compute_statistics(paths, max_workers=3).to_json()
    assert first == again == two == three
    wide = compute_statistics(paths, max_workers=1).get_feature("wide")
    assert wide.approximate  # the compactor path is covered, not only exact counts


def test_same_bytes_with_high_cardinality_string_sketches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # HLL and frequent items are deterministic for the same updates in the same order; group-by
    # output order (single-threaded) and the unit-order merge keep that order fixed
    from loopml.data import _categorical

    monkeypatch.setattr(_categorical, "EXACT_DISTINCT_CAP", 20_000)
    monkeypatch.setattr(_categorical, "COMPACT_ROWS", 10_000)
    rng = np.random.default_rng(3)
    paths = []
    for i in range(3):
        hot = rng.zipf(1.3, 30_000)
        rare = rng.integers(10**6, 10**9, 30_000)
        ids = np.char.add("id", np.where(rng.random(30_000) < 0.5, hot, rare).astype(str))
        path = tmp_path / f"ids{i}.parquet"
        pq.write_table(pa.table({"id": ids}), path, row_group_size=7_000)
        paths.append(path)
    runs = {compute_statistics(paths, max_workers=1).to_json() for _ in range(3)}
    assert len(runs) == 1
    stats = compute_statistics(paths, max_workers=1).get_feature("id")
    assert stats.string_stats is not None and not stats.string_stats.is_exact


@pytest.mark.parametrize("seed", range(8))
def test_quantiles_are_exact_up_to_the_distinct_cap(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300_000))
    columns = {
        "ints": rng.integers(-1_000, 1_000, n),
        "money": np.round(rng.exponential(50.0, n), 2),  # <= 100,000 distinct cents
        "ties": rng.choice([0.0, 1.5, 2.25, 1e9], n, p=[0.7, 0.1, 0.1, 0.1]),
        "few": rng.normal(size=min(n, EXACT_DISTINCT)),
    }
    table = pa.table({k: pa.array(v) for k, v in columns.items() if len(v) == n})
    stats = compute_statistics(table, batch_rows=int(rng.integers(1_000, 70_000)))
    for name in table.column_names:
        col = table.column(name).to_numpy().astype(np.float64)
        f = stats.get_feature(name)
        s = f.num_stats
        assert s is not None and not f.approximate
        ranks = [q.rank for q in s.quantiles]
        assert [q.value for q in s.quantiles] == list(np.quantile(col, ranks, method="inverted_cdf"))
        assert s.median == np.quantile(col, 0.5, method="inverted_cdf")


def _rank_errors(values: np.ndarray, summary: QuantileSummary, ranks: np.ndarray) -> float:
    ordered = np.sort(values)
    got = summary.quantiles(ranks)
    # the value at rank r is right when r lies within [rank just below it, rank at or below it]
    low = np.searchsorted(ordered, got, side="left") / values.size
    high = np.searchsorted(ordered, got, side="right") / values.size
    return float(np.max(np.maximum(low - ranks, ranks - high).clip(0)))


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.lognormal(0, 3, n),
        lambda rng, n: np.sort(rng.uniform(size=n)),  # sorted input: the adversarial order for compactors
        lambda rng, n: np.concatenate([rng.normal(size=n // 2), np.zeros(n - n // 2)]),
    ],
)
def test_rank_error_past_the_cap_stays_within_the_stated_bound(draw: object) -> None:
    rng = np.random.default_rng(7)
    n = 1_500_000
    values = draw(rng, n)  # type: ignore[operator]
    parts = []
    for chunk in np.array_split(values, 23):  # partitions of uneven sizes, merged in order
        part = QuantileSummary()
        for batch in np.array_split(chunk, 3):
            part.update(batch)
        parts.append(part)
    total = QuantileSummary()
    for part in parts:
        total.merge(part)
    assert total.n == n and not total.is_exact
    assert 0 < total.rank_error <= MAX_RANK_ERROR
    ranks = np.linspace(0, 1, 401)
    assert _rank_errors(values, total, ranks) <= total.rank_error
    stored = read_summary(total.to_bytes())  # the copy kept in statistics JSON for drift checks
    assert stored.rank_error <= total.rank_error + 1 / STORED_ITEMS + 1 / n
    assert _rank_errors(values, stored, ranks) <= stored.rank_error
    assert total.to_bytes() == total.to_bytes()


def test_guaranteed_bound_is_below_a_quarter_percent_at_a_billion_rows() -> None:
    # levels needed for n items: ceil(log2(n / CAPACITY)); each adds at most 1/CAPACITY
    levels = int(np.ceil(np.log2(1e12 / CAPACITY)))
    assert levels / CAPACITY <= MAX_RANK_ERROR


def test_negative_zero_counts_as_zero() -> None:
    a, b = QuantileSummary(), QuantileSummary()
    a.update(np.array([-0.0, 1.0]))
    b.update(np.array([0.0, 1.0]))
    assert a.to_bytes() == b.to_bytes()
