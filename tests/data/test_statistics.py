"""Statistics match exact numpy / pandas results where exact, and the KLL bounds where sketched."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from loopml.data import (
    DatasetStatistics,
    FeatureType,
    HistogramType,
    StatisticsAccumulator,
    compute_statistics,
)
from loopml.errors import InvalidInput
from tests.data.conftest import make_frame


def _rank(values: np.ndarray, x: float) -> float:
    return float(np.searchsorted(np.sort(values), x, side="right")) / values.size


def test_numeric_figures_are_exact_below_the_distinct_cap(frame: pd.DataFrame) -> None:
    # 20,000 values per column (<= 100,000 distinct): median, quantiles and histograms are exact
    stats = compute_statistics(frame)
    assert stats.num_examples == len(frame)
    for name in ("normal", "skewed", "discrete"):
        col = frame[name].to_numpy(dtype=float)
        f = stats.get_feature(name)
        assert f.num_non_missing == len(col) and f.num_missing == 0
        s = f.num_stats
        assert s is not None
        assert s.mean == pytest.approx(col.mean(), rel=1e-12)
        assert s.std_dev == pytest.approx(col.std(), rel=1e-9)
        assert (s.min, s.max) == (col.min(), col.max())
        assert s.num_zeros == int((col == 0).sum())
        assert s.median == np.quantile(col, 0.5, method="inverted_cdf")
        ranks = [q.rank for q in s.quantiles]
        assert [q.value for q in s.quantiles] == list(np.quantile(col, ranks, method="inverted_cdf"))
        std = s.histogram(HistogramType.STANDARD)
        assert std is not None and len(std.buckets) == 10
        edges = np.linspace(col.min(), col.max(), 11)
        below = [int((col <= e).sum()) for e in edges[1:-1]]  # (low, high]: an edge value goes low
        expected = np.diff([0, *below, col.size])
        assert [b.sample_count for b in std.buckets] == [float(c) for c in expected]
        qh = s.histogram(HistogramType.QUANTILES)
        assert qh is not None and all(b.sample_count == col.size / 10 for b in qh.buckets)
        inner = np.quantile(col, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf")
        assert [b.high_value for b in qh.buckets[:-1]] == list(inner)
        assert f.type is (FeatureType.INT if name == "discrete" else FeatureType.FLOAT)
        assert not f.approximate


def test_string_and_bool_exact(frame: pd.DataFrame) -> None:
    stats = compute_statistics(frame)
    color = stats.get_feature("color")
    assert color.type is FeatureType.STRING
    s = color.string_stats
    assert s is not None and s.is_exact and not color.approximate
    expected = frame["color"].value_counts()
    assert s.unique == 4
    assert [(v.value, v.frequency) for v in s.top_values] == [(k, float(c)) for k, c in expected.items()]
    assert s.avg_length == pytest.approx(frame["color"].str.len().mean())
    city = stats.get_feature("city").string_stats
    assert city is not None and city.unique == frame["city"].nunique()
    assert len(city.rank_histogram) == min(1000, city.unique)
    flag = stats.get_feature("flag")
    assert flag.type is FeatureType.BOOL
    assert flag.string_stats is not None
    assert flag.string_stats.frequencies()["true"] == frame["flag"].sum()


def test_nulls_nan_inf_and_all_null_columns() -> None:
    table = pa.table(
        {
            "x": pa.array([1.0, None, math.nan, math.inf, -math.inf, 0.0, 3.0]),
            "empty": pa.nulls(7),
            "s": pa.array([None] * 7, type=pa.string()),
        }
    )
    stats = compute_statistics(table)
    x = stats.get_feature("x")
    assert (x.num_non_missing, x.num_missing) == (6, 1)
    s = x.num_stats
    assert s is not None
    assert (s.num_nan, s.num_pos_inf, s.num_neg_inf, s.num_zeros) == (1, 1, 1, 1)
    assert (s.min, s.max) == (-math.inf, math.inf)
    assert s.mean == pytest.approx(4 / 3) and s.std_dev == pytest.approx(np.std([1.0, 0.0, 3.0]))
    for name in ("empty", "s"):
        f = stats.get_feature(name)
        assert (f.num_non_missing, f.num_missing) == (0, 7)
    back = DatasetStatistics.from_json(stats.to_json())
    assert back.get_feature("x").num_stats.max == math.inf  # type: ignore[union-attr]
    assert back == stats


def test_merge_equals_single_pass_and_pickles(frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    whole = StatisticsAccumulator()
    whole.update(table)
    parts = [StatisticsAccumulator() for _ in range(3)]
    for i, batch in enumerate(table.to_batches(max_chunksize=3000)):
        parts[i % 3].update(batch)
    merged = pickle.loads(pickle.dumps(parts[0]))
    for p in parts[1:]:
        merged.merge(pickle.loads(pickle.dumps(p)))
    a, b = whole.result(), merged.result()
    assert a.num_examples == b.num_examples
    for fa, fb in zip(a.features, b.features, strict=True):
        assert (fa.num_non_missing, fa.num_missing) == (fb.num_non_missing, fb.num_missing)
        if fa.num_stats is not None:
            assert fb.num_stats is not None
            assert fa.num_stats.mean == pytest.approx(fb.num_stats.mean, rel=1e-12)
            assert fa.num_stats.std_dev == pytest.approx(fb.num_stats.std_dev, rel=1e-9)
        else:
            assert fa.string_stats == fb.string_stats


def test_flushing_after_each_batch_changes_no_exact_figure(frame: pd.DataFrame) -> None:
    # batch scoring flushes in its writer thread after every batch; below the distinct cap the
    # summaries are exact either way, so every figure (quantiles and histograms too) is the same
    table = pa.Table.from_pandas(frame, preserve_index=False)
    lazy, eager = StatisticsAccumulator(), StatisticsAccumulator()
    for batch in table.to_batches(max_chunksize=3000):
        lazy.update(batch)
        eager.update(batch)
        eager.flush()
    assert eager.result() == lazy.result()


def test_high_cardinality_switches_to_sketches(monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.data import _categorical

    monkeypatch.setattr(_categorical, "EXACT_DISTINCT_CAP", 100_000)
    monkeypatch.setattr(_categorical, "COMPACT_ROWS", 50_000)
    n = 120_000
    values = np.char.add("id", np.arange(n).astype(str))
    values[:5000] = "hot"
    stats = compute_statistics(pa.table({"id": values}))
    f = stats.get_feature("id")
    s = f.string_stats
    assert s is not None and not s.is_exact and f.approximate
    true_unique = n - 5000 + 1
    assert abs(s.unique - true_unique) <= 0.05 * true_unique  # 3 standard errors of HLL lg_k=12
    assert s.top_values[0].value == "hot"
    assert abs(s.top_values[0].frequency - 5000) <= 0.001 * n


def test_partitioned_parquet_and_csv_files_with_process_pool(tmp_path: Path, frame: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "part", pa.array(np.array(["a", "b", "c"])[np.arange(len(frame)) % 3])
    )
    ds.write_dataset(
        table,
        tmp_path / "hive",
        format="parquet",
        partitioning=["part"],
        partitioning_flavor="hive",
        max_rows_per_group=4000,
    )
    local = compute_statistics(tmp_path / "hive", max_workers=2)
    single = compute_statistics(tmp_path / "hive", max_workers=1)
    assert local.num_examples == single.num_examples == len(frame)
    part = local.get_feature("part").string_stats
    assert part is not None and part.unique == 3
    for fa, fb in zip(local.features, single.features, strict=True):
        if fa.num_stats is not None and fb.num_stats is not None:
            assert fa.num_stats.mean == pytest.approx(fb.num_stats.mean, rel=1e-12)
            assert (fa.num_stats.min, fa.num_stats.max) == (fb.num_stats.min, fb.num_stats.max)
        else:
            assert fa.string_stats == fb.string_stats
    for i in range(2):
        frame.iloc[i::2].to_csv(tmp_path / f"part{i}.csv", index=False)
    csv = compute_statistics([tmp_path / "part0.csv", tmp_path / "part1.csv"], max_workers=2)
    assert csv.num_examples == len(frame)
    assert csv.get_feature("normal").num_stats.mean == pytest.approx(frame["normal"].mean())  # type: ignore[union-attr]
    pq.write_table(table, tmp_path / "one.parquet", row_group_size=5000)
    assert compute_statistics(tmp_path / "one.parquet").num_examples == len(frame)


def test_many_columns() -> None:
    table = pa.table({f"c{i}": pa.array([i, i + 1, None]) for i in range(10_000)})
    stats = compute_statistics(table)
    assert len(stats.features) == 10_000
    assert stats.get_feature("c9999").num_stats.max == 10_000  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "empty"),
        (b"a,b\n1,x\n2,y,z\n", "Expected 2 columns"),
        (b"a,b\n1,x\n2,\xff\xfe\n", "line 3"),
    ],
)
def test_bad_csv_names_file_and_reason(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=words) as info:
        compute_statistics(path)
    assert "bad.csv" in str(info.value)


def test_mixed_types_after_first_block_widen_to_string(tmp_path: Path) -> None:
    # a valid CSV: the column is text once a non-number appears after the first block
    path = tmp_path / "mixed.csv"
    path.write_text("a\n" + "1\n" * 1_200_000 + "oops\n")
    a = compute_statistics(path).get_feature("a")
    assert a.type is FeatureType.STRING and a.string_stats is not None
    assert a.string_stats.frequencies() == {"1": 1_200_000.0, "oops": 1.0}


def test_unknown_engine_and_input() -> None:
    with pytest.raises(InvalidInput, match="engine must be one of"):
        compute_statistics(pa.table({"x": [1]}), engine="spark")
    with pytest.raises(InvalidInput, match="Cannot read data of type int"):
        compute_statistics(3)
    with pytest.raises(InvalidInput, match="No such file"):
        compute_statistics("/nonexistent/x.csv")


def test_frame_helper_is_deterministic() -> None:
    assert make_frame(10, seed=3).equals(make_frame(10, seed=3))


def test_outer_quantiles_and_quantile_histogram_edges_are_the_true_min_and_max() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(10, 1.5, 2_000_000)  # long right tail: a compacted sketch drops the max
    values[123_456] = 5e9
    s = compute_statistics(pa.table({"x": values})).get_feature("x").num_stats
    assert s is not None
    assert (s.quantiles[0].rank, s.quantiles[0].value) == (0.0, values.min())
    assert (s.quantiles[-1].rank, s.quantiles[-1].value) == (1.0, 5e9) and s.max == 5e9
    hist = s.histogram(HistogramType.QUANTILES)
    assert (
        hist is not None and hist.buckets[0].low_value == values.min() and hist.buckets[-1].high_value == 5e9
    )


@pytest.mark.parametrize("seed", range(3))
def test_all_finite_batches_give_the_figures_of_the_masked_path(seed: int) -> None:
    # a batch whose sum is finite skips the NaN/inf masks; one NaN more takes them: same figures
    from loopml.data._numeric import NumericAccumulator

    rng = np.random.default_rng(seed)
    finite, masked = NumericAccumulator(), NumericAccumulator()
    for _ in range(3):
        values = rng.normal(size=5_000) * 10.0 ** float(rng.integers(-8, 8))
        values[:50] = 0.0
        values[50:60] = -0.0
        finite.update(pa.array(values))
        masked.update(pa.array(np.append(values, np.nan)))
    a, b = finite.result(), masked.result()
    assert (a.num_nan, b.num_nan) == (0, 3)
    for field in ("mean", "std_dev", "min", "max", "median", "quantiles", "num_zeros", "sketch"):
        assert getattr(a, field) == getattr(b, field), field
    assert a.histograms[0].buckets == b.histograms[0].buckets
