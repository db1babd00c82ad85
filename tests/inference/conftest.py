"""Batch-scoring fixtures: the serving session's registry (signed, blessed packages) and partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.serving.conftest import NUMERIC_COLUMNS, Models, models

__all__ = ["Models", "models", "write_partitions"]


def write_partitions(root: Path, x: np.ndarray, *, parts: int = 2, bad_rows: tuple[int, ...] = ()) -> Path:
    """``x`` as ``parts`` Parquet files under ``root/year=N/`` plus ``id``; ``bad_rows`` hold inf."""
    x = x.copy()
    for row in bad_rows:
        x[row, 0] = np.inf
    for i, chunk in enumerate(np.array_split(np.arange(len(x)), parts)):
        table = pa.table({n: x[chunk, j] for j, n in enumerate(NUMERIC_COLUMNS)} | {"id": chunk})
        (root / f"year={2015 + i}").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / f"year={2015 + i}" / "part-0.parquet")
    return root


@pytest.fixture
def numeric_input(tmp_path: Path, models: Models) -> Path:
    return write_partitions(tmp_path / "in", models.numeric_x, bad_rows=(7, 150))
