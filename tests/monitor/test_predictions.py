"""The prediction-log format: typed columns, partitioned Parquet written atomically, read in time order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from loopml.errors import InvalidInput, NotFound
from loopml.monitor import BASE_SCHEMA, prediction_table, read_prediction_log, write_prediction_table


def _table(model: str, times: list[str], *, extra: bool = False) -> pa.Table:
    n = len(times)
    inputs = {"age": np.arange(n, dtype=np.int64), "city": np.array(["nice"] * n, dtype=object)}
    if extra:
        inputs["income"] = np.ones(n)
    return prediction_table(
        request_ids=np.array([f"r{i}" for i in range(n)], dtype=object),
        rows=np.zeros(n, dtype=np.int32),
        model=model,
        version="2",
        times=np.array(times, dtype="datetime64[ms]"),
        protocols=np.array(["v2"] * n, dtype=object),
        principals=np.array([None] * n, dtype=object),
        latency_ms=np.full(n, 1.5),
        inputs=inputs,
        outputs={"predict": np.array(["yes"] * n, dtype=object), "predict_proba": np.full((n, 2), 0.5)},
    )


def test_typed_columns_by_model_and_hour(tmp_path: Path) -> None:
    table = _table("a", ["2026-01-02T10:59", "2026-01-02T11:01"])
    assert table.schema.names[: len(BASE_SCHEMA)] == BASE_SCHEMA.names
    assert table.schema.field("in.age").type == pa.int64()
    assert table.schema.field("out.predict_proba").type == pa.list_(pa.float64())
    files = write_prediction_table(tmp_path, table)
    write_prediction_table(tmp_path, _table("b", ["2026-01-02T10:00"], extra=True))
    assert sorted(str(f.parent.relative_to(tmp_path)) for f in files) == [
        "model=a/hour=2026-01-02T10",
        "model=a/hour=2026-01-02T11",
    ]
    assert not list(tmp_path.rglob("*.tmp"))
    back = read_prediction_log(tmp_path, model="a")
    assert back.column("request_id").to_pylist() == ["r0", "r1"]
    assert back.column("out.predict_proba").to_pylist() == [[0.5, 0.5], [0.5, 0.5]]
    both = read_prediction_log(tmp_path)
    assert both.num_rows == 3 and both.column("in.income").null_count == 2
    since = dt.datetime(2026, 1, 2, 11, tzinfo=dt.UTC)
    assert read_prediction_log(tmp_path, since=since).column("request_id").to_pylist() == ["r1"]
    assert read_prediction_log(tmp_path, model="zzz").num_rows == 0


def test_bad_tables_and_missing_log(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without '/'"):
        _table("a/b", ["2026-01-01T00:00"])
    with pytest.raises(NotFound):
        read_prediction_log(tmp_path / "none")
