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
        request_ids=[f"r{i}" for i in range(n)],
        model=model,
        version="2",
        times=np.array(times, dtype="datetime64[ms]"),
        protocols=["v2"] * n,
        principals=[None] * n,
        latency_ms=[1.5] * n,
        sizes=[1] * n,
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


def test_rows_of_a_request_share_its_metadata() -> None:
    table = prediction_table(
        model="m",
        version="1",
        request_ids=["a", "b"],
        times=np.array(["2026-01-01T00:00", "2026-01-01T00:01"], dtype="datetime64[ms]"),
        protocols=["v2", "mlflow"],
        principals=["ana", None],
        latency_ms=[1.0, 2.0],
        sizes=[2, 3],
        inputs={"x": np.arange(5.0)},
        outputs={"predict": np.arange(5)},
    )
    assert table.column("request_id").to_pylist() == ["a", "a", "b", "b", "b"]
    assert table.column("row").to_pylist() == [0, 1, 0, 1, 2]
    assert table.column("principal").to_pylist() == ["ana", "ana", None, None, None]
    assert table.column("flags").to_pylist() == [[]] * 5
    with pytest.raises(InvalidInput, match="must all hold 5 rows"):
        prediction_table(
            model="m", version="1", request_ids=["a"], times=np.array(["2026-01-01"], dtype="datetime64[ms]"),
            protocols=["v2"], principals=[None], latency_ms=[1.0], sizes=[5],
            inputs={"x": np.arange(4.0)}, outputs={},
        )  # fmt: skip


def test_bad_tables_and_missing_log(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="without '/'"):
        _table("a/b", ["2026-01-01T00:00"])
    with pytest.raises(NotFound):
        read_prediction_log(tmp_path / "none")
