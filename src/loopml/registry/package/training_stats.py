"""``training_stats.json``: per-feature statistics of the training sample, carried by the package.

Written at packaging time from the ``sample`` rows (so it is covered by ``checksums.json`` and the
signature) and read by the inference data plane to score requests for atypical inputs. Small on
purpose: per numeric column min, max, mean, standard deviation and the 1% / 99% quantiles; per
string or boolean column its distinct values (at most :data:`MAX_CATEGORIES`, else none are kept
and unseen categories are not judged).

Example::

    {"rows": 200, "columns": {"age": {"kind": "numeric", "min": 18, "max": 79, "mean": 48.1,
     "std": 17.2, "q01": 18.0, "q99": 79.0}, "city": {"kind": "categorical",
     "values": ["lyon", "nice", "paris"]}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loopml.errors import InvalidInput

__all__ = [
    "MAX_CATEGORIES",
    "TRAINING_STATS_FILE",
    "compute_training_stats",
    "read_training_stats",
    "write_training_stats",
]

TRAINING_STATS_FILE = "training_stats.json"
#: A string column with more distinct values than this keeps none (free text, ids).
MAX_CATEGORIES = 1000


def _columns(sample: Any) -> dict[str, np.ndarray]:
    import pandas as pd

    if isinstance(sample, pd.DataFrame):
        return {str(c): sample[c].to_numpy() for c in sample.columns}
    if hasattr(sample, "to_pandas"):  # Arrow tables
        return _columns(sample.to_pandas())
    matrix = np.asarray(sample)
    if matrix.ndim != 2:
        raise InvalidInput(f"Training statistics need 2-D sample rows; got shape {matrix.shape}.")
    return {f"c{i}": matrix[:, i] for i in range(matrix.shape[1])}


def _numeric(values: np.ndarray) -> dict[str, Any] | None:
    data = values.astype(np.float64)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return None
    q01, q99 = np.quantile(data, [0.01, 0.99])
    return {
        "kind": "numeric",
        "min": float(data.min()),
        "max": float(data.max()),
        "mean": float(data.mean()),
        "std": float(data.std()),
        "q01": float(q01),
        "q99": float(q99),
    }


def compute_training_stats(sample: Any, names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The statistics of ``sample`` (DataFrame, Arrow table or 2-D array), JSON-ready.

    Args:
        sample: The training rows.
        names: Column names for a matrix sample (its signature's input names).
    """
    columns = _columns(sample)
    if names is not None and len(names) == len(columns) and all(k.startswith("c") for k in columns):
        columns = dict(zip(names, columns.values(), strict=True))
    stats: dict[str, Any] = {}
    for name, values in columns.items():
        if values.dtype.kind in "iuf":
            numeric = _numeric(values)
            if numeric is not None:
                stats[name] = numeric
        elif values.dtype.kind in "bOSU":
            present = [v for v in values.tolist() if v is not None and v == v]
            distinct = sorted({str(v) for v in present})
            if distinct and len(distinct) <= MAX_CATEGORIES:
                stats[name] = {"kind": "categorical", "values": distinct}
    rows = len(next(iter(columns.values()))) if columns else 0
    return {"rows": rows, "columns": stats}


def write_training_stats(folder: Path, stats: Mapping[str, Any]) -> None:
    """Write ``stats`` as the package's ``training_stats.json`` (inside a folder being built)."""
    (folder / TRAINING_STATS_FILE).write_text(json.dumps(stats, sort_keys=True), encoding="utf-8")


def read_training_stats(folder: Path) -> dict[str, Any] | None:
    """The package's training statistics, or None when it carries none.

    Raises:
        InvalidInput: the file is not the expected JSON.
    """
    path = folder / TRAINING_STATS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise InvalidInput(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise InvalidInput(f"{path} must be an object with a 'columns' mapping.")
    return data
