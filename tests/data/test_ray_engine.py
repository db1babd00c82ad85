"""The ray engine gives the same statistics as the local one on a partitioned dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from loopml.data import compute_statistics
from tests.data.conftest import make_frame

pytestmark = pytest.mark.ray


def test_ray_matches_local(ray_cluster: None, tmp_path: Path) -> None:
    frame = make_frame(30_000, seed=5)
    table = pa.Table.from_pandas(frame, preserve_index=False).append_column(
        "part", pa.array(np.array(["a", "b", "c"])[np.arange(len(frame)) % 3])
    )
    ds.write_dataset(
        table,
        tmp_path,
        format="parquet",
        partitioning=["part"],
        partitioning_flavor="hive",
        max_rows_per_group=5000,
        existing_data_behavior="overwrite_or_ignore",
    )
    local = compute_statistics(tmp_path, engine="local", max_workers=2)
    on_ray = compute_statistics(tmp_path, engine="ray")
    assert on_ray.num_examples == local.num_examples == len(frame)
    for a, b in zip(local.features, on_ray.features, strict=True):
        assert (a.name, a.type, a.num_non_missing, a.num_missing) == (
            b.name,
            b.type,
            b.num_non_missing,
            b.num_missing,
        )
        if a.num_stats is not None and b.num_stats is not None:
            assert a.num_stats.mean == pytest.approx(b.num_stats.mean, rel=1e-12)
            assert a.num_stats.std_dev == pytest.approx(b.num_stats.std_dev, rel=1e-9)
            assert (a.num_stats.min, a.num_stats.max) == (b.num_stats.min, b.num_stats.max)
            assert a.num_stats.median == pytest.approx(b.num_stats.median, abs=0.05 * a.num_stats.std_dev)
        else:
            assert a.string_stats == b.string_stats


def test_ray_gives_the_same_bytes_as_local(ray_cluster: None, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    paths = []
    for i in range(3):
        path = tmp_path / f"part{i}.parquet"
        table = pa.table({"x": rng.lognormal(size=50_000), "k": rng.integers(0, 50, 50_000)})
        pq.write_table(table, path, row_group_size=20_000)
        paths.append(path)
    local = compute_statistics(paths, engine="local", max_workers=1)
    assert local.get_feature("x").approximate  # past 100,000 distinct: the compactor path
    assert compute_statistics(paths, engine="ray").to_json() == local.to_json()
    assert compute_statistics(paths, engine="ray", max_workers=1).to_json() == local.to_json()
